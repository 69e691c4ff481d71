package admin

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/kit/kittest"
)

func TestBackUpNowWritesAVerifiedBackup(t *testing.T) {
	f := newFixture(t)
	w := newWindow(t)
	b := newBackupsScreen(w, f.admin)
	show(w, f.admin, "Backups", b.view)
	kittest.Settle(t)
	if b.choose == nil {
		t.Fatal("an admin has no \"Choose folder…\" button")
	}
	if !strings.Contains(b.notice.Text(), "No backup folder is set") || b.notice.Tone() != kit.ToneDanger {
		t.Errorf("no folder: notice %v %q", b.notice.Tone(), b.notice.Text())
	}
	shot(t, w, "backups-1-no-folder")

	dir := filepath.Join(t.TempDir(), "USB drive", "ClinicVault backups")
	fake.folder = dir
	defer func() { fake.folder = "" }()
	kittest.Tapped(t, b.choose)
	st, err := f.admin.BackupStatus(context.Background())
	if err != nil || st.Folder != dir {
		t.Fatalf("folder %q after choosing %q: %v", st.Folder, dir, err)
	}
	if b.folder.Text != dir {
		t.Errorf("the screen shows folder %q", b.folder.Text)
	}

	// What a long backup looks like while it runs.
	b.setBusy(true)
	b.progress.start("Starting the backup…")
	b.progress.set(app.BackupProgress{Stage: "Encrypting and writing", Done: 420, Total: 1000})
	shot(t, w, "backups-1b-in-progress")
	b.progress.stop()
	b.setBusy(false)

	kittest.Tapped(t, b.backup)
	list, err := app.ListBackups(dir)
	if err != nil || len(list) != 1 {
		t.Fatalf("backups in the folder: %v, %v", list, err)
	}
	if !strings.HasSuffix(list[0].Path, app.BackupExt) || list[0].MadeBy != adminName {
		t.Errorf("backup %+v", list[0])
	}
	if withLog, err := f.admin.ListBackups(context.Background(), dir); err != nil || len(withLog) != 1 || !withLog[0].VerifyOK {
		t.Errorf("the vault's log of the new backup: %+v, %v", withLog, err)
	}
	if len(b.backups) != 1 {
		t.Fatalf("the screen lists %d backups", len(b.backups))
	}
	text, _ := verification(b.backups[0])
	if !strings.HasPrefix(text, "verified ✓") {
		t.Errorf("the new backup shows %q", text)
	}
	if b.notice.Tone() != kit.ToneOK {
		t.Errorf("after a good backup the notice says %q", b.notice.Title())
	}
	if !kittest.ShowsText(w, "A new backup was made and verified") {
		t.Error("no success message")
	}
	if b.progress.box.Visible() {
		t.Error("the progress bar stays after the backup")
	}
	b.list.Select(0)
	shot(t, w, "backups-2-done")

	// Three days and more later, the warning is back.
	f.clk.Add(4 * 24 * time.Hour)
	kittest.Tapped(t, b.refresh)
	if b.notice.Tone() != kit.ToneDanger || !strings.Contains(b.notice.Text(), "4 days old") {
		t.Errorf("after 4 days: %v %q", b.notice.Tone(), b.notice.Text())
	}
	shot(t, w, "backups-3-overdue")
}

func TestVerifyOfACorruptedCopyShowsTheFailure(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "backups")
	if err := f.admin.SetBackupFolder(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if err := f.admin.BackupNow(ctx, dir, nil); err != nil {
		t.Fatal(err)
	}
	list, _ := app.ListBackups(dir)
	raw, err := os.ReadFile(list[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	// Damage the body, not the header: the file still lists.
	for i := len(raw) / 2; i < len(raw)/2+64; i++ {
		raw[i] ^= 0x5a
	}
	damaged := filepath.Join(dir, "copy from the old laptop"+app.BackupExt)
	if err := os.WriteFile(damaged, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	w := newWindow(t)
	b := newBackupsScreen(w, f.admin)
	show(w, f.admin, "Backups", b.view)
	kittest.Settle(t)
	if len(b.backups) != 2 {
		t.Fatalf("the screen lists %d backups, want 2", len(b.backups))
	}
	if !b.verify.Disabled() {
		t.Error("Verify is enabled with nothing selected")
	}
	pick := func(path string) {
		for i, info := range b.backups {
			if info.Path == path {
				b.list.Select(i)
				return
			}
		}
		t.Fatalf("%s is not listed", path)
	}

	pick(list[0].Path)
	kittest.Tapped(t, b.verify)
	if b.report == nil || !b.report.ok || len(b.report.checks) == 0 {
		t.Fatalf("the good backup: %+v", b.report)
	}
	if !kittest.ShowsText(w, "The backup is good") {
		t.Error("the good backup's dialog does not say so")
	}
	shot(t, w, "backups-4-verify-ok")
	golden(t, w, "backups-verify-ok")
	b.report.d.Hide()

	pick(damaged)
	kittest.Tapped(t, b.verify)
	if b.report == nil || b.report.ok {
		t.Fatalf("the damaged copy verified: %+v", b.report)
	}
	if !kittest.ShowsText(w, "The backup failed verification") || !kittest.ShowsText(w, "damaged") {
		t.Error("the damaged copy's dialog does not explain the failure")
	}
	shot(t, w, "backups-5-verify-failed")
	b.report.d.Hide()
	for _, info := range b.backups {
		text, _ := verification(info)
		switch info.Path {
		case damaged:
			if !strings.HasPrefix(text, "FAILED: ") {
				t.Errorf("the damaged copy shows %q", text)
			}
		default:
			if !strings.HasPrefix(text, "verified ✓") {
				t.Errorf("the good backup shows %q", text)
			}
		}
	}
	shot(t, w, "backups-6-list-with-failure")
}

func TestReceptionistBacksUpButDoesNotChooseTheFolder(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "backups")
	if err := f.admin.SetBackupFolder(ctx, dir); err != nil {
		t.Fatal(err)
	}
	f.addUser("Rita Front", app.Receptionist, staffPass)
	rita := f.signIn("Rita Front", staffPass)

	w := newWindow(t)
	b := newBackupsScreen(w, rita)
	show(w, rita, "Backups", b.view)
	kittest.Settle(t)
	if b.choose != nil || kittest.FindButton(w, "Choose folder…") != nil {
		t.Fatal("a receptionist sees \"Choose folder…\"")
	}
	if !kittest.ShowsText(w, "Only an admin can choose the backup folder") {
		t.Error("the receptionist is not told who chooses the folder")
	}
	// What a long backup looks like while it runs.
	b.setBusy(true)
	b.progress.start("Starting the backup…")
	b.progress.set(app.BackupProgress{Stage: "Encrypting and writing", Done: 420, Total: 1000})
	shot(t, w, "backups-1b-in-progress")
	b.progress.stop()
	b.setBusy(false)

	kittest.Tapped(t, b.backup)
	list, err := app.ListBackups(dir)
	if err != nil || len(list) != 1 || !list[0].ClinicalSealed {
		t.Fatalf("receptionist's backup: %+v, %v", list, err)
	}
	if text, _ := verification(b.backups[0]); !strings.HasPrefix(text, "verified ✓") {
		t.Errorf("the receptionist's backup shows %q", text)
	}
	b.list.Select(0)
	if !strings.Contains(b.detail.Text, "without the clinical key") {
		t.Errorf("a sealed backup is not explained: %q", b.detail.Text)
	}
	shot(t, w, "backups-7-receptionist")
}

func TestRestoreGoesIntoANewFolder(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "backups")
	if err := f.admin.SetBackupFolder(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if err := f.admin.BackupNow(ctx, dir, nil); err != nil {
		t.Fatal(err)
	}
	w := newWindow(t)
	b := newBackupsScreen(w, f.admin)
	b.newVault = func(d string) *app.Vault {
		v := app.NewVault(d)
		v.UseMinimumKDF()
		v.Now = f.clk.Now
		return v
	}
	show(w, f.admin, "Backups", b.view)
	kittest.Settle(t)
	kittest.Tapped(t, b.restore)
	r := b.restoring
	if r == nil {
		t.Fatal("no restore dialog")
	}
	if r.file.Text != b.backups[0].Path {
		t.Errorf("the restore dialog suggests %q", r.file.Text)
	}
	if !kittest.ShowsText(w, "NEW, empty folder") {
		t.Error("the dialog does not say a restore goes into a new folder")
	}

	// Over the open vault: refused before anything is written.
	r.dir.SetText(f.v.Dir)
	r.how.SetSelected(byRecovery)
	r.key.SetText(f.recovery)
	kittest.Tapped(t, r.run)
	if !strings.Contains(r.status.Text, "is not empty") || r.doneDir != "" {
		t.Errorf("restoring over the vault: %q", r.status.Text)
	}

	// A wrong code: nothing restored, the folder stays empty.
	target := filepath.Join(t.TempDir(), "restored")
	r.dir.SetText(target)
	r.how.SetSelected(byAdmin)
	r.name.SetText(adminName)
	r.pass.SetText(adminPass)
	r.code.SetText("000000")
	shot(t, w, "backups-8-restore-dialog")
	f.clk.Add(30 * time.Second)
	kittest.Tapped(t, r.run)
	if r.doneDir != "" || !strings.HasPrefix(r.status.Text, "Nothing was restored.") {
		t.Fatalf("a wrong code restored: %q", r.status.Text)
	}
	if entries, _ := os.ReadDir(target); len(entries) != 0 {
		t.Errorf("a refused restore left %d files", len(entries))
	}

	// An admin's sign-in.
	r.pass.SetText(adminPass)
	r.code.SetText(f.code(f.secrets[adminName]))
	kittest.Tapped(t, r.run)
	if r.doneDir != target {
		t.Fatalf("not restored: %q", r.status.Text)
	}
	if !app.NewVault(target).Exists() {
		t.Fatal("no vault in the restore folder")
	}
	if !kittest.ShowsText(w, "clinicvault --data \""+target+"\"") {
		t.Error("the dialog does not say how to open the restored vault")
	}
	shot(t, w, "backups-9-restored")
	kittest.Tapped(t, r.run) // Close
	if kittest.FindButton(w, "Copy command") != nil {
		t.Error("the dialog stays open after Close")
	}

	// The recovery key, into another new folder.
	kittest.Tapped(t, b.restore)
	r = b.restoring
	target2 := filepath.Join(t.TempDir(), "restored by key")
	r.dir.SetText(target2)
	r.how.SetSelected(byRecovery)
	r.key.SetText(strings.ToLower(f.recovery))
	kittest.Tapped(t, r.run)
	if r.doneDir != target2 || !app.NewVault(target2).Exists() {
		t.Fatalf("recovery-key restore: %q", r.status.Text)
	}
	test.Tap(r.run)
}

func TestSchedulerBacksUpWhenDueAndStopsOnLock(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "backups")
	if err := f.admin.SetBackupFolder(ctx, dir); err != nil {
		t.Fatal(err)
	}
	test.NewTempApp(t)
	old := schedulerEvery
	schedulerEvery = 20 * time.Millisecond
	defer func() { schedulerEvery = old }()
	type result struct {
		ran bool
		err error
	}
	var got []result
	stop := StartScheduler(f.admin, func(ran bool, err error) { got = append(got, result{ran, err}) })
	defer stop()
	kittest.WaitFor(t, "two checks", func() bool { return len(got) >= 2 })
	if !got[0].ran || got[0].err != nil {
		t.Fatalf("first check: %+v", got[0])
	}
	if got[1].ran || got[1].err != nil {
		t.Errorf("second check (not due): %+v", got[1])
	}
	if list, _ := app.ListBackups(dir); len(list) != 1 {
		t.Fatalf("%d backups after the scheduler ran", len(list))
	}
	f.admin.Lock(ctx)
	time.Sleep(100 * time.Millisecond)
	kittest.RunQueued()
	n := len(got)
	time.Sleep(100 * time.Millisecond)
	kittest.RunQueued()
	if len(got) != n {
		t.Errorf("the scheduler reported %d more checks after the lock", len(got)-n)
	}
	for _, r := range got[1:] {
		if r.err != nil {
			t.Errorf("a check reported %v", r.err)
		}
	}
}
