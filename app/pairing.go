package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
	"github.com/google/uuid"
)

// Pairing a new machine (the messages are in sync/pairing_proto.go): the
// admin's machine publishes an offer under a one-time code whose secret is
// stretched with Argon2id; the new machine commits to its public keys and
// a nonce, the admin's machine answers with its own nonce, the new machine
// reveals; both screens show the same fingerprint, which neither side nor
// whoever holds the folder or relay can steer; the admin approves, and the
// general key, the keyring and the roster are sealed to the new machine's
// X25519 key. A second answer voids the invitation, an answer naming a
// device the roster holds is refused, and the transport only ever holds
// sealed boxes, which the new machine deletes once it has read the
// approval.
//
// The grant carries no clinical key. The new machine's device key lives in
// its general.db, which every member of staff opens, so anything sealed to
// it is within a receptionist's reach: the clinical database key reaches
// the machine only when a clinician or admin signs in there (through the
// grant in their own keyring slot), and clinical sync keys of later epochs
// travel wrapped under a key derived from the clinical database key.

// ErrPairingTimeout means the other machine did not answer in time.
var ErrPairingTimeout = errors.New("the other computer did not answer before the code expired")

// ErrDeviceIDTaken means the new computer's answer names a device id the
// roster already holds (current or revoked): a pairing never touches an
// existing device's keys, so it is refused.
var ErrDeviceIDTaken = errors.New("the new computer's answer names a computer the practice already has; it was refused")

// Invitation is an open offer to pair a device.
type Invitation struct {
	Code    string
	Expires time.Time
	t       cvsync.Transport
	iv      *cvsync.Inviter
	relay   RelayLink // the relay it goes through, when it does
}

// InviteDevice starts pairing a new machine through the folder (admins).
func (s *Session) InviteDevice(ctx context.Context, dir string) (*Invitation, error) {
	if err := s.require(Admin); err != nil {
		return nil, err
	}
	f := cvsync.Folder{Dir: dir}
	if err := f.Check(); err != nil {
		return nil, err
	}
	return s.InviteVia(ctx, f)
}

// InviteVia starts pairing a new machine through t, a folder or a relay
// (admins): it publishes the offer under a new one-time code, whose secret
// is stretched with Argon2id first.
func (s *Session) InviteVia(ctx context.Context, t cvsync.Transport) (*Invitation, error) {
	if err := s.require(Admin); err != nil {
		return nil, err
	}
	s.mu.Lock()
	expires := s.v.now().Add(cvsync.PairingExpiry)
	offer := cvsync.Offer{VaultID: s.kr.VaultID, DeviceID: s.device, PublicKey: s.devKeys.publicX25519(), Expires: expires}
	s.mu.Unlock()
	// A code whose locator is taken gets another; three in a row taken
	// means someone fills the place on purpose.
	var err error
	for range 3 {
		inv := &Invitation{Code: cvsync.NewPairingCode(), Expires: expires, t: t}
		if inv.iv, err = cvsync.Invite(t, inv.Code, offer); err == nil {
			return inv, nil
		}
		if !errors.Is(err, cvsync.ErrExists) {
			return nil, err
		}
	}
	return nil, err
}

// WaitForDevice waits for the new machine's answer and returns it with the
// fingerprint both screens must show. More than one answer voids the
// invitation (cvsync.ErrPairingContested); so does an answer that does not
// match its commitment (cvsync.ErrPairingBroken). On expiry or when ctx
// ends, the invitation's files are removed.
func (inv *Invitation) WaitForDevice(ctx context.Context, now func() time.Time, poll time.Duration) (cvsync.Request, string, error) {
	var req cvsync.Request
	var fp string
	err := pollUntil(ctx, now, inv.Expires, poll, func() (done bool, err error) {
		req, fp, done, err = inv.iv.Poll()
		return done, err
	})
	if errors.Is(err, ErrPairingTimeout) || err != nil && ctx.Err() != nil {
		inv.iv.Cancel()
	}
	return req, fp, err
}

// Cancel withdraws the invitation: its files are removed, and a computer
// waiting on it hears so.
func (inv *Invitation) Cancel() { inv.iv.Cancel() }

// pollUntil calls step every poll until it is done or fails, ctx ends
// (ctx.Err()) or now passes expires (ErrPairingTimeout).
func pollUntil(ctx context.Context, now func() time.Time, expires time.Time, poll time.Duration, step func() (bool, error)) error {
	for {
		done, err := step()
		if done || err != nil {
			return err
		}
		if now().After(expires) {
			return ErrPairingTimeout
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// pairingGrant is what an approved machine receives, sealed to it.
type pairingGrant struct {
	VaultID string                      `json:"vault_id"`
	KGen    []byte                      `json:"k_gen"`
	Keyring json.RawMessage             `json:"keyring"`
	Users   []rosterUser                `json:"users"`
	Devices []rosterDevice              `json:"devices"`
	Epochs  map[uint32]cvsync.EpochKeys `json:"epochs"` // the general sync key, and the clinical one wrapped under the clinical database key
	// Relay is the practice's relay (its address and pinned certificate,
	// never credentials), when it has one: the new computer syncs
	// through it too.
	Relay *RelayLink `json:"relay,omitempty"`
}

type rosterUser struct {
	ID, Name, Role, SignPub string
	Created                 int64
	Removed                 *int64
}

type rosterDevice struct {
	ID, Name, X25519, Ed25519 string
	Added                     int64
	Revoked                   *int64
	RevokedEpoch              int64
}

// ApproveDevice seals the vault keys, the keyring and the roster to the
// new machine and adds it to the roster (admins). Call it only after the
// admin has seen the same fingerprint on both screens.
func (s *Session) ApproveDevice(ctx context.Context, inv *Invitation, req cvsync.Request) error {
	if err := s.require(Admin); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clinical == nil {
		return fmt.Errorf("pairing needs an admin session with the clinical key: %w", ErrNotPermitted)
	}
	// The id names the new computer's folder in the sync folder, where
	// case does not tell names apart (Windows, macOS): only the canonical
	// lower-case form, so that no new computer is an existing one in
	// upper case (or "urn:uuid:…", "{…}").
	if id, err := uuid.Parse(req.DeviceID); err != nil || id.String() != req.DeviceID || len(req.PublicKey) != 32 || len(req.SigningKey) != ed25519.PublicKeySize {
		return invalid("the new computer's answer is malformed")
	}
	// The grant goes only to the answer whose fingerprint was shown.
	if got, ok := inv.iv.Answer(); !ok || got.DeviceID != req.DeviceID || !bytes.Equal(got.PublicKey, req.PublicKey) ||
		!bytes.Equal(got.SigningKey, req.SigningKey) || got.Name != req.Name {
		return fmt.Errorf("this is not the answer the invitation received: %w", cvsync.ErrPairing)
	}
	// A pairing never touches an existing computer's keys, revoked or not.
	taken, err := scalar[int](ctx, s.general, `SELECT count(*) FROM devices WHERE id = ?`, req.DeviceID)
	if err != nil {
		return err
	}
	if taken > 0 {
		inv.iv.Cancel()
		return ErrDeviceIDTaken
	}
	kr, err := store.LoadKeyring(s.v.Dir)
	if err != nil {
		return err
	}
	kr.Throttle, kr.Pending = nil, nil
	krJSON, err := json.Marshal(kr)
	if err != nil {
		return err
	}
	g := pairingGrant{VaultID: kr.VaultID, KGen: s.kGen, Keyring: krJSON, Epochs: map[uint32]cvsync.EpochKeys{}}
	if l := inv.relay; !l.IsZero() {
		g.Relay = &RelayLink{URL: l.URL, Fingerprint: l.Fingerprint}
	} else if l := readRelaySetting(ctx, s.general); !l.IsZero() {
		g.Relay = &RelayLink{URL: l.URL, Fingerprint: l.Fingerprint}
	}
	// The roster the new computer starts from: a row not read whole
	// stops the grant (a removal or revocation must never go missing).
	g.Users, err = queryAll(ctx, s.general, func(r row) (u rosterUser, err error) {
		var removed sql.NullInt64
		err = r.Scan(&u.ID, &u.Name, &u.Role, &u.SignPub, &u.Created, &removed)
		if removed.Valid {
			u.Removed = &removed.Int64
		}
		return u, err
	}, `SELECT id, name, role, sign_pub, created_at, removed_at FROM users`)
	if err != nil {
		return err
	}
	g.Devices, err = queryAll(ctx, s.general, func(r row) (d rosterDevice, err error) {
		var revoked sql.NullInt64
		err = r.Scan(&d.ID, &d.Name, &d.X25519, &d.Ed25519, &d.Added, &revoked, &d.RevokedEpoch)
		if revoked.Valid {
			d.Revoked = &revoked.Int64
		}
		return d, err
	}, `SELECT id, name, x25519_pub, ed25519_pub, added_at, revoked_at, revoked_epoch FROM devices`)
	if err != nil {
		return err
	}
	epochs, err := s.heldEpochs(ctx)
	if err != nil {
		return err
	}
	kept, err := scalar[int](ctx, s.clinical, `SELECT count(*) FROM sync_keys WHERE epoch = 0`)
	if err != nil {
		return err
	}
	keptGeneral, err := scalar[int](ctx, s.general, `SELECT count(*) FROM sync_keys WHERE epoch = 0`)
	if err != nil {
		return err
	}
	if kept > 0 || keptGeneral > 0 {
		// A database key changed since the vault began: epoch 0's sync
		// keys no longer follow from the current ones.
		epochs = append([]uint32{0}, epochs...)
	}
	for _, e := range epochs {
		gk, _ := s.syncKey(ctx, cvsync.General, e)
		ck, _ := s.syncKey(ctx, cvsync.Clinical, e)
		wk, err := s.clinicalWrapKey(e)
		if err != nil || gk == nil || ck == nil {
			return fmt.Errorf("the keys of epoch %d are not all on this computer", e)
		}
		madeBy, err := scalarOr(ctx, s.general, "", `SELECT made_by FROM sync_keys WHERE epoch = ?`, e)
		if err != nil {
			return err
		}
		g.Epochs[e] = cvsync.EpochKeys{General: gk, ClinicalWrapped: store.SealBox(wk, ck, nil), MadeBy: madeBy}
	}
	body, err := json.Marshal(g)
	if err != nil {
		return err
	}
	box, err := cvsync.SealTo(req.PublicKey, store.LabelPairingGrant, body)
	store.Zero(body)
	if err != nil {
		return err
	}
	if err := inv.iv.Grant(box); err != nil {
		return err
	}
	now := s.v.now()
	name := req.Name
	if name == "" {
		name = "new computer"
	}
	return inTx(ctx, s.general, func(tx *sql.Tx) error {
		if err := s.cw().addDeviceToRoster(ctx, tx, req.DeviceID, name, req.PublicKey, req.SigningKey, now.Unix()); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "device-added", req.DeviceID, name)
	})
}

// NoInvitationError means the sync folder (or relay) holds no invitation
// for the code typed: mistyped, or another folder. It wraps
// cvsync.ErrPairing.
type NoInvitationError struct{ Dir string }

func (e *NoInvitationError) Error() string {
	if e.Dir == "" {
		return fmt.Sprintf("no invitation for that code (mistyped, or another folder or relay?): %v", cvsync.ErrPairing)
	}
	return fmt.Sprintf("no invitation for that code in %s (mistyped, or another folder?): %v", e.Dir, cvsync.ErrPairing)
}

// Unwrap is cvsync.ErrPairing.
func (e *NoInvitationError) Unwrap() error { return cvsync.ErrPairing }

// Join makes this (empty) data folder a new machine of the practice whose
// admin gave the code, through the sync folder dir, and remembers dir as
// this computer's sync folder (see JoinVia).
func (v *Vault) Join(ctx context.Context, dir, code, name string, onFingerprint func(string), poll time.Duration) error {
	if v.Exists() {
		return ErrVaultExists
	}
	if folderHasFiles(v.Dir) {
		return fmt.Errorf("%s is not empty: join into a new, empty folder: %w", v.Dir, ErrVaultExists)
	}
	f := cvsync.Folder{Dir: dir}
	if err := f.Check(); err != nil {
		return err
	}
	remember := func(ctx context.Context, tx *sql.Tx) error { return setSetting(ctx, tx, settingSyncFolder, dir) }
	err := v.JoinVia(ctx, f, remember, code, name, onFingerprint, poll)
	var none *NoInvitationError
	if errors.As(err, &none) {
		none.Dir = dir
	}
	return err
}

// JoinVia makes this (empty) data folder a new machine of the practice
// whose admin gave the code, through t (a folder or a relay): it commits
// to its answer, reveals it once the admin's computer has published its
// nonce, shows the fingerprint through onFingerprint, waits for the
// admin's approval, then sets up the vault and takes everything already on
// t. remember records, in the set-up's transaction, where this computer
// syncs. Staff then sign in with their own passphrases and codes.
func (v *Vault) JoinVia(ctx context.Context, t cvsync.Transport, remember func(ctx context.Context, tx *sql.Tx) error, code, name string, onFingerprint func(string), poll time.Duration) error {
	return v.joinVia(ctx, t, remember, nil, code, name, onFingerprint, poll)
}

// joinVia is JoinVia; accept, when not nil, checks the approval before
// anything is set up (the relay's certificate against the one the
// practice pinned).
func (v *Vault) joinVia(ctx context.Context, t cvsync.Transport, remember func(ctx context.Context, tx *sql.Tx) error, accept func(*pairingGrant) error, code, name string, onFingerprint func(string), poll time.Duration) error {
	if v.Exists() {
		return ErrVaultExists
	}
	if folderHasFiles(v.Dir) {
		return fmt.Errorf("%s is not empty: join into a new, empty folder: %w", v.Dir, ErrVaultExists)
	}
	j, err := cvsync.FindInvitation(t, code)
	if errors.Is(err, cvsync.ErrNoInvitation) {
		return &NoInvitationError{}
	}
	if err != nil {
		return err
	}
	offer := j.Offer
	if v.now().After(offer.Expires) {
		return cvsync.ErrPairingExpired
	}
	me := store.NewSlotSecrets(nil)
	defer me.Wipe()
	devID := newID()
	req := cvsync.Request{DeviceID: devID, Name: name, PublicKey: me.PublicKey(),
		SigningKey: ed25519.NewKeyFromSeed(me.SigningSeed).Public().(ed25519.PublicKey)}
	if err := j.Answer(req); err != nil {
		return err
	}
	var fp string
	if err := pollUntil(ctx, v.now, offer.Expires, poll, func() (done bool, err error) {
		fp, done, err = j.PollNonce()
		return done, err
	}); err != nil {
		return err
	}
	if onFingerprint != nil {
		onFingerprint(fp)
	}
	var box []byte
	if err := pollUntil(ctx, v.now, offer.Expires, poll, func() (done bool, err error) {
		box, done, err = j.PollGrant()
		return done, err
	}); err != nil {
		return err
	}
	body, err := cvsync.OpenFrom(me.Identity, store.LabelPairingGrant, box)
	if err != nil {
		return fmt.Errorf("the approval does not open with this computer's key: %w", cvsync.ErrPairing)
	}
	// Used: nothing of the pairing stays on the transport.
	j.Cleanup()
	defer store.Zero(body)
	var g pairingGrant
	if err := json.Unmarshal(body, &g); err != nil || g.VaultID != offer.VaultID {
		return fmt.Errorf("the approval is malformed: %w", cvsync.ErrPairing)
	}
	defer store.Zero(g.KGen)
	if accept != nil {
		if err := accept(&g); err != nil {
			return err
		}
	}
	return v.setUpJoined(ctx, t, remember, g, devID, me)
}

func (v *Vault) setUpJoined(ctx context.Context, t cvsync.Transport, remember func(ctx context.Context, tx *sql.Tx) error, g pairingGrant, devID string, me *store.SlotSecrets) (err error) {
	if err := os.MkdirAll(v.Dir, 0o700); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			for _, n := range []string{"general.db", "general.db-wal", "general.db-shm", store.KeyringFile} {
				os.Remove(filepath.Join(v.Dir, n))
			}
		}
	}()
	var kr store.Keyring
	if err := json.Unmarshal(g.Keyring, &kr); err != nil {
		return fmt.Errorf("keyring in the approval: %w", err)
	}
	gen, err := v.openDB(ctx, store.General, g.KGen)
	if err != nil {
		return err
	}
	// No clinical.db yet: it is made at the first clinician's sign-in.
	s := &Session{v: v, kr: &kr, general: gen, kGen: append([]byte(nil), g.KGen...),
		user: User{ID: "join", Name: "pairing", Role: Admin}, lastTouch: v.now()}
	defer s.wipe()
	if err := inTx(ctx, gen, func(tx *sql.Tx) error {
		for _, u := range g.Users {
			if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, name, role, created_at, removed_at, sign_pub) VALUES (?, ?, ?, ?, ?, ?)`,
				u.ID, u.Name, u.Role, u.Created, u.Removed, u.SignPub); err != nil {
				return err
			}
		}
		for _, d := range g.Devices {
			if _, err := tx.ExecContext(ctx, `INSERT INTO devices (id, name, x25519_pub, ed25519_pub, added_at, revoked_at, revoked_epoch) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				d.ID, d.Name, d.X25519, d.Ed25519, d.Added, d.Revoked, d.RevokedEpoch); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO device_keys (id, device_id, x25519_priv, ed25519_seed) VALUES (1, ?, ?, ?)`, devID, me.Identity, me.SigningSeed); err != nil {
			return err
		}
		if err := setSetting(ctx, tx, settingDevice, devID); err != nil {
			return err
		}
		if err := setSetting(ctx, tx, settingPractice, kr.Practice); err != nil {
			return err
		}
		if g.Relay != nil {
			if err := setRelaySetting(ctx, tx, *g.Relay); err != nil {
				return err
			}
		}
		if remember != nil {
			if err := remember(ctx, tx); err != nil {
				return err
			}
		}
		for e, k := range g.Epochs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO sync_keys (epoch, key, made_by) VALUES (?, ?, ?)`, e, k.General, k.MadeBy); err != nil {
				return err
			}
			// Opened at the first clinician's sign-in (installEpochs).
			if err := setSetting(ctx, tx, fmt.Sprintf("epoch_clinical_wrapped_%d", e), base64.StdEncoding.EncodeToString(k.ClinicalWrapped)); err != nil {
				return err
			}
		}
		return audit(ctx, tx, v.now(), actor{"pairing", "pairing"}, "device-joined", devID, "approved by an admin of "+kr.Practice)
	}); err != nil {
		return err
	}
	if err := s.startClock(ctx); err != nil {
		return err
	}
	kr.Throttle = map[string]*store.Throttle{}
	kr.Escrow = nil // the inviting computer's; this one seals its own
	ensureEscrow(&kr, g.KGen, generalLine.excluded(ctx, gen, g.KGen))
	if err := store.SaveKeyring(v.Dir, &kr); err != nil {
		return err
	}
	// The first catch-up; anything refused is recorded for the Sync screen
	// and does not undo the pairing.
	if r, ok := t.(*cvsync.Relay); ok && r.PairingOnly() {
		// Through the relay, as this computer (once the relay admits it)
		// rather than as a guest; if that does not happen in time, the
		// first sync after sign-in catches up.
		member, err := s.relayAsMember(ctx, readRelaySetting(ctx, s.general), me.SigningSeed)
		if err != nil {
			return nil
		}
		defer member.Close()
		t = member
	}
	var rep SyncReport
	incoming, err := fetchIncoming(ctx, t, s.general, s.device)
	if err != nil {
		return err
	}
	return s.pull(ctx, t, incoming, &rep)
}
