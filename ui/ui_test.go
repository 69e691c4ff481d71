package ui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/store"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/kit/kittest"
)

func TestWizardCreatesVault(t *testing.T) {
	v, clk := newTestVault(t)
	g := newTestGUI(t, v)
	if g.screen != "wizard" {
		t.Fatalf("screen %q, want the wizard for an empty folder", g.screen)
	}
	w := g.wizard
	if g.win.Canvas().Focused() != w.practice {
		t.Error("the practice name field does not have focus")
	}
	next := button(t, g, "Next")
	if !next.Disabled() {
		t.Error("Next is enabled with no names typed")
	}
	typeIn(g, w.practice, "Riverside Family Practice")
	typeIn(g, w.admin, "Dana Whitfield")
	shot(t, g, "wizard-1-practice")
	pressEnter(t, g, w.admin) // Enter in the last field goes on

	if w.step != stepPassphrase {
		t.Fatalf("step %d after Enter, want the passphrase step", w.step)
	}
	typeIn(g, w.pair.pass, "password1234")
	typeIn(g, w.pair.confirm, "password1234")
	want := v.MeasurePassphrase("password1234", "Dana Whitfield", "Riverside Family Practice")
	if want.OK || want.Reason == "" {
		t.Fatalf("test passphrase unexpectedly accepted: %+v", want)
	}
	if !showsText(g, want.Reason) {
		t.Errorf("the refusal reason %q is not shown", want.Reason)
	}
	if !next.Disabled() {
		t.Error("Next is enabled for a refused passphrase")
	}
	shot(t, g, "wizard-2-passphrase-refused")

	w.pair.pass.SetText("")
	typeIn(g, w.pair.pass, adminPass)
	w.pair.confirm.SetText("")
	typeIn(g, w.pair.confirm, "copper lantern")
	if !showsText(g, "do not match") || !next.Disabled() {
		t.Error("a mismatched confirmation is not refused")
	}
	typeIn(g, w.pair.confirm, " orbit meadow")
	if next.Disabled() {
		t.Fatal("Next is disabled for an accepted, confirmed passphrase")
	}
	shot(t, g, "wizard-2-passphrase-ok")
	tap(t, g, "Next")

	if w.step != stepAuthenticator || w.enr == nil {
		t.Fatalf("step %d, want the authenticator step", w.step)
	}
	create := button(t, g, "Create the vault")
	right := code(t, w.enr.Secret(), clk)
	typeIn(g, w.panel.code, wrongCode(right))
	if !create.Disabled() {
		t.Error("a wrong code enables Create")
	}
	if !showsText(g, "not the code the app shows now") {
		t.Error("a wrong code is not explained")
	}
	shot(t, g, "wizard-3-wrong-code")
	w.panel.code.SetText("")
	typeIn(g, w.panel.code, right)
	if create.Disabled() {
		t.Fatal("the right code does not enable Create")
	}
	shot(t, g, "wizard-3-authenticator")
	if v.Exists() {
		t.Fatal("the vault exists before Create")
	}
	pressEnter(t, g, w.panel.code)
	settle(t, g)

	if !v.Exists() {
		t.Fatalf("no vault after Create; status: %q", w.status.Text)
	}
	info, err := v.Info()
	if err != nil {
		t.Fatal(err)
	}
	if info.Practice != "Riverside Family Practice" || !slices.Equal(info.Users, []string{"Dana Whitfield"}) {
		t.Errorf("vault info %+v", info)
	}
	if w.step != stepRecoveryKey {
		t.Fatalf("step %d after Create, want the recovery key", w.step)
	}
	key := w.keyText.Text
	if !regexp.MustCompile(`^([0-9A-Z]{4}-){8}[0-9A-Z]{4}$`).MatchString(key) {
		t.Errorf("recovery key shown as %q", key)
	}
	if _, err := app.ParseRecoveryKey(key); err != nil {
		t.Errorf("the key shown does not parse: %v", err)
	}
	if w.pair.pass.Text != "" {
		t.Error("the passphrase stays in the wizard's field after Create")
	}
	finish := button(t, g, "Finish")
	if !finish.Disabled() || !button(t, g, "Back").Disabled() {
		t.Error("Finish must wait for the checkbox, and Back must be off once the vault exists")
	}
	shot(t, g, "wizard-4-recovery-key")
	var pdf bytes.Buffer
	if err := writeRecoveryKit(nopCloser{&pdf}, "Riverside Family Practice", key, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pdf.Bytes(), []byte("%PDF")) {
		t.Error("the recovery kit is not a PDF")
	}
	test.Tap(w.saved)
	tap(t, g, "Finish")

	if g.screen != "signin" || g.signIn.user.Selected != "Dana Whitfield" {
		t.Fatalf("after Finish: screen %q, user %q", g.screen, g.signIn.user.Selected)
	}
	if g.win.Canvas().Focused() != g.signIn.pass {
		t.Error("the passphrase field does not have focus on sign-in with a user chosen")
	}
	shot(t, g, "signin")
	golden(t, g, "signin")

	// The admin signs in with the next code.
	clk.Add(30 * time.Second)
	signInGUI(t, g, "Dana Whitfield", adminPass, code(t, w.enr.Secret(), clk))
	if g.screen != "shell" {
		t.Fatalf("screen %q after sign-in; status %q", g.screen, g.signIn.status.Text)
	}
}

type nopCloser struct{ *bytes.Buffer }

func (nopCloser) Close() error { return nil }

func TestWizardBackKeepsEnrollment(t *testing.T) {
	v, _ := newTestVault(t)
	g := newTestGUI(t, v)
	w := g.wizard
	typeIn(g, w.practice, "Hillside Clinic")
	typeIn(g, w.admin, "Ana Núñez")
	tap(t, g, "Next")
	typeIn(g, w.pair.pass, adminPass)
	typeIn(g, w.pair.confirm, adminPass)
	tap(t, g, "Next")
	first := w.enr
	tap(t, g, "Back")
	tap(t, g, "Next")
	if w.enr != first {
		t.Error("going back and forth made a new secret though the names did not change")
	}
	tap(t, g, "Back")
	tap(t, g, "Back")
	w.admin.SetText("Ana Nunez-Lopez")
	tap(t, g, "Next")
	tap(t, g, "Next")
	if w.enr == first {
		t.Error("a changed name kept the old secret, labelled with the old name")
	}
}

func TestSignInRefusesThenOpensShellAndLocks(t *testing.T) {
	v, clk := newTestVault(t)
	secret, _ := createVault(t, v, clk, "Riverside Family Practice", "Dana Whitfield")
	g := newTestGUI(t, v)
	if g.screen != "signin" || g.signIn.user.Selected != "Dana Whitfield" {
		t.Fatalf("screen %q, user %q: want sign-in with the only user chosen", g.screen, g.signIn.user.Selected)
	}

	signInGUI(t, g, "Dana Whitfield", "not the passphrase at all", code(t, secret, clk))
	if g.screen != "signin" || g.session != nil {
		t.Fatal("a wrong passphrase signed in")
	}
	if got := g.signIn.status.Text; got != "The passphrase or the code is not right." {
		t.Errorf("refusal shown as %q", got)
	}
	if g.signIn.pass.Text != "" || g.signIn.code.Text != "" {
		t.Error("the fields are not cleared after a refusal")
	}
	if g.signIn.submit.Disabled() {
		t.Error("Sign in stays disabled after a refusal")
	}
	shot(t, g, "signin-refused")
	g.signIn.setWorking(true)
	g.signIn.status.Say(widget.MediumImportance, "Checking…")
	shot(t, g, "signin-busy")
	g.signIn.setWorking(false)

	clk.Add(30 * time.Second)
	signInGUI(t, g, "Dana Whitfield", adminPass, code(t, secret, clk))
	if g.screen != "shell" || g.session == nil {
		t.Fatalf("screen %q after the right passphrase; status %q", g.screen, g.signIn.status.Text)
	}
	s := g.session
	if got := g.shell.navNames(); !slices.Equal(got, []string{"Today", "Patients", "Import", "Export", "Staff", "Security Center", "Audit log", "Emergency access", "Access review", "Backups", "Sync", "Computers", "Home", "Training", "My account"}) {
		t.Errorf("admin navigation %v", got)
	}
	if g.shell.current != "Today" || !showsText(g, "Signed in as Dana Whitfield (admin)") {
		t.Error("the shell does not open on Today with the user named")
	}
	// The admin's fifteen entries, in four groups, fit at 1024×700
	// without scrolling.
	shotSizes(t, g, "shell-admin")
	g.win.Resize(fyne.NewSize(1024, 700))
	for range 3 {
		for _, r := range kittest.Roots(g.win) {
			kittest.Relayout(r)
		}
	}
	need := float32(0)
	for _, r := range g.shell.rows {
		if r.item < 0 {
			need += navHeadingHeight
		} else {
			need += navItemHeight
		}
		need += theme.Padding() // Fyne's list puts a padding between rows
	}
	if have := g.shell.nav.Size().Height; need > have {
		t.Errorf("the navigation needs %.0f px at 1024×700 and has %.0f: it scrolls", need, have)
	}
	g.shell.openNamed("Home")
	if !showsText(g, "Welcome, Dana Whitfield") {
		t.Error("Home does not welcome the user")
	}
	shot(t, g, "home-admin")
	golden(t, g, "home-admin")

	tap(t, g, "Lock")
	if !s.Locked() {
		t.Fatal("Lock did not lock the session")
	}
	if g.screen != "signin" || g.session != nil {
		t.Fatalf("screen %q after Lock", g.screen)
	}
	if g.signIn.user.Selected != "Dana Whitfield" {
		t.Errorf("user %q preselected after Lock", g.signIn.user.Selected)
	}
	if _, err := s.ListUsers(context.Background()); !errors.Is(err, app.ErrLocked) {
		t.Errorf("the locked session still answers: %v", err)
	}
}

func TestThrottledSignInSaysWhen(t *testing.T) {
	v, clk := newTestVault(t)
	createVault(t, v, clk, "Riverside Family Practice", "Dana Whitfield")
	g := newTestGUI(t, v)
	for range 6 {
		signInGUI(t, g, "Dana Whitfield", "wrong wrong wrong wrong", "000000")
	}
	if got := g.signIn.status.Text; !strings.HasPrefix(got, "Too many failed sign-ins: try again in") {
		t.Errorf("throttled refusal shown as %q", got)
	}
	shot(t, g, "signin-throttled")
}

// signedInAdmin creates a vault and signs its admin in through the GUI.
func signedInAdmin(t *testing.T) (*gui, *app.Vault, *clock, string) {
	t.Helper()
	v, clk := newTestVault(t)
	secret, _ := createVault(t, v, clk, "Riverside Family Practice", "Dana Whitfield")
	g := newTestGUI(t, v)
	signInGUI(t, g, "Dana Whitfield", adminPass, code(t, secret, clk))
	if g.screen != "shell" {
		t.Fatalf("admin sign-in failed: %q", g.signIn.status.Text)
	}
	return g, v, clk, secret
}

func TestLockShortcut(t *testing.T) {
	g, _, _, _ := signedInAdmin(t)
	s := g.session
	// With a text field focused, the field passes Ctrl+L on.
	if !g.shell.openNamed("My account") {
		t.Fatal("no My account")
	}
	if g.win.Canvas().Focused() != g.shell.account.current {
		t.Error("My account does not focus the current passphrase")
	}
	g.shell.account.current.TypedShortcut(lockShortcut)
	settle(t, g)
	if !s.Locked() || g.screen != "signin" {
		t.Fatal("Ctrl+L in a text field did not lock")
	}
}

func TestLockShortcutOnCanvas(t *testing.T) {
	g, _, _, _ := signedInAdmin(t)
	s := g.session
	g.win.Canvas().Unfocus()
	g.win.Canvas().(fyne.Shortcutable).TypedShortcut(lockShortcut)
	settle(t, g)
	if !s.Locked() || g.screen != "signin" {
		t.Fatal("Ctrl+L on the window did not lock")
	}
}

func TestAdminAddsReceptionist(t *testing.T) {
	g, v, clk, _ := signedInAdmin(t)
	g.shell.openNamed("Staff")
	u := g.shell.users
	if len(u.users) != 1 || u.users[0].Name != "Dana Whitfield" || u.users[0].Role != app.Admin {
		t.Fatalf("users %+v", u.users)
	}
	if !showsText(g, "active") {
		t.Error("the admin's status is not shown")
	}
	shot(t, g, "users")
	golden(t, g, "users")

	tap(t, g, "Add user…")
	a := u.adding
	if a == nil || len(g.dialogs) != 1 {
		t.Fatal("no Add user dialog")
	}
	if g.win.Canvas().Focused() != a.name {
		t.Error("the name field does not have focus")
	}
	typeIn(g, a.name, "Sam Reyes")
	if a.role.Selected != "Receptionist" {
		t.Errorf("role %q preselected", a.role.Selected)
	}
	typeIn(g, a.pair.pass, "Sam Reyes 2024")
	if !button(t, g, "Next").Disabled() {
		t.Error("Next is enabled for a passphrase with the user's name")
	}
	a.pair.pass.SetText("")
	typeIn(g, a.pair.pass, staffPass)
	typeIn(g, a.pair.confirm, staffPass)
	shot(t, g, "users-add-1-details")
	pressEnter(t, g, a.pair.confirm)

	if !a.step2 {
		t.Fatalf("still on the details step: %q", a.status.Text)
	}
	add := button(t, g, "Add Sam Reyes")
	if !add.Disabled() {
		t.Error("Add is enabled before a code is confirmed")
	}
	secret := a.panel.enr.Secret()
	typeIn(g, a.panel.code, wrongCode(code(t, secret, clk)))
	if !add.Disabled() {
		t.Error("a wrong code enables Add")
	}
	a.panel.code.SetText("")
	typeIn(g, a.panel.code, code(t, secret, clk))
	shot(t, g, "users-add-2-authenticator")
	tap(t, g, "Add Sam Reyes")
	settle(t, g)

	if len(g.dialogs) != 0 {
		t.Errorf("the dialog stays open: %q", a.status.Text)
	}
	info, _ := v.Info()
	if !slices.Contains(info.Users, "Sam Reyes") {
		t.Fatalf("Sam Reyes is not in the vault: %v", info.Users)
	}
	list, err := g.session.ListUsers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var sam app.User
	for _, usr := range list {
		if usr.Name == "Sam Reyes" {
			sam = usr
		}
	}
	if sam.Role != app.Receptionist {
		t.Errorf("Sam's role is %q", sam.Role)
	}
	if len(u.users) != 2 || !showsText(g, "Sam Reyes was added as a receptionist") {
		t.Error("the list was not refreshed or the result not said")
	}
	shot(t, g, "users-added")

	// Sam signs in: a receptionist has no Users or Audit log.
	tap(t, g, "Lock")
	clk.Add(30 * time.Second)
	signInGUI(t, g, "Sam Reyes", staffPass, code(t, secret, clk))
	if g.screen != "shell" {
		t.Fatalf("Sam could not sign in: %q", g.signIn.status.Text)
	}
	if got := g.shell.navNames(); !slices.Equal(got, []string{"Today", "Patients", "Import", "Export", "Backups", "Sync", "Computers", "Home", "Training", "My account"}) {
		t.Errorf("receptionist navigation %v", got)
	}
	if g.session.User().Role != app.Receptionist || g.session.HasClinical() {
		t.Error("Sam's session is not a receptionist's")
	}
	g.shell.openNamed("Home")
	if !showsText(g, "Clinical records do not open") {
		t.Error("Home does not say clinical records are closed to receptionists")
	}
	shot(t, g, "home-receptionist")
}

func TestAddUserRefusesExistingName(t *testing.T) {
	g, _, _, _ := signedInAdmin(t)
	g.shell.openNamed("Staff")
	tap(t, g, "Add user…")
	a := g.shell.users.adding
	typeIn(g, a.name, "dana whitfield")
	typeIn(g, a.pair.pass, staffPass)
	typeIn(g, a.pair.confirm, staffPass)
	tap(t, g, "Next")
	if a.step2 || !strings.Contains(a.status.Text, "already exists") {
		t.Errorf("a taken name went on to the QR step: %q", a.status.Text)
	}
}

func TestEscClosesDialogs(t *testing.T) {
	g, _, _, _ := signedInAdmin(t)
	g.shell.openNamed("Staff")
	tap(t, g, "Add user…")
	a := g.shell.users.adding
	a.name.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if len(g.dialogs) != 0 || len(g.win.Canvas().Overlays().List()) != 0 {
		t.Fatal("Esc in a field did not close the dialog")
	}

	// A confirmation dialog has no field: the window gets the key.
	u := g.shell.users
	u.list.Select(0)
	tap(t, g, "Reset authenticator…")
	if len(g.dialogs) != 1 {
		t.Fatal("no confirmation dialog")
	}
	g.win.Canvas().Unfocus()
	g.win.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if len(g.dialogs) != 0 {
		t.Fatal("Esc did not close the confirmation")
	}
	list, _ := g.session.ListUsers(context.Background())
	if list[0].TOTPReset {
		t.Error("Esc confirmed the reset")
	}
}

func TestUsersActions(t *testing.T) {
	g, v, clk, _ := signedInAdmin(t)
	ctx := context.Background()
	s := g.session
	enr, _ := app.NewEnrollment("Riverside Family Practice", "Lee Park")
	enr.Confirm(code(t, enr.Secret(), clk), clk.Now())
	if err := s.AddUser(ctx, "Lee Park", app.Clinician, staffPass, enr); err != nil {
		t.Fatal(err)
	}
	// Two failed sign-ins for Lee.
	for range 2 {
		if _, err := v.SignIn(ctx, "Lee Park", "wrong wrong wrong", "000000"); !errors.Is(err, app.ErrSignInRefused) {
			t.Fatal(err)
		}
	}
	g.shell.openNamed("Staff")
	u := g.shell.users
	if !showsText(g, "2 failed sign-ins") {
		t.Error("failed sign-ins are not shown")
	}

	// The only admin cannot demote herself.
	u.list.Select(0)
	if u.sel != "Dana Whitfield" {
		t.Fatalf("selected %q", u.sel)
	}
	if !button(t, g, "Unlock").Disabled() || !button(t, g, "Remove…").Disabled() {
		t.Error("Unlock or Remove is enabled for the signed-in admin without failures")
	}
	// The practice manager sees patients only when marked so.
	tap(t, g, "Sees patients")
	if names, _ := s.Clinicians(ctx); !slices.Contains(names, "Dana Whitfield") || !showsText(g, "Admin, sees patients") {
		t.Fatalf("Sees patients did not mark the admin as bookable: %v", names)
	}
	tap(t, g, "Does not see patients")
	if names, _ := s.Clinicians(ctx); slices.Contains(names, "Dana Whitfield") {
		t.Fatalf("Does not see patients left the admin bookable: %v", names)
	}
	u.list.Select(0)
	tap(t, g, "Change role…")
	shot(t, g, "users-change-role")
	pick := findSelect(t, g)
	pick.SetSelected("Receptionist")
	tap(t, g, "Change role")
	settle(t, g)
	if !showsText(g, "The practice must keep at least one admin") {
		t.Error("the last-admin refusal is not shown")
	}
	shot(t, g, "users-error-last-admin")
	if s.User().Role != app.Admin {
		t.Fatal("the last admin was demoted")
	}
	tap(t, g, "OK")

	// Unlock Lee.
	u.list.Select(1)
	if u.sel != "Lee Park" {
		t.Fatalf("selected %q", u.sel)
	}
	tap(t, g, "Unlock")
	list, _ := s.ListUsers(ctx)
	if list[1].Failures != 0 {
		t.Errorf("Lee still has %d failures", list[1].Failures)
	}
	if !button(t, g, "Unlock").Disabled() {
		t.Error("Unlock stays enabled after unlocking")
	}

	// Reset Lee's authenticator.
	tap(t, g, "Reset authenticator…")
	tap(t, g, "Reset")
	if !showsText(g, "authenticator reset pending") {
		t.Error("the pending reset is not shown")
	}

	// Make Lee a receptionist.
	tap(t, g, "Change role…")
	findSelect(t, g).SetSelected("Receptionist")
	tap(t, g, "Change role")
	list, _ = s.ListUsers(ctx)
	if list[1].Role != app.Receptionist {
		t.Errorf("Lee is %s", list[1].Role)
	}

	// Remove Lee.
	tap(t, g, "Remove…")
	if !showsText(g, "Their passphrase will no longer open anything") {
		t.Error("the removal confirmation does not say what it does")
	}
	shot(t, g, "users-remove-confirm")
	tap(t, g, "Remove")
	info, _ := v.Info()
	if slices.Contains(info.Users, "Lee Park") {
		t.Error("Lee is still in the vault")
	}
	if len(u.users) != 1 {
		t.Errorf("the list shows %d users", len(u.users))
	}
}

// findSelect finds the Select in the topmost dialog.
func findSelect(t *testing.T, g *gui) *widget.Select {
	t.Helper()
	var found *widget.Select
	kittest.Walk(kittest.Roots(g.win)[0], func(o fyne.CanvasObject) bool {
		if s, ok := o.(*widget.Select); ok {
			found = s
			return true
		}
		return false
	})
	if found == nil {
		t.Fatal("no Select in the dialog")
	}
	return found
}

func TestDemotingYourselfChangesTheNavigation(t *testing.T) {
	g, _, clk, _ := signedInAdmin(t)
	enr, _ := app.NewEnrollment("Riverside Family Practice", "Lee Park")
	enr.Confirm(code(t, enr.Secret(), clk), clk.Now())
	if err := g.session.AddUser(context.Background(), "Lee Park", app.Admin, staffPass, enr); err != nil {
		t.Fatal(err)
	}
	g.shell.openNamed("Staff")
	g.shell.users.list.Select(0) // Dana, sorted first
	tap(t, g, "Change role…")
	findSelect(t, g).SetSelected("Clinician")
	tap(t, g, "Change role")
	if got := g.shell.navNames(); !slices.Equal(got, []string{"Today", "Patients", "Import", "Export", "Backups", "Sync", "Computers", "Home", "Training", "My account"}) {
		t.Errorf("navigation after demoting yourself: %v", got)
	}
	if !showsText(g, "Signed in as Dana Whitfield (clinician)") {
		t.Error("the top bar still shows the old role")
	}
}

func TestAuditScreenVerifies(t *testing.T) {
	g, _, _, _ := signedInAdmin(t)
	g.shell.openNamed("Audit log")
	a := g.shell.audit
	if len(a.entries) < 3 {
		t.Fatalf("%d audit entries", len(a.entries))
	}
	if a.entries[0].Action != "signin" {
		t.Errorf("newest entry %q, want the sign-in", a.entries[0].Action)
	}
	tap(t, g, "Verify chain")
	n, err := g.session.AuditVerify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d entries, chain intact. Not yet witnessed by another computer", n); !strings.HasPrefix(a.result.Text, want) {
		t.Errorf("verify says %q, want %q…", a.result.Text, want)
	}
	shot(t, g, "audit")

	// A log that no longer matches what another computer saw: the screen
	// names the computer and the entries, from the typed error.
	a.s = witnessFailure{a.s}
	tap(t, g, "Verify chain")
	if !strings.Contains(a.result.Text, "does not match what the practice's other computers saw") ||
		!strings.Contains(a.result.Text, "lacks entries 41–57, which computer “Front desk” saw") {
		t.Errorf("verify says %q", a.result.Text)
	}
	shot(t, g, "audit-witness-mismatch")
}

// witnessFailure answers AuditVerify as a computer whose log lost entries
// another computer saw.
type witnessFailure struct{ auditReader }

func (witnessFailure) AuditVerify(context.Context) (int, error) {
	return 40, &app.AuditWitnessError{Problems: []app.AuditProblem{{This: true, Kind: app.AuditTruncated, From: 41, To: 57, Witness: "computer “Front desk”"}}}
}

func TestChangePassphrase(t *testing.T) {
	g, _, clk, secret := signedInAdmin(t)
	g.shell.openNamed("My account")
	a := g.shell.account
	shot(t, g, "account")
	typeIn(g, a.current, "not my passphrase")
	typeIn(g, a.pair.pass, newPass)
	typeIn(g, a.pair.confirm, newPass)
	pressEnter(t, g, a.pair.confirm)
	settle(t, g)
	if !strings.Contains(a.status.Text, "The current passphrase is not right") {
		t.Errorf("wrong current passphrase shown as %q", a.status.Text)
	}
	typeIn(g, a.current, adminPass)
	pressEnter(t, g, a.pair.confirm)
	settle(t, g)
	if !strings.HasPrefix(a.status.Text, "Your passphrase was changed") {
		t.Fatalf("status %q", a.status.Text)
	}
	shot(t, g, "account-changed")

	tap(t, g, "Lock")
	clk.Add(30 * time.Second)
	signInGUI(t, g, "Dana Whitfield", adminPass, code(t, secret, clk))
	if g.screen == "shell" {
		t.Fatal("the old passphrase still opens the vault")
	}
	clk.Add(30 * time.Second)
	signInGUI(t, g, "Dana Whitfield", newPass, code(t, secret, clk))
	if g.screen != "shell" {
		t.Fatalf("the new passphrase does not open the vault: %q", g.signIn.status.Text)
	}
}

func TestIdleLockSetting(t *testing.T) {
	g, _, _, _ := signedInAdmin(t)
	g.shell.openNamed("Home")
	h := g.shell.home
	if g.win.Canvas().Focused() != h.minutes {
		t.Error("Home does not focus the idle-lock minutes for an admin")
	}
	h.minutes.SetText("")
	typeIn(g, h.minutes, "90")
	tap(t, g, "Save")
	if h.status.Importance != widget.DangerImportance {
		t.Errorf("90 minutes accepted: %q", h.status.Text)
	}
	h.minutes.SetText("")
	typeIn(g, h.minutes, "10")
	pressEnter(t, g, h.minutes)
	if got := g.session.IdleLockAfter(); got != 10*time.Minute {
		t.Errorf("idle lock %s after saving 10", got)
	}
}

func TestIdleLockReturnsToSignIn(t *testing.T) {
	v, clk := newTestVault(t)
	secret, _ := createVault(t, v, clk, "Riverside Family Practice", "Dana Whitfield")
	g := newTestGUI(t, v)
	g.idleEvery = 5 * time.Millisecond
	signInGUI(t, g, "Dana Whitfield", adminPass, code(t, secret, clk))
	if g.screen != "shell" {
		t.Fatal("sign-in failed")
	}
	s := g.session

	// Typing in a field is activity: four idle minutes, a key, four more.
	g.shell.openNamed("My account")
	clk.Add(4 * time.Minute)
	typeIn(g, g.shell.account.current, "x")
	clk.Add(4 * time.Minute)
	time.Sleep(50 * time.Millisecond)
	if s.Locked() {
		t.Fatal("the session locked although the user typed")
	}

	clk.Add(2 * time.Minute)
	runPosted(t, g, func() bool {
		return g.screen == "signin" && strings.Contains(g.signIn.status.Text, "locked itself after 5 minutes")
	})
	if !s.Locked() || g.signIn.user.Selected != "Dana Whitfield" {
		t.Error("idle lock: session not locked or user not preselected")
	}
	shot(t, g, "signin-idle-locked")
}

func TestTOTPReenrollment(t *testing.T) {
	g, v, clk, _ := signedInAdmin(t)
	ctx := context.Background()
	enr, _ := app.NewEnrollment("Riverside Family Practice", "Sam Reyes")
	enr.Confirm(code(t, enr.Secret(), clk), clk.Now())
	if err := g.session.AddUser(ctx, "Sam Reyes", app.Receptionist, staffPass, enr); err != nil {
		t.Fatal(err)
	}
	if err := g.session.ResetTOTP(ctx, "Sam Reyes"); err != nil {
		t.Fatal(err)
	}
	tap(t, g, "Lock")

	// Sam lost the phone: passphrase only, the code left empty.
	signInGUI(t, g, "Sam Reyes", staffPass, "")
	if g.screen != "reenroll" {
		t.Fatalf("screen %q, want the re-enrollment; status %q", g.screen, g.signIn.status.Text)
	}
	r := g.reenroll
	shot(t, g, "reenroll")
	secret := r.panel.enr.Secret()
	typeIn(g, r.panel.code, code(t, secret, clk))
	pressEnter(t, g, r.panel.code)
	if g.screen != "shell" {
		t.Fatalf("screen %q after confirming: %q", g.screen, r.status.Text)
	}
	tap(t, g, "Lock")
	clk.Add(30 * time.Second)
	_ = v
	signInGUI(t, g, "Sam Reyes", staffPass, code(t, secret, clk))
	if g.screen != "shell" {
		t.Fatalf("the new authenticator does not sign in: %q", g.signIn.status.Text)
	}
}

func TestRecoveryKey(t *testing.T) {
	v, clk := newTestVault(t)
	_, key := createVault(t, v, clk, "Riverside Family Practice", "Dana Whitfield")
	g := newTestGUI(t, v)
	tap(t, g, "Use recovery key…")
	if g.screen != "recovery" {
		t.Fatalf("screen %q", g.screen)
	}
	r := g.recovery
	if g.win.Canvas().Focused() != r.key {
		t.Error("the key field does not have focus")
	}
	typo := "X" // a typo in the check group: any other character than the last
	if strings.EqualFold(key[len(key)-1:], typo) {
		typo = "Y"
	}
	typeIn(g, r.key, strings.ToLower(key[:len(key)-1])+typo)
	r.admin.SetSelected("Dana Whitfield")
	typeIn(g, r.pair.pass, newPass)
	typeIn(g, r.pair.confirm, newPass)
	shot(t, g, "recovery-1-key")
	tap(t, g, "Next")
	if r.onPanel || !strings.Contains(r.status.Text, "typo") {
		t.Fatalf("a mistyped key went on: %q", r.status.Text)
	}
	r.key.SetText("")
	typeIn(g, r.key, strings.ToLower(key))
	tap(t, g, "Next")
	if !r.onPanel {
		t.Fatalf("the right key did not go on: %q", r.status.Text)
	}
	secret := r.enr.Secret()
	typeIn(g, r.panel.code, code(t, secret, clk))
	shot(t, g, "recovery-2-authenticator")
	tap(t, g, "Restore access")
	settle(t, g)
	if g.screen != "signin" || g.signIn.user.Selected != "Dana Whitfield" {
		t.Fatalf("screen %q after recovery; status %q", g.screen, r.status.Text)
	}
	if !showsText(g, "can now sign in with the new passphrase") {
		t.Error("the recovery result is not said")
	}
	shot(t, g, "recovery-3-done")
	tap(t, g, "OK")

	clk.Add(30 * time.Second)
	signInGUI(t, g, "Dana Whitfield", newPass, code(t, secret, clk))
	if g.screen != "shell" {
		t.Fatalf("the recovered admin cannot sign in: %q", g.signIn.status.Text)
	}
}

func TestDarkThemeScreens(t *testing.T) {
	v, clk := newTestVault(t)
	secret, _ := createVault(t, v, clk, "Riverside Family Practice", "Dana Whitfield")
	g := newTestGUI(t, v)
	g.app.Settings().SetTheme(kit.ThemeIn(theme.VariantDark))
	shot(t, g, "dark-signin")
	signInGUI(t, g, "Dana Whitfield", adminPass, code(t, secret, clk))
	g.shell.openNamed("Staff")
	shot(t, g, "dark-users")
}

// rekeySpy lets a test report re-encryption progress as the session would.
type rekeySpy struct {
	userAdmin
	fn func(app.RekeyProgress)
}

func (r *rekeySpy) OnRekey(fn func(app.RekeyProgress)) {
	r.fn = fn
	r.userAdmin.OnRekey(fn)
}

// TestStaffChangeShowsReencryptionProgress: a removal or demotion
// re-encrypts this computer's databases (seconds on a large practice):
// the window says so and shows how far it has got, and takes input again
// once it is done.
func TestStaffChangeShowsReencryptionProgress(t *testing.T) {
	for _, size := range []fyne.Size{{Width: 1366, Height: 768}, {Width: 1024, Height: 700}} {
		g, _, _, _ := signedInAdmin(t)
		g.win.Resize(size)
		g.shell.openNamed("Staff")
		u := g.shell.users
		spy := &rekeySpy{userAdmin: u.s}
		u.s = spy
		reported, release := make(chan struct{}), make(chan struct{})
		finished := false
		u.keyChange("Removing Lee Park", func() error {
			spy.fn(app.RekeyProgress{Database: "general.db", Done: 40, Total: 100})
			close(reported)
			<-release
			return nil
		}, func(error) { finished = true })
		<-reported
		timeout := time.After(10 * time.Second)
		for !showsText(g, "Encrypting general.db under its new key") {
			select {
			case f := <-g.queue:
				f()
			case <-timeout:
				t.Fatal("the progress is not shown")
			}
		}
		var bar *widget.ProgressBar
		kittest.Walk(kittest.Roots(g.win)[0], func(o fyne.CanvasObject) bool {
			if b, ok := o.(*widget.ProgressBar); ok {
				bar = b
				return true
			}
			return false
		})
		if bar == nil || bar.Value != 0.4 {
			t.Errorf("progress bar %+v, want 40%%", bar)
		}
		if !showsText(g, "encrypted again under new keys") {
			t.Error("the dialog does not say what is happening")
		}
		shot(t, g, fmt.Sprintf("users-reencrypting-%dx%d", int(size.Width), int(size.Height)))
		close(release)
		settle(t, g)
		if !finished || len(g.dialogs) != 0 && showsText(g, "encrypted again under new keys") {
			t.Error("the progress dialog stays after the change")
		}
	}
}

// TestCopiedAuthenticatorKeyLeavesTheClipboard: the authenticator key an
// admin copies while adding someone is cleared from the clipboard after a
// while and when ClinicVault locks — unless something else was copied
// since, which is left alone.
func TestCopiedAuthenticatorKeyLeavesTheClipboard(t *testing.T) {
	g, _, _, _ := signedInAdmin(t)
	g.shell.openNamed("Staff")
	tap(t, g, "Add user…")
	a := g.shell.users.adding
	typeIn(g, a.name, "Sam Reyes")
	typeIn(g, a.pair.pass, staffPass)
	typeIn(g, a.pair.confirm, staffPass)
	pressEnter(t, g, a.pair.confirm)
	secret := a.panel.enr.Secret()
	clip := g.app.Clipboard()

	// After a while.
	g.clipboardFor = 30 * time.Millisecond
	tap(t, g, "Copy key")
	if clip.Content() != secret {
		t.Fatalf("clipboard %q, want the key", clip.Content())
	}
	if !showsText(g, "cleared from the clipboard") {
		t.Error("the window does not say the key will be cleared")
	}
	timeout := time.After(5 * time.Second)
	for clip.Content() != "" {
		select {
		case f := <-g.queue:
			f()
		case <-timeout:
			t.Fatal("the key stays on the clipboard")
		}
	}

	// Something else copied since is not touched.
	g.clipboardFor = time.Hour
	tap(t, g, "Copy key")
	clip.SetContent("an address someone copied")
	g.clearSecret()
	if clip.Content() != "an address someone copied" {
		t.Errorf("clearing took what was copied after the key: %q", clip.Content())
	}

	// At the lock.
	tap(t, g, "Copy key")
	g.lockNow()
	settle(t, g)
	if clip.Content() != "" {
		t.Errorf("the key stays on the clipboard after the lock: %q", clip.Content())
	}
}

// TestComingBackWithinTheSameCodeStep: Dana locks and comes straight
// back; her phone still shows the code she just used. The sign-in asks
// for the next code, keeps her passphrase, and counts nothing against
// her; the next code signs her in.
func TestComingBackWithinTheSameCodeStep(t *testing.T) {
	g, v, clk, secret := signedInAdmin(t)
	used := code(t, secret, clk)
	tap(t, g, "Lock")
	clk.Add(5 * time.Second)
	signInGUI(t, g, "Dana Whitfield", adminPass, used)
	settle(t, g)
	if g.screen != "signin" {
		t.Fatal("a spent code signed in")
	}
	if !strings.Contains(g.signIn.status.Text, "already used") || !strings.Contains(g.signIn.status.Text, "next code") {
		t.Errorf("status %q", g.signIn.status.Text)
	}
	if g.signIn.pass.Text != adminPass {
		t.Error("the passphrase was wiped")
	}
	shot(t, g, "signin-code-used")
	kr, _ := store.LoadKeyring(v.Dir)
	for _, th := range kr.Throttle {
		if th.Failures > 0 {
			t.Errorf("a failure was counted: %+v", th)
		}
	}
	if len(kr.Pending) != 0 {
		t.Errorf("a failed sign-in was recorded: %+v", kr.Pending)
	}
	clk.Add(30 * time.Second)
	typeIn(g, g.signIn.code, code(t, secret, clk))
	pressEnter(t, g, g.signIn.code)
	settle(t, g)
	if g.screen != "shell" {
		t.Fatalf("the next code did not sign in: %q", g.signIn.status.Text)
	}
}

// TestStrengthMeterNeverPraisesARefusedPassphrase: a long passphrase that
// holds the practice's name scores high but is refused: the meter says
// "Not accepted" and why, never "Strong".
func TestStrengthMeterNeverPraisesARefusedPassphrase(t *testing.T) {
	test.NewTempApp(t)
	m := newStrengthMeter()
	pol := app.NewPolicy()
	st := pol.Measure("Riverside orchard lantern quietly 1987", "Dana Whitfield", "Riverside Family Practice")
	if st.OK || st.Score < 3 {
		t.Fatalf("the case needs a high score and a refusal: %+v", st)
	}
	m.set(st, false)
	if m.verdict.Text != "Not accepted" || !strings.Contains(m.reason.Text, "practice's name") {
		t.Fatalf("meter says %q / %q", m.verdict.Text, m.reason.Text)
	}
}
