package app

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/store"
	"github.com/pquerna/otp"
)

func TestRFC6238Vectors(t *testing.T) {
	file, err := os.Open("testdata/rfc6238-sha1.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	secret := []byte("12345678901234567890")
	sc := bufio.NewScanner(file)
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		n++
		t.Run(fields[0], func(t *testing.T) {
			t.Parallel()
			unix, _ := strconv.ParseInt(fields[0], 10, 64)
			if got := totpCode(secret, unix/totpPeriod, otp.DigitsEight); got != fields[1] {
				t.Errorf("T=%d: got %s, want %s", unix, got, fields[1])
			}
			// The 6-digit code the app checks is the same HOTP value mod 10^6.
			if got := totpCode(secret, unix/totpPeriod, otp.DigitsSix); got != fields[1][2:] {
				t.Errorf("T=%d 6 digits: got %s, want %s", unix, got, fields[1][2:])
			}
		})
	}
	if n != 6 {
		t.Fatalf("read %d vectors, want 6", n)
	}
}

func TestCheckTOTPWindowAndReplay(t *testing.T) {
	secret := []byte("12345678901234567890")
	now := time.Unix(1111111111, 0)
	step := now.Unix() / totpPeriod
	for _, d := range []int64{-1, 0, 1} {
		got, ok := checkTOTP(secret, totpCode(secret, step+d, otp.DigitsSix), now, 0)
		if !ok || got != step+d {
			t.Errorf("skew %d refused", d)
		}
	}
	for _, d := range []int64{-2, 2} {
		if _, ok := checkTOTP(secret, totpCode(secret, step+d, otp.DigitsSix), now, 0); ok {
			t.Errorf("skew %d accepted", d)
		}
	}
	code := totpCode(secret, step, otp.DigitsSix)
	if _, ok := checkTOTP(secret, code, now, step); ok {
		t.Error("a step already used was accepted again")
	}
	if _, ok := checkTOTP(secret, totpCode(secret, step-1, otp.DigitsSix), now, step); ok {
		t.Error("an older step was accepted after a newer one")
	}
	if _, ok := checkTOTP(secret, "12345", now, 0); ok {
		t.Error("a 5-digit code was accepted")
	}
}

func TestSignInAndReplayedCode(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.clk.Advance(time.Minute)
	code := f.codeFor(f.secrets["Maria Admin"])
	s, err := f.v.SignIn(ctx, "maria admin", adminPass, code) // names match without case
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if u := s.User(); u.Role != Admin || u.Name != "Maria Admin" || !s.HasClinical() {
		t.Fatalf("user %+v clinical=%v", u, s.HasClinical())
	}
	s.Lock(ctx)
	// Same code, same step: refused although the passphrase is right.
	if _, err := f.v.SignIn(ctx, "Maria Admin", adminPass, code); !errors.Is(err, ErrSignInRefused) {
		t.Fatalf("replayed code: got %v, want ErrSignInRefused", err)
	}
}

func TestRefusalDoesNotSayWhichFactorWasWrong(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.clk.Advance(time.Minute)
	_, errPass := f.v.SignIn(ctx, "Maria Admin", "wrong passphrase entirely", f.codeFor(f.secrets["Maria Admin"]))
	f.clk.Advance(time.Minute)
	_, errCode := f.v.SignIn(ctx, "Maria Admin", adminPass, "000000")
	_, errUser := f.v.SignIn(ctx, "Nobody", adminPass, "000000")
	for _, err := range []error{errPass, errCode, errUser} {
		if !errors.Is(err, ErrSignInRefused) {
			t.Fatalf("got %v, want ErrSignInRefused", err)
		}
	}
	if errPass.Error() != errCode.Error() || errCode.Error() != errUser.Error() {
		t.Fatalf("messages differ: %q / %q / %q", errPass, errCode, errUser)
	}
}

func TestThrottlingAndLockout(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	wrong := func() error {
		_, err := f.v.SignIn(ctx, "Maria Admin", "not the passphrase at all", "123456")
		return err
	}
	for i := 1; i <= 5; i++ {
		if err := wrong(); !errors.Is(err, ErrSignInRefused) || errors.As(err, new(*ThrottledError)) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	// A restart (a new Vault value on the same folder) keeps the count.
	v2 := NewVault(f.v.Dir)
	v2.Now = f.clk.Now
	_, err := v2.SignIn(ctx, "Maria Admin", adminPass, f.codeFor(f.secrets["Maria Admin"]))
	var te *ThrottledError
	if !errors.As(err, &te) || !errors.Is(err, ErrSignInRefused) || te.Wait != 5*time.Second {
		t.Fatalf("6th attempt at once: got %v, want a 5 s wait", err)
	}
	if !strings.Contains(err.Error(), "try again in 5 s") {
		t.Fatalf("message %q", err)
	}
	// The delay grows: 5 s, then 10 s, then 20 s...
	f.clk.Advance(5 * time.Second)
	if err := wrong(); errors.As(err, &te) {
		t.Fatalf("after waiting: %v", err)
	}
	if err := wrong(); !errors.As(err, &te) || te.Wait != 10*time.Second {
		t.Fatalf("after 6 failures: %v, want 10 s", err)
	}
	// Up to 20 failures locks the account, even for the right passphrase.
	for i := 7; i <= 20; i++ {
		f.clk.Advance(maxDelay)
		if err := wrong(); !errors.Is(err, ErrSignInRefused) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	f.clk.Advance(time.Hour)
	if _, err := f.signIn("Maria Admin", adminPass); !errors.Is(err, ErrLockedOut) {
		t.Fatalf("locked account: got %v, want ErrLockedOut", err)
	}
	// The recovery key unlocks it (the only admin is the one locked out).
	enr, _ := NewEnrollment(practice, "Maria Admin")
	const newPass = "orchard bicycle lighthouse thimble"
	if err := f.v.Recover(ctx, f.recovery, "Maria Admin", newPass, enr); err != nil {
		t.Fatalf("recover: %v", err)
	}
	f.secrets["Maria Admin"] = enr.Secret()
	s := f.mustSignIn("Maria Admin", newPass)
	entries, err := s.AuditList(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, e := range entries {
		counts[e.Action]++
	}
	if counts["signin-failed"] != 19 || counts["account-locked-out"] != 1 || counts["recovery-key-used"] != 1 {
		t.Fatalf("audit counts %v", counts)
	}
	if _, err := s.AuditVerify(ctx); err != nil {
		t.Fatalf("audit chain: %v", err)
	}
}

func TestAdminUnlocksLockedOutUser(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(admin, "Rita Front", Receptionist, recPass)
	for i := 0; i < lockoutFailures; i++ {
		f.clk.Advance(maxDelay)
		f.v.SignIn(ctx, "Rita Front", "not her passphrase at all", "000000")
	}
	if _, err := f.signIn("Rita Front", recPass); !errors.Is(err, ErrLockedOut) {
		t.Fatalf("got %v, want ErrLockedOut", err)
	}
	users, _ := admin.ListUsers(ctx)
	var rita User
	for _, u := range users {
		if u.Name == "Rita Front" {
			rita = u
		}
	}
	if !rita.LockedOut || rita.Failures != lockoutFailures {
		t.Fatalf("ListUsers shows %+v", rita)
	}
	if err := admin.UnlockUser(ctx, "Rita Front"); err != nil {
		t.Fatal(err)
	}
	f.mustSignIn("Rita Front", recPass)
}

// TestReceptionistCannotOpenClinical tries every way a receptionist's own
// credentials could reach clinical.db, including calling store directly.
func TestReceptionistCannotOpenClinical(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(admin, "Rita Front", Receptionist, recPass)
	s := f.mustSignIn("Rita Front", recPass)
	if s.HasClinical() {
		t.Fatal("receptionist session has clinical.db open")
	}
	kr, err := store.LoadKeyring(f.v.Dir)
	if err != nil {
		t.Fatal(err)
	}
	slot, _ := kr.SlotByName("Rita Front")
	kek, err := store.DeriveKEK(recPass, *slot.KDF)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := store.UnwrapSlot(kek, kr.VaultID, slot.UserID, slot.Version, slot.Wrapped)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := slot.Grants[store.Clinical]; ok {
		t.Fatal("receptionist slot has a clinical grant")
	}
	kGen, err := store.OpenGrant(secrets.Identity, kr.VaultID, slot.UserID, slot.Role, store.General, slot.Grants[store.General])
	if err != nil {
		t.Fatal(err)
	}
	clinPath := filepath.Join(f.v.Dir, store.Clinical.FileName())
	if _, err := store.Open(ctx, clinPath, store.Clinical, kGen); !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("general key on clinical.db: got %v, want ErrWrongKey", err)
	}
	adminSlot, _ := kr.SlotByName("Maria Admin")
	for _, role := range []string{"admin", "receptionist", "clinician"} {
		if _, err := store.OpenGrant(secrets.Identity, kr.VaultID, adminSlot.UserID, role, store.Clinical, adminSlot.Grants[store.Clinical]); err == nil {
			t.Fatal("receptionist identity opened the admin's clinical grant")
		}
	}
	// Editing her role in vault.keys does not help: the grant is bound to
	// the role, and general.db disagrees anyway.
	slot.Role = "clinician"
	if err := store.SaveKeyring(f.v.Dir, kr); err != nil {
		t.Fatal(err)
	}
	if _, err := f.signIn("Rita Front", recPass); !errors.Is(err, ErrSignInRefused) {
		t.Fatalf("edited role: got %v, want ErrSignInRefused", err)
	}
}

func TestRolesPermissionsAndDemotion(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(admin, "Dr Omar Haddad", Clinician, docPass)
	f.addUser(admin, "Rita Front", Receptionist, recPass)

	rita := f.mustSignIn("Rita Front", recPass)
	if err := rita.AddUser(ctx, "Eve", Admin, "another long passphrase here", &Enrollment{}); !errors.Is(err, ErrNotPermitted) {
		t.Fatalf("receptionist added a user: %v", err)
	}
	if _, err := rita.AuditList(ctx, 10); !errors.Is(err, ErrNotPermitted) {
		t.Fatalf("receptionist read the audit: %v", err)
	}
	doc := f.mustSignIn("Dr Omar Haddad", docPass)
	if !doc.HasClinical() {
		t.Fatal("clinician without clinical.db")
	}
	doc.Lock(ctx)
	if err := admin.SetRole(ctx, "Dr Omar Haddad", Receptionist); err != nil {
		t.Fatal(err)
	}
	doc = f.mustSignIn("Dr Omar Haddad", docPass)
	if doc.HasClinical() || doc.User().Role != Receptionist {
		t.Fatal("demoted user still opens clinical.db")
	}
	kr, _ := store.LoadKeyring(f.v.Dir)
	if s, _ := kr.SlotByName("Dr Omar Haddad"); s.Grants[store.Clinical] != nil {
		t.Fatal("demoted slot keeps its clinical grant")
	}
	// Promote back: the clinical grant returns.
	if err := admin.SetRole(ctx, "Dr Omar Haddad", Clinician); err != nil {
		t.Fatal(err)
	}
	doc = f.mustSignIn("Dr Omar Haddad", docPass)
	if !doc.HasClinical() {
		t.Fatal("re-promoted clinician cannot open clinical.db")
	}
	// The last admin can neither be removed nor demoted.
	if err := admin.RemoveUser(ctx, "Maria Admin"); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("removed last admin: %v", err)
	}
	if err := admin.SetRole(ctx, "Maria Admin", Clinician); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("demoted last admin: %v", err)
	}
	// Removal: the passphrase opens nothing any more.
	if err := admin.RemoveUser(ctx, "Rita Front"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.signIn("Rita Front", recPass); !errors.Is(err, ErrSignInRefused) {
		t.Fatalf("removed user signed in: %v", err)
	}
	if err := admin.RemoveUser(ctx, "Rita Front"); !errors.Is(err, ErrUserNotFound) {
		t.Fatalf("second removal: %v", err)
	}
	users, _ := admin.ListUsers(ctx)
	if len(users) != 2 {
		t.Fatalf("ListUsers: %d users", len(users))
	}
	// A duplicate name is refused.
	enr, _ := NewEnrollment(practice, "x")
	if err := admin.AddUser(ctx, "dr omar haddad", Clinician, "ember quarry violin tadpole", enr); !errors.Is(err, ErrUserExists) {
		t.Fatalf("duplicate user: %v", err)
	}
}

func TestResetTOTPRequiresNewEnrollment(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(admin, "Rita Front", Receptionist, recPass)
	if err := admin.ResetTOTP(ctx, "Rita Front"); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Minute)
	s, err := f.v.SignIn(ctx, "Rita Front", recPass, "")
	if !errors.Is(err, ErrEnrollTOTP) || s == nil {
		t.Fatalf("got %v, want ErrEnrollTOTP with a session", err)
	}
	if _, err := s.ListUsers(ctx); !errors.Is(err, ErrEnrollTOTP) {
		t.Fatalf("restricted session used: %v", err)
	}
	enr, err := s.BeginTOTPEnrollment()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmTOTPEnrollment(ctx, enr, "000000"); !errors.Is(err, ErrCodeRejected) {
		t.Fatalf("wrong code: %v", err)
	}
	if err := s.ConfirmTOTPEnrollment(ctx, enr, f.codeFor(enr.Secret())); err != nil {
		t.Fatal(err)
	}
	s.Lock(ctx)
	// The old authenticator no longer works; the new one does.
	old := f.secrets["Rita Front"]
	f.clk.Advance(time.Minute)
	if _, err := f.v.SignIn(ctx, "Rita Front", recPass, f.codeFor(old)); !errors.Is(err, ErrSignInRefused) {
		t.Fatalf("old authenticator: %v", err)
	}
	f.secrets["Rita Front"] = enr.Secret()
	f.mustSignIn("Rita Front", recPass)
}

func TestChangePassphrase(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	const next = "marble thistle windmill accordion"
	if err := s.ChangePassphrase(ctx, "not the current one at all", next); !errors.Is(err, ErrSignInRefused) {
		t.Fatalf("wrong current: %v", err)
	}
	if err := s.ChangePassphrase(ctx, adminPass, "password1234"); !errors.Is(err, ErrPolicy) {
		t.Fatalf("weak new: %v", err)
	}
	if err := s.ChangePassphrase(ctx, adminPass, next); err != nil {
		t.Fatal(err)
	}
	s.Lock(ctx)
	if _, err := f.signIn("Maria Admin", adminPass); !errors.Is(err, ErrSignInRefused) {
		t.Fatalf("old passphrase still works: %v", err)
	}
	f.mustSignIn("Maria Admin", next)
}

func TestLockAndIdleLock(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	if s.IdleLockAfter() != DefaultIdleLock {
		t.Fatalf("idle lock %v", s.IdleLockAfter())
	}
	if err := s.SetIdleLock(ctx, 10*time.Second); !errors.Is(err, ErrUsage) {
		t.Fatalf("10 s idle lock accepted: %v", err)
	}
	if err := s.SetIdleLock(ctx, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(90 * time.Second)
	if s.LockIfIdle(ctx) {
		t.Fatal("locked before the idle time")
	}
	s.Touch()
	f.clk.Advance(90 * time.Second)
	if s.LockIfIdle(ctx) {
		t.Fatal("Touch did not postpone the lock")
	}
	locked := false
	s.OnLock(func() { locked = true })
	kGen, kClin, identity := s.kGen, s.kClin, s.secrets.Identity
	f.clk.Advance(31 * time.Second)
	if !s.LockIfIdle(ctx) || !s.Locked() || !locked {
		t.Fatal("idle session did not lock")
	}
	if _, err := s.ListUsers(ctx); !errors.Is(err, ErrLocked) {
		t.Fatalf("locked session answered: %v", err)
	}
	if s.kGen != nil || s.kClin != nil || s.secrets != nil || s.general != nil {
		t.Fatal("locked session still holds keys or databases")
	}
	for _, k := range [][]byte{kGen, kClin, identity} {
		for _, b := range k {
			if b != 0 {
				t.Fatal("key bytes were not zeroed on lock")
			}
		}
	}
	// The idle setting persists for the next session.
	s2 := f.mustSignIn("Maria Admin", adminPass)
	if s2.IdleLockAfter() != 2*time.Minute {
		t.Fatalf("idle lock after restart %v", s2.IdleLockAfter())
	}
	entries, _ := s2.AuditList(ctx, 0)
	var sawIdle bool
	for _, e := range entries {
		if e.Action == "lock" && strings.HasPrefix(e.Detail, "idle") {
			sawIdle = true
		}
	}
	if !sawIdle {
		t.Fatal("idle lock not audited")
	}
}

func TestRecoveryKeyParsing(t *testing.T) {
	raw, key := newRecoveryKey()
	if len(raw)*8 < 128 {
		t.Fatalf("recovery key has %d bits", len(raw)*8)
	}
	got, err := ParseRecoveryKey(strings.ToLower(strings.ReplaceAll(key, "-", " ")))
	if err != nil || string(got) != string(raw) {
		t.Fatalf("parse lowercase/spaces: %v", err)
	}
	typo := []byte(key)
	if typo[0] == 'A' {
		typo[0] = 'B'
	} else {
		typo[0] = 'A'
	}
	if _, err := ParseRecoveryKey(string(typo)); !errors.Is(err, ErrBadRecoveryKey) {
		t.Fatalf("typo: %v", err)
	}
	if _, err := ParseRecoveryKey("ABCD"); !errors.Is(err, ErrBadRecoveryKey) {
		t.Fatalf("short: %v", err)
	}
}

func TestRecoverWithWrongKeyChangesNothing(t *testing.T) {
	f := newFixture(t)
	_, other := newRecoveryKey()
	before, _ := os.ReadFile(filepath.Join(f.v.Dir, store.KeyringFile))
	enr, _ := NewEnrollment(practice, "Maria Admin")
	err := f.v.Recover(context.Background(), other, "Maria Admin", "orchard bicycle lighthouse thimble", enr)
	if !errors.Is(err, ErrBadRecoveryKey) {
		t.Fatalf("got %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(f.v.Dir, store.KeyringFile))
	if string(before) != string(after) {
		t.Fatal("a failed recovery changed the keyring")
	}
	f.mustSignIn("Maria Admin", adminPass)
}

func TestCreateRefusesExistingVaultAndWeakPassphrase(t *testing.T) {
	f := newFixture(t)
	enr, _ := NewEnrollment(practice, "x")
	if _, err := f.v.Create(context.Background(), practice, "Other", "orchard bicycle lighthouse thimble", enr); !errors.Is(err, ErrVaultExists) {
		t.Fatalf("second create: %v", err)
	}
	v := NewVault(t.TempDir())
	v.UseMinimumKDF()
	if _, err := v.Create(context.Background(), practice, "Maria", "short", enr); !errors.Is(err, ErrPolicy) {
		t.Fatalf("weak: %v", err)
	}
	if v.Exists() {
		t.Fatal("a refused create left a vault")
	}
}

func TestAuditRecordsTheVaultCoreEvents(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(admin, "Rita Front", Receptionist, recPass)
	f.addUser(admin, "Dr Omar Haddad", Clinician, docPass)
	admin.SetRole(ctx, "Dr Omar Haddad", Admin)
	admin.ResetTOTP(ctx, "Rita Front")
	admin.UnlockUser(ctx, "Rita Front")
	admin.RemoveUser(ctx, "Rita Front")
	f.clk.Advance(time.Minute)
	f.v.SignIn(ctx, "Maria Admin", "wrong wrong wrong wrong", "000000")
	admin.Lock(ctx)
	s := f.mustSignIn("Maria Admin", adminPass)
	entries, err := s.AuditList(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.Action] = true
	}
	for _, want := range []string{"vault-created", "user-added", "signin", "signin-failed", "lock", "role-changed", "totp-reset", "user-unlocked", "user-removed"} {
		if !seen[want] {
			t.Errorf("no %q in the audit log", want)
		}
	}
	if n, err := s.AuditVerify(ctx); err != nil || n != len(entries) {
		t.Fatalf("verify: n=%d of %d, %v", n, len(entries), err)
	}
}

func TestRecoveryKitPDF(t *testing.T) {
	b, err := RecoveryKitPDF("Clínica Núñez", "ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345-6789-ABCD", testEpoch)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "%PDF-") || len(b) < 1000 {
		t.Fatalf("not a PDF (%d bytes)", len(b))
	}
}

func TestWrongCurrentPassphraseCountsAsFailure(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	for i := 0; i < freeFailures; i++ {
		if err := s.ChangePassphrase(ctx, "guess number something", "marble thistle windmill accordion"); !errors.Is(err, ErrSignInRefused) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	var te *ThrottledError
	if err := s.ChangePassphrase(ctx, "another guess entirely", "marble thistle windmill accordion"); !errors.As(err, &te) {
		t.Fatalf("6th guess at once: %v", err)
	}
	users, _ := s.ListUsers(ctx)
	if users[0].Failures != freeFailures {
		t.Fatalf("failures %d", users[0].Failures)
	}
}

// TestIdleLockFiresWhileBackgroundJobsRun: the sync watcher asks for the
// folder and syncs every second or two, the backup scheduler runs, the
// Today screen refreshes — none of it is a person's activity. Set to two
// minutes, the session locks two minutes after the last input, with all
// of that going on (today it never locked).
func TestIdleLockFiresWhileBackgroundJobsRun(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	dir := t.TempDir()
	if err := s.SetSyncFolder(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if err := s.SetIdleLock(ctx, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	s.Touch()
	for i := 0; i < 130; i++ {
		f.clk.Advance(time.Second)
		s.SyncFolder(ctx)
		s.SyncNeeded(ctx, dir)
		if i%10 == 0 {
			if _, err := s.Sync(ctx, dir); err != nil {
				t.Fatal(err)
			}
			s.RunScheduledBackup(ctx, nil)
			s.Day(ctx, f.clk.Now())
			s.SecurityReport(ctx)
		}
		if i < 110 && s.LockIfIdle(ctx) {
			t.Fatalf("locked after %d s", i+1)
		}
	}
	if !s.LockIfIdle(ctx) {
		t.Fatal("the session did not lock two minutes after the last input, with the background jobs running")
	}
}
