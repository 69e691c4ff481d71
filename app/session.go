package app

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// Settings kept in general.db.
const (
	settingPractice = "practice"
	settingIdleLock = "idle_lock"
)

// User is a member of staff as the app shows them.
type User struct {
	ID         string
	Name       string
	Role       Role
	Created    time.Time
	LastSignIn time.Time // zero if never
	Failures   int       // failed sign-ins since the last success
	LockedOut  bool
	TOTPReset  bool // must enroll a new authenticator at next sign-in
	// Bookable: sees patients, so the day book offers them. Clinicians
	// are by default; an admin (the practice manager) only when marked.
	Bookable bool
}

// SignInTiming splits a sign-in into the key derivation and the rest.
type SignInTiming struct {
	KDF  time.Duration
	Rest time.Duration
}

// Session is one signed-in member of staff. Its methods are safe for
// concurrent use. After Lock every method returns ErrLocked.
type Session struct {
	v *Vault

	mu sync.Mutex
	// syncMu keeps sync passes apart: a pass reads the folder before it
	// takes mu, and no other pass may receive batches in between.
	syncMu  sync.Mutex
	kr      *store.Keyring
	user    User
	secrets *store.SlotSecrets
	kek     []byte // kept only while a TOTP enrollment is pending
	kGen    []byte
	// moveGeneral is the key general.db moves to once the sign-in has
	// succeeded (the file was opened with this computer's escrow).
	moveGeneral []byte
	onRekey     func(RekeyProgress)
	onSend      func(place string, done, total int)
	kClin       []byte
	general     *store.DB
	clinical    *store.DB
	idleLock    time.Duration
	lastTouch   time.Time
	mustTOTP    bool
	locked      bool
	timing      SignInTiming
	onLock      []func()
	device      string
	devKeys     deviceKeys
	clock       *cvsync.Clock
	dates       DateOrder
	// background counts work left running after a call returned (the
	// checkpoint after a bulk write).
	background sync.WaitGroup
	// presence marks this session open in the data folder: a database's
	// key is changed only while no other session is open there.
	presence *store.Presence
	// clinicalUnavailable: a clinical person signed in without the
	// clinical records, which this computer's key no longer opens.
	clinicalUnavailable bool
	// pass is the place of the sync pass under way (nil between passes).
	pass *placeState
	// relays are the open relay connections, closed when the session
	// locks.
	relays relayConns
	// refillChecked is when each place's copy of this computer's log was
	// last listed whole (checkRefill).
	refillChecked map[string]time.Time
	// userView is s.user for User, read without s.mu.
	userView atomic.Pointer[User]
	// local tells the replication loops that changes were recorded here.
	local localChanges
}

// localChanges tells whoever listens that this computer recorded changes.
type localChanges struct {
	mu   sync.Mutex
	subs map[int]chan<- struct{}
	next int
}

// changed tells every listener, without waiting for any.
func (l *localChanges) changed() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// listen sends on c after changes are recorded, until cancel.
func (l *localChanges) listen(c chan<- struct{}) (cancel func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.subs == nil {
		l.subs = map[int]chan<- struct{}{}
	}
	id := l.next
	l.next++
	l.subs[id] = c
	return func() {
		l.mu.Lock()
		delete(l.subs, id)
		l.mu.Unlock()
	}
}

// waitBackground waits for work a call left running in the background:
// benchmarks use it so that one measurement does not run into the next.
func (s *Session) waitBackground() { s.background.Wait() }

type actor struct{ id, name string }

func (s *Session) actor() actor { return actor{s.user.ID, s.user.Name} }

// wipe closes the databases and zeroes every key the session holds.
func (s *Session) wipe() {
	s.relays.closeAll()
	s.background.Wait() // a checkpoint still running needs the databases open
	if s.general != nil {
		s.general.Close()
		s.general = nil
	}
	if s.clinical != nil {
		s.clinical.Close()
		s.clinical = nil
	}
	store.Zero(s.kGen)
	store.Zero(s.kClin)
	store.Zero(s.kek)
	store.Zero(s.moveGeneral)
	s.moveGeneral = nil
	s.kGen, s.kClin, s.kek = nil, nil, nil
	s.secrets.Wipe()
	s.secrets = nil
	s.presence.Leave()
	s.presence = nil
}

// Timing returns how long the sign-in spent in the KDF and in the rest.
func (s *Session) Timing() SignInTiming { return s.timing }

// User returns the signed-in member of staff.
func (s *Session) User() User {
	if u := s.userView.Load(); u != nil {
		return *u
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user
}

// setUser sets who is signed in, and the copy User reads without waiting
// for the session: the screens ask it all the time, and a sync pass may
// hold the session for seconds while a slow relay answers. Called with
// s.mu held, or before the session is shared.
func (s *Session) setUser(u User) {
	s.user = u
	s.userView.Store(&u)
}

// Practice returns the practice's name.
func (s *Session) Practice() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kr.Practice
}

// ClinicalUnavailable reports whether this person has clinical access but
// signed in without the clinical records, which this computer's clinical
// key no longer opens (two changes of the key made apart).
func (s *Session) ClinicalUnavailable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clinicalUnavailable
}

// HasClinical reports whether clinical.db is open in this session.
func (s *Session) HasClinical() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clinical != nil
}

// NeedsTOTPEnrollment reports whether the user must enroll an authenticator
// before anything else.
func (s *Session) NeedsTOTPEnrollment() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mustTOTP
}

// Locked reports whether the session has been locked.
func (s *Session) Locked() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.locked
}

// OnLock registers f to run (once) when the session locks.
func (s *Session) OnLock(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onLock = append(s.onLock, f)
}

// Lock closes the databases, zeroes the keys and records it. Later calls
// do nothing.
func (s *Session) Lock(ctx context.Context) error {
	return s.lock(ctx, "locked")
}

func (s *Session) lock(ctx context.Context, why string) error {
	s.mu.Lock()
	if s.locked {
		s.mu.Unlock()
		return nil
	}
	var err error
	if s.general != nil {
		err = inTx(ctx, s.general, func(tx *sql.Tx) error {
			return audit(ctx, tx, s.v.now(), s.actor(), "lock", s.user.Name, why)
		})
	}
	s.wipe()
	s.locked = true
	hooks := s.onLock
	s.onLock = nil
	s.mu.Unlock()
	for _, f := range hooks {
		f()
	}
	return err
}

// Touch records activity, postponing the idle lock.
func (s *Session) Touch() {
	s.mu.Lock()
	s.lastTouch = s.v.now()
	s.mu.Unlock()
}

// IdleLockAfter returns the idle time after which the session locks.
func (s *Session) IdleLockAfter() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.idleLock
}

// LockIfIdle locks the session when it has been idle for longer than the
// practice's setting, and reports whether it is locked.
func (s *Session) LockIfIdle(ctx context.Context) bool {
	s.mu.Lock()
	idle := s.v.now().Sub(s.lastTouch)
	limit, locked := s.idleLock, s.locked
	s.mu.Unlock()
	if locked {
		return true
	}
	if limit > 0 && idle >= limit {
		s.lock(ctx, fmt.Sprintf("idle for %s", idle.Round(time.Second)))
		return true
	}
	return false
}

// readIdleLock is the practice's idle-lock time, DefaultIdleLock when
// none was set. A setting that cannot be read is an error, not the
// default, which may be longer than the practice chose.
func (s *Session) readIdleLock(ctx context.Context) (time.Duration, error) {
	v, err := readSetting(ctx, s.general, settingIdleLock)
	if err != nil {
		return 0, err
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d, nil
	}
	return DefaultIdleLock, nil
}

// SetIdleLock sets the practice's idle-lock time (admins only), between one
// minute and one hour.
func (s *Session) SetIdleLock(ctx context.Context, d time.Duration) error {
	if err := s.require(Admin); err != nil {
		return err
	}
	if d < time.Minute || d > time.Hour {
		return fmt.Errorf("the idle lock must be between 1 and 60 minutes: %w", ErrUsage)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := setSetting(ctx, tx, settingIdleLock, d.String()); err != nil {
			return err
		}
		s.idleLock = d
		return audit(ctx, tx, s.v.now(), s.actor(), "settings-changed", "idle lock", d.String())
	})
}

// require checks the session is usable and the role is one of roles.
// The caller must not hold s.mu.
func (s *Session) require(roles ...Role) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked {
		return ErrLocked
	}
	if s.mustTOTP {
		return ErrEnrollTOTP
	}
	// A call is not activity: the window's background jobs (the sync
	// watcher, the backup scheduler, refreshes) call the session all the
	// time. Only a person's input is, and the window says so (Touch).
	if len(roles) == 0 {
		return nil
	}
	for _, r := range roles {
		if s.user.Role == r {
			return nil
		}
	}
	return &RoleError{Role: s.user.Role}
}

// RoleError is a refusal for the signed-in role alone, with no other
// reason ("receptionist: not permitted for your role"). It wraps
// ErrNotPermitted.
type RoleError struct{ Role Role }

func (e *RoleError) Error() string { return string(e.Role) + ": " + ErrNotPermitted.Error() }

// Unwrap is ErrNotPermitted.
func (e *RoleError) Unwrap() error { return ErrNotPermitted }

// write runs fn in one general.db transaction under the session lock.
func (s *Session) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked {
		return ErrLocked
	}
	return inTx(ctx, s.general, fn)
}

// writeBulk is write for a transaction of thousands of rows (an import,
// the demo). Its commit leaves the new pages in the WAL - written and
// synced, so the import is done and durable - instead of also copying
// them all into the database file on the spot; a background checkpoint
// does that while the user goes on (it takes no write lock: other saves
// are not held up). Measured with 100,000 patients: the user's wait is
// about 0.5 s (9 %) shorter.
func (s *Session) writeBulk(ctx context.Context, fn func(tx *sql.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked {
		return ErrLocked
	}
	db := s.general
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA wal_autocheckpoint = 0`); err != nil {
		return err
	}
	// Back to SQLite's default before the connection returns to the pool.
	defer conn.ExecContext(context.Background(), `PRAGMA wal_autocheckpoint = 1000`)
	if err := inTx(ctx, conn, fn); err != nil {
		return err
	}
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		db.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`)
	}()
	return nil
}

// writePatient runs fn in one general.db transaction with the current
// record of the patient mrn names (ErrPatientNotFound when none).
func (s *Session) writePatient(ctx context.Context, mrn string, fn func(tx *sql.Tx, p Patient) error) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		p, err := s.patientByMRN(ctx, tx, mrn)
		if err != nil {
			return err
		}
		return fn(tx, p)
	})
}

// SigningKey returns the user's Ed25519 key, used to sign sync batches.
func (s *Session) SigningKey() (ed25519.PrivateKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked {
		return nil, ErrLocked
	}
	return ed25519.NewKeyFromSeed(s.secrets.SigningSeed), nil
}

// txBeginner is a database handle or one pooled connection of it.
type txBeginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

func inTx(ctx context.Context, db txBeginner, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return busy(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return busy(err)
	}
	return busy(tx.Commit())
}

// ErrBusy means another ClinicVault on this computer held the database
// for longer than a save waits (a large import, a backup being made):
// nothing was saved, and trying again shortly works.
var ErrBusy = errors.New("busy")

// BusyError is ErrBusy, with SQLite's own error kept for errors.As (sync
// tries such work again by itself) but never shown: its text is a
// sentence for the person at the computer.
type BusyError struct{ cause error }

func (e *BusyError) Error() string {
	return "another ClinicVault on this computer is busy with a large change (an import, a backup), so this was not saved; try again in a minute"
}

// Unwrap is ErrBusy and SQLite's error.
func (e *BusyError) Unwrap() []error { return []error{ErrBusy, e.cause} }

// ErrDiskFull means the disk the vault is on is full: nothing of the
// change was saved (SQLite rolls it back whole), and what was saved before
// is intact.
var ErrDiskFull = errors.New("disk full")

// DiskFullError is ErrDiskFull in words, SQLite's error kept for
// errors.As.
type DiskFullError struct{ cause error }

func (e *DiskFullError) Error() string {
	return "the disk is full, so this was not saved (nothing was half-saved); free some space and try again"
}

// Unwrap is ErrDiskFull and SQLite's error.
func (e *DiskFullError) Unwrap() []error { return []error{ErrDiskFull, e.cause} }

// busy turns SQLite's "database is locked" into a BusyError, and "disk is
// full" into a DiskFullError.
func busy(err error) error {
	switch {
	case err == nil || errors.Is(err, ErrBusy) || errors.Is(err, ErrDiskFull):
		return err
	case store.IsBusy(err):
		return &BusyError{cause: err}
	case store.IsFull(err):
		return &DiskFullError{cause: err}
	}
	return err
}

func setSetting(ctx context.Context, tx *sql.Tx, name, value string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?)
		ON CONFLICT(name) DO UPDATE SET value = excluded.value`, name, value)
	return err
}

func audit(ctx context.Context, tx querier, at time.Time, a actor, action, subject, detail string) error {
	return store.AppendAudit(ctx, tx, &store.AuditEntry{At: at, UserID: a.id, UserName: a.name, Action: action, Subject: subject, Detail: detail})
}

// AuditEntry is one row of the audit log.
type AuditEntry = store.AuditEntry

// ErrAuditTampered means the audit chain does not verify.
var ErrAuditTampered = store.ErrAuditTampered

// UseMinimumKDF makes new slots use RFC 9106's second recommendation
// without calibrating: for tests and demos, never below the floor.
func (v *Vault) UseMinimumKDF() {
	v.KDF = func() store.KDFParams { return store.MinKDF }
}
