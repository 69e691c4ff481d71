package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// Holding each computer's audit log to what the others saw of it: the
// witness files (every computer's view of every log's newest entry), the
// heads each batch states, and the problems found, kept until resolved.

// publishWitness writes the heads this computer holds, when they changed.
// s.mu held.
func (s *Session) publishWitness(ctx context.Context, f cvsync.Transport, p *placeState) error {
	heads, err := s.auditHeads(ctx)
	if err != nil || len(heads) == 0 {
		return err
	}
	body, err := json.Marshal(heads)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	// Each place gets it (the folder's setting keeps its old name).
	setting := settingWitnessSum
	if !strings.HasPrefix(p.key, "folder:") {
		setting += ":" + p.key
	}
	last, err := readSetting(ctx, s.general, setting)
	if err != nil {
		return err
	}
	if last == hex.EncodeToString(sum[:]) {
		return nil
	}
	data, err := s.sealAudit(ctx, 0, 0, body)
	if err != nil {
		return err
	}
	if err := f.Replace("witness/"+s.device, data); err != nil {
		return err
	}
	return setSettingDB(ctx, s.general, setting, hex.EncodeToString(sum[:]))
}

// receiveWitness reads the other computers' witness files and checks this
// computer's own log against what they saw of it. s.mu held.
func (s *Session) receiveWitness(ctx context.Context, f cvsync.Transport, rep *SyncReport) error {
	names, err := f.List("witness")
	if err != nil {
		return nil
	}
	for _, w := range names {
		w = strings.ToLower(w) // a computer's id, whatever case a tool gave its file
		if w == s.device {
			continue
		}
		data, err := f.Read("witness/" + w)
		if err != nil {
			continue
		}
		_, body, err := s.openAudit(ctx, w, data)
		if err != nil {
			continue
		}
		var heads map[string]auditHead
		if json.Unmarshal(body, &heads) != nil {
			continue
		}
		for dev, h := range heads {
			if dev == s.device {
				// What another computer says of this computer's log counts
				// only where this computer published that very entry
				// (signed with its own key): a witness cannot accuse an
				// honest log of entries it never had.
				stored, err := scalarOr[[]byte](ctx, s.general, nil, `SELECT hash FROM audit_witness WHERE witness = ? AND device = ? AND seq = ?`, w, dev, h.Seq)
				if err != nil {
					return err
				}
				if !bytes.Equal(stored, h.Hash) && !s.publishedEntry(ctx, f, h.Seq, h.Hash) {
					continue
				}
			}
			if dev != s.device {
				// What this witness says of a log must be what this
				// computer received of it, where it holds that entry.
				hash, err := scalar[[]byte](ctx, s.general, `SELECT hash FROM audit_remote WHERE device = ? AND seq = ?`, dev, h.Seq)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return err
				}
				if err == nil && !bytes.Equal(hash, h.Hash) {
					p := AuditProblem{Device: dev, Kind: AuditRewritten, From: h.Seq, To: h.Seq, Witness: s.device}
					s.noteAuditProblem(ctx, p)
					rep.note(ProblemAudit, "audit: %s", s.describeAuditProblem(ctx, p))
				}
			}
			if _, err := s.general.ExecContext(ctx, `INSERT INTO audit_witness (witness, device, seq, hash, at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT(witness, device) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, at = excluded.at WHERE excluded.seq >= audit_witness.seq`,
				w, dev, h.Seq, h.Hash, s.v.now().Unix()); err != nil {
				return err
			}
		}
	}
	problems, err := s.checkOwnAgainstWitnesses(ctx)
	if err != nil {
		return err
	}
	for _, p := range problems {
		// Where this log first parts from what it published: the
		// entries from there on are the ones the others saw and this
		// log no longer holds.
		if from := s.firstDivergence(ctx, f, p.To); from > 0 && from < p.From {
			p.From = from
		}
		s.noteAuditProblem(ctx, p)
		rep.note(ProblemAudit, "audit: %s", s.describeAuditProblem(ctx, p))
	}
	return nil
}

// firstDivergence reads this computer's published audit files and
// returns the first entry, up to upTo, that its log no longer holds as
// published (0: none found).
func (s *Session) firstDivergence(ctx context.Context, f cvsync.Transport, upTo int64) int64 {
	names, err := f.List("audit/" + s.device)
	if err != nil {
		return 0
	}
	sort.Strings(names) // zero-padded first entries: in order
	for _, n := range names {
		data, err := f.Read("audit/" + s.device + "/" + n)
		if err != nil {
			continue
		}
		_, body, err := s.openAudit(ctx, s.device, data)
		if err != nil {
			continue
		}
		var entries []store.AuditEntry
		if json.Unmarshal(body, &entries) != nil {
			continue
		}
		for _, e := range entries {
			if e.Seq > upTo {
				return 0
			}
			// Unreadable counts as parted: this only widens the range an
			// alarm already raised names.
			if hash, err := scalar[[]byte](ctx, s.general, `SELECT hash FROM audit WHERE seq = ?`, e.Seq); err != nil || !bytes.Equal(hash, e.Hash) {
				return e.Seq
			}
		}
	}
	return 0
}

// publishedEntry reports whether this computer published, in a file of
// its own in the folder, entry seq with hash.
func (s *Session) publishedEntry(ctx context.Context, f cvsync.Transport, seq int64, hash []byte) bool {
	names, err := f.List("audit/" + s.device)
	if err != nil {
		return false
	}
	for _, n := range names {
		from, to, ok := auditNameRange(n)
		if !ok || seq < from || seq > to {
			continue
		}
		data, err := f.Read("audit/" + s.device + "/" + n)
		if err != nil {
			continue
		}
		a, body, err := s.openAudit(ctx, s.device, data)
		if err != nil || a.From != from || a.To != to {
			continue
		}
		var entries []store.AuditEntry
		if json.Unmarshal(body, &entries) != nil {
			continue
		}
		for _, e := range entries {
			if e.Seq == seq && bytes.Equal(e.Hash, hash) {
				return true
			}
		}
	}
	return false
}

// checkOwnAgainstWitnesses compares this computer's log with the newest
// head of it each other computer saw.
func (s *Session) checkOwnAgainstWitnesses(ctx context.Context) ([]AuditProblem, error) {
	type seen struct {
		witness string
		seq     int64
		hash    []byte
	}
	all, err := queryAll(ctx, s.general, func(r row) (x seen, err error) {
		err = r.Scan(&x.witness, &x.seq, &x.hash)
		return x, err
	}, `SELECT witness, seq, hash FROM audit_witness WHERE device = ?`, s.device)
	if err != nil {
		return nil, err
	}
	var out []AuditProblem
	for _, x := range all {
		var hash []byte
		err := s.general.QueryRowContext(ctx, `SELECT hash FROM audit WHERE seq = ?`, x.seq).Scan(&hash)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			// Missing from where the log was cut to what the witness saw.
			have, err := scalar[int64](ctx, s.general, `SELECT coalesce(max(seq), 0) FROM audit WHERE seq < ?`, x.seq)
			if err != nil {
				return nil, err
			}
			out = append(out, AuditProblem{Device: s.device, This: true, Kind: AuditTruncated, From: have + 1, To: x.seq, Witness: x.witness})
		case err != nil:
			return nil, err
		case !bytes.Equal(hash, x.hash):
			out = append(out, AuditProblem{Device: s.device, This: true, Kind: AuditRewritten, From: x.seq, To: x.seq, Witness: x.witness})
		}
	}
	return out, nil
}

// noteAuditProblem records p (one per computer and kind, widened to the
// newest range).
func (s *Session) noteAuditProblem(ctx context.Context, p AuditProblem) error {
	_, err := s.general.ExecContext(ctx, `INSERT INTO audit_problems (device, kind, from_seq, to_seq, witness, at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT(device, kind) DO UPDATE SET from_seq = min(from_seq, excluded.from_seq), to_seq = max(to_seq, excluded.to_seq), witness = excluded.witness, at = excluded.at`,
		p.Device, string(p.Kind), p.From, p.To, p.Witness, s.v.now().Unix())
	return err
}

// describeAuditProblem names the computers of p.
func (s *Session) describeAuditProblem(ctx context.Context, p AuditProblem) string {
	p = s.nameAuditProblem(ctx, p)
	return p.String()
}

func (s *Session) nameAuditProblem(ctx context.Context, p AuditProblem) AuditProblem {
	p.This = p.Device == s.device
	p.Computer = s.deviceName(ctx, p.Device)
	if w := s.deviceName(ctx, p.Witness); w != p.Witness {
		p.Witness = "computer “" + w + "”"
	}
	return p
}

func (s *Session) deviceName(ctx context.Context, id string) string {
	// Only for words: an unreadable name shows the id.
	if name, err := scalar[string](ctx, s.general, `SELECT name FROM devices WHERE id = ?`, id); err == nil && name != "" {
		return name
	}
	return id
}

// AuditProblems lists the audit logs that do not match what another
// computer saw of them, as far as this computer knows.
func (s *Session) AuditProblems(ctx context.Context) ([]AuditProblem, error) {
	if err := s.require(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked {
		return nil, ErrLocked
	}
	return s.auditProblemsHeld(ctx)
}

func (s *Session) auditProblemsHeld(ctx context.Context) ([]AuditProblem, error) {
	// This computer's own log is checked afresh (someone with the key may
	// have deleted the rows that recorded its problem).
	out, err := s.checkOwnAgainstWitnesses(ctx)
	if err != nil {
		return nil, err
	}
	held, err := queryAll(ctx, s.general, func(r row) (p AuditProblem, err error) {
		err = r.Scan(&p.Device, &p.Kind, &p.From, &p.To, &p.Witness)
		return p, err
	}, `SELECT device, kind, from_seq, to_seq, witness FROM audit_problems ORDER BY device, kind`)
	if err != nil {
		return nil, err
	}
	for _, p := range held {
		if p.Device == s.device && p.Witness != "the sync folder" {
			// Checked afresh above; the pass that found it knew where
			// the log first parted from what it published.
			for i := range out {
				if out[i].Kind == p.Kind && out[i].Witness == p.Witness && p.From < out[i].From {
					out[i].From = p.From
				}
			}
			continue
		}
		out = append(out, p)
	}
	for i := range out {
		out[i] = s.nameAuditProblem(ctx, out[i])
	}
	return out, nil
}

// AuditWitnessed reports whether any other computer has seen this
// computer's audit log yet (until then, only this computer's own chain
// speaks for it).
func (s *Session) AuditWitnessed(ctx context.Context) bool {
	if s.require() != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked {
		return false
	}
	// Unreadable says "not yet", which the Security Center flags.
	n, err := scalar[int](ctx, s.general, `SELECT count(*) FROM audit_witness WHERE device = ?`, s.device)
	return err == nil && n > 0
}

// mergeAuditHead takes a computer's audit head from a batch: kept when it
// is ahead of the one held; the same number with another hash is a
// rewritten log, noted.
func (s *Session) mergeAuditHead(ctx context.Context, tx querier, r cvsync.Record) error {
	sv, hv := r.Columns["seq"], r.Columns["hash"]
	if sv == nil || hv == nil {
		return nil
	}
	seq, err := strconv.ParseInt(*sv, 10, 64)
	if err != nil {
		return fmt.Errorf("audit_heads.seq: not a number")
	}
	hash, err := base64.StdEncoding.DecodeString(*hv)
	if err != nil {
		return fmt.Errorf("audit_heads.hash: not base64")
	}
	var have int64
	var haveHash []byte
	err = tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_heads WHERE id = ?`, r.RowID).Scan(&have, &haveHash)
	switch {
	case errors.Is(err, sql.ErrNoRows) || (err == nil && seq > have):
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_heads (id, seq, hash) VALUES (?, ?, ?)
			ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`, r.RowID, seq, hash); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO audit_head_seen (device, seq, at) VALUES (?, ?, ?)`, r.RowID, seq, s.v.now().Unix())
		return err
	case err != nil:
		return err
	case seq == have && !bytes.Equal(hash, haveHash):
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_problems (device, kind, from_seq, to_seq, witness, at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT(device, kind) DO UPDATE SET from_seq = min(from_seq, excluded.from_seq), to_seq = max(to_seq, excluded.to_seq), at = excluded.at`,
			r.RowID, string(AuditRewritten), seq, seq, s.device, s.v.now().Unix())
		return err
	}
	return nil
}

// headWait is how long entries a computer says it has may take to reach
// this one before they count as held back.
const headWait = 2 * time.Minute

// checkHeads holds each other computer to the audit head its batches
// stated: the entries this computer received must match it, and reach
// it within headWait. s.mu held.
func (s *Session) checkHeads(ctx context.Context, rep *SyncReport) error {
	type head struct {
		dev  string
		seq  int64
		hash []byte
	}
	heads, err := queryAll(ctx, s.general, func(r row) (h head, err error) {
		err = r.Scan(&h.dev, &h.seq, &h.hash)
		return h, err
	}, `SELECT h.id, h.seq, h.hash FROM audit_heads h LEFT JOIN devices d ON d.id = h.id
		WHERE h.id != ? AND d.revoked_at IS NULL`, s.device)
	if err != nil {
		return err
	}
	for _, h := range heads {
		var got []byte
		err := s.general.QueryRowContext(ctx, `SELECT hash FROM audit_remote WHERE device = ? AND seq = ?`, h.dev, h.seq).Scan(&got)
		var p *AuditProblem
		switch {
		case err == nil && !bytes.Equal(got, h.hash):
			p = &AuditProblem{Device: h.dev, Kind: AuditRewritten, From: h.seq, To: h.seq, Witness: s.device}
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return err
		case errors.Is(err, sql.ErrNoRows):
			since, err := scalarOr[int64](ctx, s.general, 0, `SELECT at FROM audit_head_seen WHERE device = ? AND seq = ?`, h.dev, h.seq)
			if err != nil {
				return err
			}
			if since == 0 || s.v.now().Sub(time.Unix(since, 0)) < headWait {
				continue // on its way
			}
			have, err := scalar[int64](ctx, s.general, `SELECT coalesce(max(seq), 0) FROM audit_remote WHERE device = ?`, h.dev)
			if err != nil {
				return err
			}
			p = &AuditProblem{Device: h.dev, Kind: AuditWithheld, From: have + 1, To: h.seq, Witness: s.device}
		}
		if p != nil {
			if err := s.noteAuditProblem(ctx, *p); err != nil {
				return err
			}
			rep.note(ProblemAudit, "audit: %s", s.describeAuditProblem(ctx, *p))
		}
	}
	return nil
}
