package sync

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	stdsync "sync"
	"time"
)

// Timestamp is a hybrid logical clock reading: 48 bits of Unix milliseconds,
// a 16-bit counter for events within the same millisecond, and the device
// that made it, which breaks ties.
type Timestamp struct {
	Wall    uint64 // Unix milliseconds, at most 48 bits
	Logical uint16
	Device  string
}

const maxWall = 1<<48 - 1

// Compare orders timestamps: wall time, then counter, then device id.
// It returns -1, 0 or +1.
func (t Timestamp) Compare(o Timestamp) int {
	switch {
	case t.Wall != o.Wall:
		return cmp(t.Wall < o.Wall)
	case t.Logical != o.Logical:
		return cmp(t.Logical < o.Logical)
	case t.Device != o.Device:
		return cmp(t.Device < o.Device)
	}
	return 0
}

func cmp(less bool) int {
	if less {
		return -1
	}
	return 1
}

// String encodes the timestamp so that string order equals Compare order:
// 12 hex digits of wall time, 4 of counter, then the device id.
func (t Timestamp) String() string {
	return fmt.Sprintf("%012x-%04x-%s", t.Wall, t.Logical, t.Device)
}

// ErrBadTimestamp means a string is not a timestamp.
var ErrBadTimestamp = errors.New("sync: malformed timestamp")

// ParseTimestamp reads what String wrote.
func ParseTimestamp(s string) (Timestamp, error) {
	w, rest, ok1 := strings.Cut(s, "-")
	l, dev, ok2 := strings.Cut(rest, "-")
	if !ok1 || !ok2 || len(w) != 12 || len(l) != 4 || dev == "" {
		return Timestamp{}, fmt.Errorf("%q: %w", s, ErrBadTimestamp)
	}
	wall, err1 := strconv.ParseUint(w, 16, 64)
	logical, err2 := strconv.ParseUint(l, 16, 16)
	if err1 != nil || err2 != nil {
		return Timestamp{}, fmt.Errorf("%q: %w", s, ErrBadTimestamp)
	}
	return Timestamp{Wall: wall, Logical: uint16(logical), Device: dev}, nil
}

// ClockAheadError refuses a remote timestamp from a device whose clock runs
// too far ahead of this one. The local clock is not moved.
type ClockAheadError struct {
	Device string
	Ahead  time.Duration
}

func (e *ClockAheadError) Error() string {
	return fmt.Sprintf("sync: the clock of device %s runs %s ahead of this computer's; fix that device's date and time", e.Device, e.Ahead.Round(time.Second))
}

// MaxClockAhead is how far ahead a peer's clock may run before its changes
// are held back.
const MaxClockAhead = 5 * time.Minute

// Clock is one device's hybrid logical clock. It is safe for concurrent use.
type Clock struct {
	mu     stdsync.Mutex
	now    func() time.Time
	device string
	last   Timestamp
}

// NewClock returns the clock of device, reading wall time from now.
// last is the newest timestamp the device has issued or observed before
// (from its change log), so that a restart never goes back in time.
func NewClock(device string, now func() time.Time, last Timestamp) *Clock {
	return &Clock{now: now, device: device, last: Timestamp{Wall: last.Wall, Logical: last.Logical, Device: device}}
}

func (c *Clock) physical() uint64 {
	ms := c.now().UnixMilli()
	if ms < 0 {
		return 0
	}
	return min(uint64(ms), maxWall)
}

// tick sets last to (wall, logical+1), spilling into the next
// millisecond when the counter is full.
func (c *Clock) tick(wall uint64, logical uint16) Timestamp {
	if logical == 0xffff {
		wall, logical = wall+1, 0
	} else {
		logical++
	}
	c.last = Timestamp{Wall: wall, Logical: logical, Device: c.device}
	return c.last
}

// Now returns a timestamp for a local event, later than every timestamp
// this clock issued or observed before.
func (c *Clock) Now() Timestamp {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.physical(); p > c.last.Wall {
		c.last = Timestamp{Wall: p, Device: c.device}
		return c.last
	}
	return c.tick(c.last.Wall, c.last.Logical)
}

// Observe merges a timestamp received from a peer, so that the next local
// event orders after it. A timestamp more than MaxClockAhead ahead of the
// wall clock is refused with *ClockAheadError and leaves the clock as it was.
func (c *Clock) Observe(remote Timestamp) (Timestamp, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.physical()
	if remote.Wall > p && time.Duration(remote.Wall-p)*time.Millisecond > MaxClockAhead {
		return c.last, &ClockAheadError{Device: remote.Device, Ahead: time.Duration(remote.Wall-p) * time.Millisecond}
	}
	if p > c.last.Wall && p > remote.Wall {
		c.last = Timestamp{Wall: p, Device: c.device}
		return c.last, nil
	}
	switch {
	case remote.Wall > c.last.Wall:
		return c.tick(remote.Wall, remote.Logical), nil
	case remote.Wall == c.last.Wall:
		return c.tick(c.last.Wall, max(c.last.Logical, remote.Logical)), nil
	}
	return c.tick(c.last.Wall, c.last.Logical), nil
}

// Witness moves the clock past a timestamp this device itself wrote (read
// back from its own databases, perhaps by another process of the same
// machine). Unlike Observe it trusts the timestamp, however far ahead.
func (c *Clock) Witness(ts Timestamp) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ts.Compare(c.last) > 0 {
		c.last = Timestamp{Wall: ts.Wall, Logical: ts.Logical, Device: c.device}
	}
}
