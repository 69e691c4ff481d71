package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hkdf"
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
	auditFileLabel    = "clinicvault.org/v1/audit-file"
	auditKeyLabel     = "clinicvault.org/v1/audit-key"
	auditFileEntries  = 5000 // entries per published file at most
	settingAuditSent  = "audit_published"
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
	return []byte(fmt.Sprintf("%s|%s|%s|%d|%d|%d|%x", auditFileLabel, a.Device, a.Signer, a.Epoch, a.From, a.To, a.Box))
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
	return hkdf.Key(sha256.New, k, []byte(s.kr.VaultID), auditKeyLabel, 32)
}

// sealAudit seals body as an audit file of this computer.
func (s *Session) sealAudit(ctx context.Context, from, to int64, body []byte) ([]byte, error) {
	epoch := s.currentEpoch(ctx)
	key, err := s.auditKey(ctx, epoch)
	if err != nil {
		return nil, err
	}
	a := auditFile{Device: s.device, Signer: s.user.ID, Epoch: epoch, From: from, To: to, Box: sealSym(key, body)}
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
	if s.general.QueryRowContext(ctx, `SELECT ed25519_pub, revoked_at FROM devices WHERE id = ?`, device).Scan(&pub, &revoked) != nil {
		return a, nil, errUnknownSigner
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
	var removed sql.NullInt64
	s.general.QueryRowContext(ctx, `SELECT removed_at FROM users WHERE id = ?`, a.Signer).Scan(&removed)
	if removed.Valid || !ed25519.Verify(upub, a.signed(), a.UserSig) {
		return a, nil, errors.New("not signed by an active member of staff")
	}
	key, err := s.auditKey(ctx, a.Epoch)
	if err != nil {
		return a, nil, err
	}
	body, err := openSym(key, a.Box)
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
func (s *Session) publishAudit(ctx context.Context, f cvsync.Folder) error {
	var sent int64
	var v string
	if s.general.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, settingAuditSent).Scan(&v) == nil {
		sent, _ = strconv.ParseInt(v, 10, 64)
	}
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
					sent = to
					if err := setSettingDB(ctx, s.general, settingAuditSent, strconv.FormatInt(sent, 10)); err != nil {
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
		sent = to
		if err := setSettingDB(ctx, s.general, settingAuditSent, strconv.FormatInt(sent, 10)); err != nil {
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
func (s *Session) receiveAudit(ctx context.Context, f cvsync.Folder, rep *SyncReport) error {
	devices, err := f.Dirs("audit")
	if err != nil {
		return nil
	}
	for _, dev := range devices {
		if dev == s.device {
			continue
		}
		names, err := f.List("audit/" + dev)
		if err != nil {
			continue
		}
		seen := map[string]bool{}
		if rows, err := s.general.QueryContext(ctx, `SELECT name FROM audit_files WHERE device = ?`, dev); err == nil {
			for rows.Next() {
				var n string
				if rows.Scan(&n) == nil {
					seen[n] = true
				}
			}
			rows.Close()
		}
		var have int64
		s.general.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM audit_remote WHERE device = ?`, dev).Scan(&have)
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
				var hash []byte
				s.general.QueryRowContext(ctx, `SELECT hash FROM audit_remote WHERE device = ? AND seq = ?`, dev, e.Seq).Scan(&hash)
				if !bytes.Equal(hash, e.Hash) {
					rewritten(e.Seq)
					ok = false
					break
				}
			}
			if ok && len(fresh) > 0 {
				prev := make([]byte, sha256.Size)
				if fresh[0].Seq > 1 {
					s.general.QueryRowContext(ctx, `SELECT hash FROM audit_remote WHERE device = ? AND seq = ?`, dev, fresh[0].Seq-1).Scan(&prev)
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
	out := map[string]auditHead{}
	var h auditHead
	if s.general.QueryRowContext(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&h.Seq, &h.Hash) == nil {
		out[s.device] = h
	}
	rows, err := s.general.QueryContext(ctx, `SELECT device, seq, hash FROM audit_remote r WHERE seq = (SELECT max(seq) FROM audit_remote WHERE device = r.device)`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var d string
		var h auditHead
		if err := rows.Scan(&d, &h.Seq, &h.Hash); err != nil {
			return nil, err
		}
		out[d] = h
	}
	return out, rows.Err()
}

// publishWitness writes the heads this computer holds, when they changed.
// s.mu held.
func (s *Session) publishWitness(ctx context.Context, f cvsync.Folder) error {
	heads, err := s.auditHeads(ctx)
	if err != nil || len(heads) == 0 {
		return err
	}
	body, err := json.Marshal(heads)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	var last string
	s.general.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, settingWitnessSum).Scan(&last)
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
	return setSettingDB(ctx, s.general, settingWitnessSum, hex.EncodeToString(sum[:]))
}

// receiveWitness reads the other computers' witness files and checks this
// computer's own log against what they saw of it. s.mu held.
func (s *Session) receiveWitness(ctx context.Context, f cvsync.Folder, rep *SyncReport) error {
	names, err := f.List("witness")
	if err != nil {
		return nil
	}
	for _, w := range names {
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
				var stored []byte
				s.general.QueryRowContext(ctx, `SELECT hash FROM audit_witness WHERE witness = ? AND device = ? AND seq = ?`, w, dev, h.Seq).Scan(&stored)
				if !bytes.Equal(stored, h.Hash) && !s.publishedEntry(ctx, f, h.Seq, h.Hash) {
					continue
				}
			}
			if dev != s.device {
				// What this witness says of a log must be what this
				// computer received of it, where it holds that entry.
				var hash []byte
				if s.general.QueryRowContext(ctx, `SELECT hash FROM audit_remote WHERE device = ? AND seq = ?`, dev, h.Seq).Scan(&hash) == nil && !bytes.Equal(hash, h.Hash) {
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
func (s *Session) firstDivergence(ctx context.Context, f cvsync.Folder, upTo int64) int64 {
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
			var hash []byte
			if s.general.QueryRowContext(ctx, `SELECT hash FROM audit WHERE seq = ?`, e.Seq).Scan(&hash) != nil || !bytes.Equal(hash, e.Hash) {
				return e.Seq
			}
		}
	}
	return 0
}

// publishedEntry reports whether this computer published, in a file of
// its own in the folder, entry seq with hash.
func (s *Session) publishedEntry(ctx context.Context, f cvsync.Folder, seq int64, hash []byte) bool {
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
	rows, err := s.general.QueryContext(ctx, `SELECT witness, seq, hash FROM audit_witness WHERE device = ?`, s.device)
	if err != nil {
		return nil, err
	}
	type seen struct {
		witness string
		seq     int64
		hash    []byte
	}
	var all []seen
	for rows.Next() {
		var x seen
		if err := rows.Scan(&x.witness, &x.seq, &x.hash); err != nil {
			rows.Close()
			return nil, err
		}
		all = append(all, x)
	}
	rows.Close()
	var out []AuditProblem
	for _, x := range all {
		var hash []byte
		err := s.general.QueryRowContext(ctx, `SELECT hash FROM audit WHERE seq = ?`, x.seq).Scan(&hash)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			// Missing from where the log was cut to what the witness saw.
			var have int64
			s.general.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM audit WHERE seq < ?`, x.seq).Scan(&have)
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
	var name string
	if s.general.QueryRowContext(ctx, `SELECT name FROM devices WHERE id = ?`, id).Scan(&name) == nil && name != "" {
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
	rows, err := s.general.QueryContext(ctx, `SELECT device, kind, from_seq, to_seq, witness FROM audit_problems ORDER BY device, kind`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var p AuditProblem
		var kind string
		if err := rows.Scan(&p.Device, &kind, &p.From, &p.To, &p.Witness); err != nil {
			return nil, err
		}
		p.Kind = AuditProblemKind(kind)
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
	if err := rows.Err(); err != nil {
		return nil, err
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
	var n int
	s.general.QueryRowContext(ctx, `SELECT count(*) FROM audit_witness WHERE device = ?`, s.device).Scan(&n)
	return n > 0
}

// auditPass publishes this computer's audit entries and witness, and takes
// the others'. A failure is a problem of the pass, not its end. s.mu held.
func (s *Session) auditPass(ctx context.Context, f cvsync.Folder, rep *SyncReport) {
	for _, step := range []func() error{
		func() error { return s.publishAudit(ctx, f) },
		func() error { return s.receiveAudit(ctx, f, rep) },
		func() error { return s.checkHeads(ctx, rep) },
		func() error { return s.publishWitness(ctx, f) },
		func() error { return s.receiveWitness(ctx, f, rep) },
	} {
		if err := step(); err != nil {
			rep.note(ProblemAudit, "audit: %v", err)
			return
		}
	}
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
	rows, err := s.general.QueryContext(ctx, `SELECT h.id, h.seq, h.hash FROM audit_heads h LEFT JOIN devices d ON d.id = h.id
		WHERE h.id != ? AND d.revoked_at IS NULL`, s.device)
	if err != nil {
		return err
	}
	type head struct {
		dev  string
		seq  int64
		hash []byte
	}
	var heads []head
	for rows.Next() {
		var h head
		if err := rows.Scan(&h.dev, &h.seq, &h.hash); err != nil {
			rows.Close()
			return err
		}
		heads = append(heads, h)
	}
	rows.Close()
	for _, h := range heads {
		var got []byte
		err := s.general.QueryRowContext(ctx, `SELECT hash FROM audit_remote WHERE device = ? AND seq = ?`, h.dev, h.seq).Scan(&got)
		var p *AuditProblem
		switch {
		case err == nil && !bytes.Equal(got, h.hash):
			p = &AuditProblem{Device: h.dev, Kind: AuditRewritten, From: h.seq, To: h.seq, Witness: s.device}
		case errors.Is(err, sql.ErrNoRows):
			var since int64
			s.general.QueryRowContext(ctx, `SELECT at FROM audit_head_seen WHERE device = ? AND seq = ?`, h.dev, h.seq).Scan(&since)
			if since == 0 || s.v.now().Sub(time.Unix(since, 0)) < headWait {
				continue // on its way
			}
			var have int64
			s.general.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM audit_remote WHERE device = ?`, h.dev).Scan(&have)
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
