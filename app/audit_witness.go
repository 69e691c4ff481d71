package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// The witnessed audit trail. Each computer's audit log is a hash chain in
// its own general.db, which everyone who signs in there can open: alone
// it proves nothing against a member of staff with the database key. So
// every pass publishes this computer's new entries to the folder
// (audit/<device>/<last seq>), and the head of every log it holds
// (witness/<device>); the other computers keep what they received. A log
// truncated, edited or forked afterwards no longer matches what the
// others saw: they say so at their next pass, and so does this computer,
// from their witness files.

const (
	auditFileEntries  = 5000 // entries per published file at most
	settingWitnessSum = "audit_witness_published"
)

// auditFile is a stretch of one computer's audit log, or (From = To = 0)
// its witness of every log's head, sealed under the general sync key of
// Epoch and signed by the computer and by the person signed in there.
type auditFile struct {
	Device  string `json:"device"`
	Signer  string `json:"signer"`
	Epoch   uint32 `json:"epoch"`
	From    int64  `json:"from"`
	To      int64  `json:"to"`
	Box     []byte `json:"box"`
	DevSig  []byte `json:"device_signature"`
	UserSig []byte `json:"user_signature"`
}

func (a auditFile) signed() []byte {
	return []byte(fmt.Sprintf("%s|%s|%s|%d|%d|%d|%x", store.LabelAuditFile, a.Device, a.Signer, a.Epoch, a.From, a.To, a.Box))
}

// auditHead is the newest entry of a computer's log that a witness holds.
type auditHead struct {
	Seq  int64  `json:"seq"`
	Hash []byte `json:"hash"`
}

// AuditProblemKind says how a computer's audit log differs from what
// another computer saw of it.
type AuditProblemKind string

const (
	// AuditTruncated: entries another computer saw are missing.
	AuditTruncated AuditProblemKind = "truncated"
	// AuditRewritten: entries differ from what another computer saw.
	AuditRewritten AuditProblemKind = "rewritten"
	// AuditWithheld: a computer said (in its signed batches) that its log
	// reaches an entry it never published.
	AuditWithheld AuditProblemKind = "withheld"
)

// AuditProblem is a computer's audit log that does not match what another
// computer saw of it.
type AuditProblem struct {
	Device   string // the computer whose log it is
	Computer string // its name
	This     bool   // this computer's own log
	Kind     AuditProblemKind
	From, To int64  // the entries concerned
	Witness  string // the computer that saw them (its name)
}

func (p AuditProblem) String() string {
	who := "computer “" + p.Computer + "”"
	if p.This {
		who = "this computer"
	}
	switch p.Kind {
	case AuditTruncated:
		return fmt.Sprintf("the audit log of %s lacks entries %d–%d, which %s saw: they were deleted", who, p.From, p.To, p.Witness)
	case AuditWithheld:
		return fmt.Sprintf("%s said its audit log reaches entry %d, but entries %d–%d never reached %s: they are held back, or were deleted", who, p.To, p.From, p.To, p.Witness)
	default:
		return fmt.Sprintf("the audit log of %s no longer holds entries %d–%d as %s saw them: they were deleted or changed, and others stand in their place (the log was rewritten)", who, p.From, p.To, p.Witness)
	}
}

// AuditWitnessError is AuditVerify's answer when the log does not match
// what other computers saw; it wraps ErrAuditTampered.
type AuditWitnessError struct{ Problems []AuditProblem }

func (e *AuditWitnessError) Error() string {
	var s []string
	for _, p := range e.Problems {
		s = append(s, p.String())
	}
	return strings.Join(s, "; ")
}

func (e *AuditWitnessError) Unwrap() error { return store.ErrAuditTampered }

var (
	errAuditRevoked = errors.New("the computer was revoked")
	errNoAuditKey   = errors.New("the general sync key of that epoch is not on this computer (yet)")
)

// auditKey is the key audit files of epoch are sealed under.
func (s *Session) auditKey(ctx context.Context, epoch uint32) ([]byte, error) {
	k, err := s.syncKey(ctx, cvsync.General, epoch)
	if err != nil || k == nil {
		return nil, fmt.Errorf("epoch %d: %w", epoch, errNoAuditKey)
	}
	return store.DeriveKey(k, []byte(s.kr.VaultID), store.LabelAuditKey, 32)
}

// sealAudit seals body as an audit file of this computer.
func (s *Session) sealAudit(ctx context.Context, from, to int64, body []byte) ([]byte, error) {
	epoch, err := s.epochNow(ctx)
	if err != nil {
		return nil, err
	}
	key, err := s.auditKey(ctx, epoch)
	if err != nil {
		return nil, err
	}
	a := auditFile{Device: s.device, Signer: s.user.ID, Epoch: epoch, From: from, To: to, Box: store.SealBox(key, body, nil)}
	a.DevSig = ed25519.Sign(ed25519.NewKeyFromSeed(s.devKeys.ed25519), a.signed())
	a.UserSig = ed25519.Sign(ed25519.NewKeyFromSeed(s.secrets.SigningSeed), a.signed())
	return json.Marshal(a)
}

// openAudit checks an audit file found in device's folder: the computer
// and an active member of staff signed it, under a key this computer
// holds. It returns the file and its opened body.
func (s *Session) openAudit(ctx context.Context, device string, data []byte) (auditFile, []byte, error) {
	var a auditFile
	if err := json.Unmarshal(data, &a); err != nil || a.Device != device {
		return a, nil, errors.New("not an audit file of that computer")
	}
	var pub string
	var revoked sql.NullInt64
	switch err := s.general.QueryRowContext(ctx, `SELECT ed25519_pub, revoked_at FROM devices WHERE id = ?`, device).Scan(&pub, &revoked); {
	case errors.Is(err, sql.ErrNoRows):
		return a, nil, errUnknownSigner
	case err != nil:
		return a, nil, err
	}
	if revoked.Valid {
		// A revoked computer's log stays as it was received: whoever
		// holds a copy of it writes nothing more in its name.
		return a, nil, errAuditRevoked
	}
	raw, err := hex.DecodeString(pub)
	if err != nil || len(raw) != ed25519.PublicKeySize || !ed25519.Verify(raw, a.signed(), a.DevSig) {
		return a, nil, errors.New("not signed by that computer")
	}
	upub, err := s.signerKey(ctx)(a.Signer)
	if err != nil {
		return a, nil, err
	}
	// A signer whose removal cannot be read is not taken as active.
	removed, err := scalar[sql.NullInt64](ctx, s.general, `SELECT removed_at FROM users WHERE id = ?`, a.Signer)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return a, nil, err
	}
	if err != nil || removed.Valid || !ed25519.Verify(upub, a.signed(), a.UserSig) {
		return a, nil, errors.New("not signed by an active member of staff")
	}
	key, err := s.auditKey(ctx, a.Epoch)
	if err != nil {
		return a, nil, err
	}
	body, err := store.OpenBox(key, a.Box, nil)
	if err != nil {
		return a, nil, errors.New("does not open under the practice's key")
	}
	return a, body, nil
}

func auditName(from, to int64) string { return fmt.Sprintf("%016d-%016d", from, to) }

// auditNameRange reads the entries a file name says it holds.
func auditNameRange(n string) (from, to int64, ok bool) {
	base, _, _ := strings.Cut(n, ".")
	a, b, found := strings.Cut(base, "-")
	if !found {
		return 0, 0, false
	}
	from, err1 := strconv.ParseInt(a, 10, 64)
	to, err2 := strconv.ParseInt(b, 10, 64)
	return from, to, err1 == nil && err2 == nil && from >= 1 && to >= from
}

// publishAudit writes this computer's audit entries not yet published.
// A file already at a name this computer writes is compared, entry by
// entry: the same entries (written before a crash) count as published;
// others mean this log was rewritten since. s.mu held.
func (s *Session) publishAudit(ctx context.Context, f cvsync.Transport, p *placeState) error {
	sent := p.audit
	for {
		entries, err := store.AuditRange(ctx, s.general, sent+1, sent+auditFileEntries)
		if err != nil || len(entries) == 0 {
			return err
		}
		from, to := entries[0].Seq, entries[len(entries)-1].Seq
		rel := "audit/" + s.device + "/" + auditName(from, to)
		if old, err := f.Read(rel); err == nil {
			if _, body, err := s.openAudit(ctx, s.device, old); err == nil {
				var theirs []store.AuditEntry
				if json.Unmarshal(body, &theirs) == nil && sameEntries(theirs, entries) {
					sent, p.audit = to, to
					if err := s.savePlace(ctx, *p); err != nil {
						return err
					}
					continue
				}
			}
			// Other entries were published for this stretch: this log was
			// rewritten since. Its entries go out beside them all the
			// same, so that every other computer sees the difference.
			if err := s.noteAuditProblem(ctx, AuditProblem{Device: s.device, This: true, Kind: AuditRewritten, From: from, To: to, Witness: "the sync folder"}); err != nil {
				return err
			}
			rel += "." + randomTag()
		}
		body, err := json.Marshal(entries)
		if err != nil {
			return err
		}
		data, err := s.sealAudit(ctx, from, to, body)
		if err != nil {
			return err
		}
		if err := f.WriteOnce(rel, data); err != nil {
			return err
		}
		sent, p.audit = to, to
		if err := s.savePlace(ctx, *p); err != nil {
			return err
		}
	}
}

func sameEntries(a, b []store.AuditEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Seq != b[i].Seq || !bytes.Equal(a[i].Hash, b[i].Hash) {
			return false
		}
	}
	return true
}

// receiveAudit takes the other computers' new audit entries. Entries that
// follow what this computer holds of a log are kept; a stretch that
// overlaps it with other entries, or does not chain on, is a rewritten
// log, recorded as a problem. s.mu held.
func (s *Session) receiveAudit(ctx context.Context, f cvsync.Transport, rep *SyncReport) error {
	devices, err := f.Dirs("audit")
	if err != nil {
		return nil
	}
	for _, dev := range devices {
		// A computer's id is in lower case; a folder whose name a tool
		// changed the case of is the same (on Windows, the same folder).
		dev = strings.ToLower(dev)
		if dev == s.device {
			continue
		}
		names, err := f.List("audit/" + dev)
		if err != nil {
			continue
		}
		taken, err := queryAll(ctx, s.general, scanString, `SELECT name FROM audit_files WHERE device = ?`, dev)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, n := range taken {
			seen[n] = true
		}
		have, err := scalar[int64](ctx, s.general, `SELECT coalesce(max(seq), 0) FROM audit_remote WHERE device = ?`, dev)
		if err != nil {
			return err
		}
		sort.Slice(names, func(i, j int) bool {
			fi, _, _ := auditNameRange(names[i])
			fj, _, _ := auditNameRange(names[j])
			return fi < fj || fi == fj && names[i] < names[j]
		})
		for _, n := range names {
			if seen[n] {
				continue
			}
			if _, _, ok := auditNameRange(n); !ok {
				continue
			}
			data, err := f.Read("audit/" + dev + "/" + n)
			if err != nil {
				break
			}
			a, body, err := s.openAudit(ctx, dev, data)
			switch {
			case errors.Is(err, errAuditRevoked):
				continue
			case errors.Is(err, errUnknownSigner), errors.Is(err, errNoAuditKey):
				// A later pass, once the roster or keys are here.
			case err != nil:
				// Not a file of that computer (damaged, or planted by
				// someone who can write the folder): set aside, said once;
				// the files after it are taken as ever.
				s.setAsideAuditFile(ctx, dev, n, err, rep)
				continue
			}
			if err != nil {
				break
			}
			var entries []store.AuditEntry
			if json.Unmarshal(body, &entries) != nil || len(entries) == 0 || entries[len(entries)-1].Seq != a.To || entries[0].Seq != a.From {
				s.setAsideAuditFile(ctx, dev, n, errors.New("its entries do not match its header"), rep)
				continue
			}
			if a.From > have+1 {
				break // a file before it is missing (yet)
			}
			rewritten := func(from int64) {
				p := AuditProblem{Device: dev, Kind: AuditRewritten, From: from, To: have, Witness: s.device}
				s.noteAuditProblem(ctx, p)
				rep.note(ProblemAudit, "audit: %s", s.describeAuditProblem(ctx, p))
			}
			// What this computer holds already must be what it holds; the
			// rest must chain on from it.
			var fresh []store.AuditEntry
			ok := true
			for _, e := range entries {
				if e.Seq > have {
					fresh = append(fresh, e)
					continue
				}
				hash, err := scalarOr[[]byte](ctx, s.general, nil, `SELECT hash FROM audit_remote WHERE device = ? AND seq = ?`, dev, e.Seq)
				if err != nil {
					return err // not read: no alarm raised on a database error
				}
				if !bytes.Equal(hash, e.Hash) {
					rewritten(e.Seq)
					ok = false
					break
				}
			}
			if ok && len(fresh) > 0 {
				prev := make([]byte, sha256.Size)
				if fresh[0].Seq > 1 {
					if prev, err = scalarOr[[]byte](ctx, s.general, nil, `SELECT hash FROM audit_remote WHERE device = ? AND seq = ?`, dev, fresh[0].Seq-1); err != nil {
						return err
					}
				}
				if err := store.CheckAuditRun(prev, fresh); err != nil {
					rewritten(fresh[0].Seq)
					ok = false
				}
			}
			if err := inTx(ctx, s.general, func(tx *sql.Tx) error {
				if ok {
					for _, e := range fresh {
						if _, err := tx.ExecContext(ctx, `INSERT INTO audit_remote (device, seq, at, user_id, user_name, action, subject, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
							dev, e.Seq, e.At.UnixNano(), e.UserID, e.UserName, e.Action, e.Subject, e.Detail, e.PrevHash, e.Hash); err != nil {
							return err
						}
					}
				}
				_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO audit_files (device, name) VALUES (?, ?)`, dev, n)
				return err
			}); err != nil {
				return err
			}
			if !ok {
				break // nothing after a rewritten stretch is taken
			}
			if a.To > have {
				have = a.To
			}
		}
	}
	return nil
}

// setAsideAuditFile records an audit file that is not what it claims to
// be, so that it is said once and never stops the files after it.
func (s *Session) setAsideAuditFile(ctx context.Context, dev, name string, why error, rep *SyncReport) {
	if _, err := s.general.ExecContext(ctx, `INSERT OR IGNORE INTO audit_files (device, name) VALUES (?, ?)`, dev, name); err == nil {
		rep.note(ProblemAudit, "audit: the file %s in the folder of computer “%s” was set aside: %v (damaged, or put there by someone who can write the folder)", name, s.deviceName(ctx, dev), why)
	}
}

// heads lists the newest entry of every log this computer holds: its own
// and those received.
func (s *Session) auditHeads(ctx context.Context) (map[string]auditHead, error) {
	type devHead struct {
		dev string
		auditHead
	}
	// This computer's own head first, then those received.
	heads, err := queryAll(ctx, s.general, func(r row) (h devHead, err error) {
		err = r.Scan(&h.dev, &h.Seq, &h.Hash)
		return h, err
	}, `SELECT * FROM (SELECT ?, seq, hash FROM audit ORDER BY seq DESC LIMIT 1)
		UNION ALL SELECT device, seq, hash FROM audit_remote r WHERE seq = (SELECT max(seq) FROM audit_remote WHERE device = r.device)`, s.device)
	if err != nil {
		return nil, err
	}
	out := map[string]auditHead{}
	for _, h := range heads {
		out[h.dev] = h.auditHead
	}
	return out, nil
}

// auditPass publishes this computer's audit entries and witness, and takes
// the others'. A failure is a problem of the pass, not its end. s.mu held.
func (s *Session) auditPass(ctx context.Context, f cvsync.Transport, p *placeState, rep *SyncReport) {
	for _, step := range []func() error{
		func() error { return s.publishAudit(ctx, f, p) },
		func() error { return s.receiveAudit(ctx, f, rep) },
		func() error { return s.checkHeads(ctx, rep) },
		func() error { return s.publishWitness(ctx, f, p) },
		func() error { return s.receiveWitness(ctx, f, rep) },
	} {
		if err := step(); err != nil {
			rep.note(ProblemAudit, "audit: %v", err)
			return
		}
	}
}
