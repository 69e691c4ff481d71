package app

import (
	"context"
	"database/sql"
	"errors"
)

// Test hooks: reads the tests make often, where an error fails the test.

// currentEpoch is epochNow for tests, which read it often and treat a
// read error as a failure of the test.
func (s *Session) currentEpoch(ctx context.Context) uint32 {
	e, err := s.epochNow(ctx)
	if err != nil {
		panic("epochNow: " + err.Error())
	}
	return e
}

// lastReceived is the last batch taken from a device's log, for tests.
func (s *Session) lastReceived(ctx context.Context, device string) (uint64, []byte) {
	var seq int64
	var hash []byte
	if err := s.general.QueryRowContext(ctx, `SELECT seq, hash FROM sync_received WHERE device = ? ORDER BY seq DESC LIMIT 1`, device).Scan(&seq, &hash); err != nil && !errors.Is(err, sql.ErrNoRows) {
		panic("lastReceived: " + err.Error())
	}
	return uint64(seq), hash
}
