package admin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// now is the clock the screens compare dates with; tests set the vault's.
var now = time.Now

// schedulerEvery is how often StartScheduler asks whether a backup is due.
var schedulerEvery = time.Hour

// StartScheduler runs the daily backup for the session (app's
// Session.ServeBackups: a check at once, then every hour). After each
// check onDone, when not nil, runs on the UI thread with whether a backup
// ran and its error. The scheduler ends when stop is called or the
// session locks.
func StartScheduler(s *app.Session, onDone func(ran bool, err error)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	go s.ServeBackups(ctx, schedulerEvery, func(ran bool, err error) {
		if onDone != nil {
			kit.Post(func() { onDone(ran, err) })
		}
	})
	return cancel
}

// backupColumns are the backup list's column weights.
var backupColumns = kit.Columns{0.22, 0.2, 0.12, 0.46}

// backupsScreen shows where backups go, lists them, and makes, verifies
// and restores them.
type backupsScreen struct {
	win   fyne.Window
	s     *app.Session
	ctx   context.Context
	admin bool

	st      app.BackupStatus
	backups []app.BackupInfo
	sel     string // the selected backup's path
	busy    bool

	notice   *kit.Notice
	folder   *widget.Label
	choose   *widget.Button // nil for roles that may not set the folder
	backup   *widget.Button
	verify   *widget.Button
	restore  *widget.Button
	refresh  *widget.Button
	progress *progressView
	status   *kit.StatusText
	count    *widget.Label
	list     *widget.List
	detail   *widget.Label
	view     fyne.CanvasObject

	// newVault opens the folder a backup is restored into; tests give it
	// their clock.
	newVault func(dir string) *app.Vault
	// restoring is the open Restore dialog, for tests.
	restoring *restoreDialog
	// report is the last verification shown, for tests.
	report *verifyResult
}

// NewBackupsScreen is the Backups screen: the backup folder, the last good
// backup and a warning when backups are overdue, "Back up now", the list
// of backups with their verification, "Verify" and "Restore…". Every role
// may back up and verify; only admins choose the folder.
func NewBackupsScreen(win fyne.Window, s *app.Session) fyne.CanvasObject {
	return newBackupsScreen(win, s).view
}

func newBackupsScreen(win fyne.Window, s *app.Session) *backupsScreen {
	b := &backupsScreen{win: win, s: s, ctx: context.Background(), admin: s.User().Role == app.Admin,
		newVault: app.NewVault, progress: newProgressView(), status: kit.NewStatus(widget.MediumImportance)}
	b.notice = kit.NewNotice(kit.ToneInfo, "Checking backups…", "")
	b.folder = kit.Bold("")
	b.backup = widget.NewButtonWithIcon("Back up now", theme.UploadIcon(), kit.Act(s, b.backupNow))
	b.backup.Importance = widget.HighImportance
	b.verify = widget.NewButtonWithIcon("Verify", theme.ConfirmIcon(), kit.Act(s, b.verifySelected))
	b.restore = widget.NewButtonWithIcon("Restore…", theme.HistoryIcon(), kit.Act(s, b.openRestore))
	b.refresh = widget.NewButtonWithIcon("Refresh", theme.ViewRefreshIcon(), kit.Act(s, b.load))
	b.count = widget.NewLabel("")
	b.detail = kit.Quiet("")

	b.list = widget.NewList(
		func() int { return len(b.backups) },
		func() fyne.CanvasObject {
			return container.New(backupColumns, cell(), cell(), cell(), cell())
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id >= len(b.backups) {
				return
			}
			row := o.(*fyne.Container).Objects
			info := b.backups[id]
			setCell(row[0].(*widget.Label), dayTime(info.Created), widget.MediumImportance)
			setCell(row[1].(*widget.Label), info.MadeBy, widget.MediumImportance)
			setCell(row[2].(*widget.Label), humanSize(info.Size), widget.MediumImportance)
			text, imp := verification(info)
			setCell(row[3].(*widget.Label), text, imp)
		},
	)
	b.list.OnSelected = func(id widget.ListItemID) {
		kit.Touch(s)
		if id < len(b.backups) {
			b.sel = b.backups[id].Path
		}
		b.refreshButtons()
	}
	b.list.OnUnselected = func(widget.ListItemID) {
		b.sel = ""
		b.refreshButtons()
	}

	var folderRight fyne.CanvasObject
	if b.admin {
		b.choose = widget.NewButtonWithIcon("Choose folder…", theme.FolderOpenIcon(), kit.Act(s, b.chooseFolder))
		folderRight = b.choose
	}
	where := container.NewVBox(container.NewBorder(nil, nil, widget.NewLabel("Backup folder:"), folderRight, b.folder))
	if !b.admin {
		where.Add(kit.Quiet("Only an admin can choose the backup folder. You can still back up now and verify backups."))
	}
	header := container.New(backupColumns, kit.HeaderCell("Made"), kit.HeaderCell("Made by"), kit.HeaderCell("Size"), kit.HeaderCell("Check"))
	top := container.NewVBox(
		kit.Heading("Backups"),
		kit.Wrapped("ClinicVault backs up the whole vault, encrypted, once a day while it is open, and checks each backup by opening it again. "+
			"It keeps one for each of the last 7 days, 4 weeks and 12 months."),
		b.notice,
		kit.Card(where),
		container.NewBorder(nil, nil, nil, kit.ButtonRow(b.count), kit.ButtonRow(b.backup, b.verify, b.restore, b.refresh)),
		b.progress.box,
		b.status,
		header,
		widget.NewSeparator(),
	)
	bottom := container.NewVBox(widget.NewSeparator(), b.detail)
	b.view = container.New(layout.NewCustomPaddedLayout(0, 0, 0, 10), container.NewBorder(top, bottom, nil, nil, b.list))
	b.refreshButtons()
	b.load()
	return b
}

// verification is the "Check" column: when the backup was verified and
// how that went.
func verification(info app.BackupInfo) (string, widget.Importance) {
	switch {
	case info.Verified.IsZero():
		return "not verified", widget.WarningImportance
	case info.VerifyOK:
		return "verified ✓ " + kit.Day(info.Verified), widget.SuccessImportance
	default:
		return "FAILED: " + strings.TrimSuffix(plain.Error(info.VerifyErr), "."), widget.DangerImportance
	}
}

// load reads the status and the list off the UI thread.
func (b *backupsScreen) load() {
	var st app.BackupStatus
	var list []app.BackupInfo
	var stErr, listErr error
	kit.Background(func() {
		st, stErr = b.s.BackupStatus(b.ctx)
		if stErr == nil && st.Folder != "" {
			list, listErr = b.s.ListBackups(b.ctx, st.Folder)
		}
	}, func() {
		if stErr != nil {
			b.notice.Set(kit.ToneDanger, "The backup status could not be read", plain.Error(stErr))
			return
		}
		b.st = st
		b.showStatus()
		b.backups = list
		if listErr != nil {
			b.backups = nil
			b.status.Say(widget.DangerImportance, "The backup folder "+st.Folder+" cannot be read. If it is on a USB drive "+
				"or a network share, check that it is connected. ("+plain.Error(listErr)+")")
		}
		switch {
		case st.Folder == "":
			b.count.SetText("")
		case len(b.backups) == 0:
			b.count.SetText("none yet")
		default:
			b.count.SetText(kit.Plural(len(b.backups), "backup") + ", newest first")
		}
		sel := b.sel
		b.list.UnselectAll()
		b.sel = ""
		b.list.Refresh()
		for i, info := range b.backups {
			if info.Path == sel {
				b.list.Select(i)
			}
		}
		b.refreshButtons()
	})
}

// showStatus fills the notice, the folder and the last good backup.
func (b *backupsScreen) showStatus() {
	st := b.st
	if st.Folder == "" {
		b.folder.SetText("not chosen yet")
		b.folder.Importance = widget.DangerImportance
	} else {
		b.folder.SetText(st.Folder)
		b.folder.Importance = widget.MediumImportance
	}
	b.folder.Refresh()
	last := "Last good backup: none yet."
	if !st.LastGood.IsZero() {
		last = "Last good backup: " + dayTime(st.LastGood) + " (" + kit.Ago(st.LastGood, now()) + ")."
	}
	switch {
	case st.Warning != "" && st.Folder == "":
		what := "An admin must choose one."
		if b.admin {
			what = "Press \"Choose folder…\"."
		}
		b.notice.Set(kit.ToneDanger, "Backups are not set up", st.Warning+" "+what)
	case st.Warning != "":
		b.notice.Set(kit.ToneDanger, "Back up now", st.Warning+" Until there is a good backup, a broken disk or a stolen computer could lose the practice's records. "+last)
	case st.Due:
		b.notice.Set(kit.ToneWarning, "A backup is due", last+" ClinicVault makes one by itself soon, or press \"Back up now\".")
	default:
		b.notice.Set(kit.ToneOK, "Backups are up to date", last+" It was opened again and checked without errors.")
	}
}

func (b *backupsScreen) selected() (app.BackupInfo, bool) {
	for _, info := range b.backups {
		if info.Path == b.sel {
			return info, true
		}
	}
	return app.BackupInfo{}, false
}

func (b *backupsScreen) refreshButtons() {
	info, ok := b.selected()
	kit.Enable(b.backup, !b.busy)
	kit.Enable(b.verify, ok && !b.busy)
	kit.Enable(b.restore, !b.busy)
	kit.Enable(b.refresh, !b.busy)
	if b.choose != nil {
		kit.Enable(b.choose, !b.busy)
	}
	if !ok {
		b.detail.SetText("Select a backup to verify it or to see what it holds.")
		return
	}
	var parts []string
	parts = append(parts, filepath.Base(info.Path)+", made by "+info.MadeBy+" on "+dayTime(info.Created)+".")
	if info.ClinicalSealed {
		parts = append(parts, "Made by a role without the clinical key: clinical records are inside as they are on disk, "+
			"encrypted, and a verification checks the other records only.")
	}
	if !info.Verified.IsZero() && info.VerifyErr != nil {
		parts = append(parts, "Last check on "+dayTime(info.Verified)+": "+plain.Error(info.VerifyErr))
	}
	b.detail.SetText(strings.Join(parts, " "))
}

func (b *backupsScreen) setBusy(on bool) {
	b.busy = on
	b.refreshButtons()
}

// chooseFolder asks for the backup folder and saves it (admins).
func (b *backupsScreen) chooseFolder() {
	files.folder(b.win, b.st.Folder, func(dir string) {
		kit.Touch(b.s)
		b.setFolder(dir, nil)
	})
}

// setFolder saves dir as the backup folder, then runs then (if not nil).
func (b *backupsScreen) setFolder(dir string, then func()) {
	var err error
	b.setBusy(true)
	kit.Background(func() {
		err = b.s.SetBackupFolder(b.ctx, dir)
	}, func() {
		b.setBusy(false)
		if err != nil {
			b.status.Say(widget.DangerImportance, "The backup folder was not changed. "+plain.Error(err))
			return
		}
		b.status.Say(widget.SuccessImportance, "Backups now go to "+dir+".")
		b.load()
		if then != nil {
			then()
		}
	})
}

// backupNow backs up to the folder; with no folder, an admin chooses one
// first and anyone else picks a folder for this one backup.
func (b *backupsScreen) backupNow() {
	if b.busy {
		return
	}
	if b.st.Folder == "" {
		files.folder(b.win, "", func(dir string) {
			kit.Touch(b.s)
			if b.admin {
				b.setFolder(dir, func() { b.runBackup(dir) })
			} else {
				b.runBackup(dir)
			}
		})
		return
	}
	b.runBackup(b.st.Folder)
}

// runBackup makes, verifies and prunes a backup in dir off the UI thread.
func (b *backupsScreen) runBackup(dir string) {
	b.setBusy(true)
	b.status.Say(widget.MediumImportance, "")
	b.progress.start("Starting the backup…")
	feed := &progressFeed{show: b.progress.set}
	var err error
	kit.Background(func() {
		err = b.s.BackupNow(b.ctx, dir, feed.report)
	}, func() {
		b.progress.stop()
		b.setBusy(false)
		if err != nil {
			b.status.Say(widget.DangerImportance, "The backup did not complete. "+plain.Error(err)+
				" Older backups are untouched. Check that the folder's drive is connected and has room, then try again.")
		} else {
			msg := "A new backup was made and verified: it opens and holds every record."
			if dir != b.st.Folder {
				msg = "A new backup was made in " + dir + " and verified. Ask an admin to choose a backup folder so that backups happen every day."
			}
			b.status.Say(widget.SuccessImportance, msg)
		}
		b.load()
	})
}

// verifySelected verifies the selected backup and shows the result.
func (b *backupsScreen) verifySelected() {
	info, ok := b.selected()
	if !ok || b.busy {
		return
	}
	b.setBusy(true)
	b.status.Say(widget.MediumImportance, "")
	b.progress.start("Opening " + filepath.Base(info.Path) + "…")
	feed := &progressFeed{show: b.progress.set}
	var report *app.VerifyReport
	var err error
	kit.Background(func() {
		report, err = b.s.VerifyBackup(b.ctx, info.Path, feed.report)
	}, func() {
		b.progress.stop()
		b.setBusy(false)
		b.showVerify(info, report, err)
		b.load()
	})
}

// verifyResult is the verification dialog.
type verifyResult struct {
	ok     bool
	text   string
	checks []app.TableCheck
	d      dialog.Dialog
}

// checkColumns are the verification table's titles and widths.
var checkColumns = []struct {
	title string
	width float32
}{{"Database", 110}, {"Table", 180}, {"In the backup", 115}, {"When made", 105}, {"Vault now", 105}}

// showVerify shows a verification's result and its table of row counts.
func (b *backupsScreen) showVerify(info app.BackupInfo, report *app.VerifyReport, err error) {
	r := &verifyResult{ok: err == nil}
	if report != nil {
		r.checks = report.Tables
	}
	name := filepath.Base(info.Path)
	var top *kit.Notice
	if err == nil {
		r.text = fmt.Sprintf("%s opens with this vault's key, passes the database integrity checks, and every table has the rows it had when the backup was made.", name)
		if info.ClinicalSealed || !b.s.HasClinical() {
			r.text += " Clinical records could not be checked from this account: they need the clinical key."
		}
		top = kit.NewNotice(kit.ToneOK, "The backup is good", r.text)
		b.status.Say(widget.SuccessImportance, name+" verified: it can be restored.")
	} else {
		r.text = plain.Error(err) + " Do not rely on this file. Keep it for support, and make a new backup now."
		top = kit.NewNotice(kit.ToneDanger, "The backup failed verification", r.text)
		b.status.Say(widget.DangerImportance, name+" FAILED verification. "+plain.Error(err))
	}
	content := []fyne.CanvasObject{top}
	var body fyne.CanvasObject = container.NewVBox(content...)
	if len(r.checks) > 0 {
		table := widget.NewTable(
			func() (int, int) { return len(r.checks), len(checkColumns) },
			func() fyne.CanvasObject { return cell() },
			func(id widget.TableCellID, o fyne.CanvasObject) {
				c := r.checks[id.Row]
				l := o.(*widget.Label)
				imp := widget.MediumImportance
				var text string
				switch id.Col {
				case 0:
					text = c.Database
				case 1:
					text = c.Table
				case 2:
					text = fmt.Sprint(c.Backup)
					if c.Backup != c.Manifest {
						imp = widget.DangerImportance
					}
				case 3:
					text = fmt.Sprint(c.Manifest)
				case 4:
					text = "—"
					if c.Live >= 0 {
						text = fmt.Sprint(c.Live)
					}
				}
				setCell(l, text, imp)
			},
		)
		table.ShowHeaderRow = true
		table.CreateHeader = func() fyne.CanvasObject { return kit.HeaderCell("") }
		table.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
			if id.Col >= 0 && id.Col < len(checkColumns) {
				o.(*widget.Label).SetText(checkColumns[id.Col].title)
			}
		}
		for i, c := range checkColumns {
			table.SetColumnWidth(i, c.width)
		}
		explain := kit.Quiet("Rows in each table: in the backup now, as recorded when it was made, and in the vault today " +
			"(the vault changes after a backup, so that column may differ).")
		body = container.NewBorder(container.NewVBox(top, explain), nil, nil, nil, table)
	}
	title := "Backup verified"
	if err != nil {
		title = "Backup verification failed"
	}
	d := dialog.NewCustom(title, "Close", body, b.win)
	if len(r.checks) > 0 {
		d.Resize(fyne.NewSize(700, 520))
	} else {
		d.Resize(fyne.NewSize(560, 260))
	}
	r.d = d
	b.report = r
	d.Show()
}

// restoreDialog restores a backup into a new, empty folder.
type restoreDialog struct {
	b        *backupsScreen
	d        *dialog.CustomDialog
	file     *kit.Entry
	dir      *kit.Entry
	how      *widget.RadioGroup
	name     *kit.Entry
	pass     *kit.Entry
	code     *kit.Entry
	key      *kit.Entry
	adminBox *fyne.Container
	keyBox   *fyne.Container
	form     *fyne.Container
	body     *fyne.Container
	progress *progressView
	status   *kit.StatusText
	run      *widget.Button
	cancel   *widget.Button
	running  bool
	closed   bool
	// doneDir is the folder restored into, once done.
	doneDir string
}

// How a restore is unlocked.
const (
	byAdmin    = "An admin's name, passphrase and code"
	byRecovery = "The practice's recovery key"
)

// openRestore shows the Restore dialog.
func (b *backupsScreen) openRestore() {
	s := b.s
	r := &restoreDialog{b: b, progress: newProgressView(), status: kit.NewStatus(widget.MediumImportance)}
	b.restoring = r
	r.file = kit.NewEntry(s)
	r.file.SetPlaceHolder("the .cvbackup file")
	if info, ok := b.selected(); ok {
		r.file.SetText(info.Path)
	} else if len(b.backups) > 0 {
		r.file.SetText(b.backups[0].Path)
	}
	r.dir = kit.NewEntry(s)
	r.dir.SetPlaceHolder("a folder that does not exist yet, or is empty")
	r.dir.SetText(suggestRestoreDir(now()))
	pickFile := widget.NewButtonWithIcon("Browse…", theme.FileIcon(), kit.Act(s, func() {
		files.open(b.win, filepath.Dir(r.file.Text), []string{app.BackupExt}, func(p string) { r.file.SetText(p) })
	}))
	pickDir := widget.NewButtonWithIcon("Browse…", theme.FolderOpenIcon(), kit.Act(s, func() {
		files.folder(b.win, filepath.Dir(r.dir.Text), func(p string) { r.dir.SetText(restoreInto(p, now())) })
	}))
	r.name = kit.NewEntry(s)
	r.name.SetPlaceHolder("as it was in the backup")
	r.pass = kit.NewPasswordEntry(s)
	r.code = kit.NewEntry(s)
	r.code.SetPlaceHolder("6 digits from the authenticator app")
	r.key = kit.NewEntry(s)
	r.key.SetPlaceHolder("XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX")
	r.adminBox = container.NewVBox(widget.NewForm(
		widget.NewFormItem("Admin's name", r.name),
		widget.NewFormItem("Passphrase", r.pass),
		widget.NewFormItem("Code", r.code),
	))
	r.keyBox = container.NewVBox(widget.NewForm(widget.NewFormItem("Recovery key", r.key)))
	r.keyBox.Hide()
	r.how = widget.NewRadioGroup([]string{byAdmin, byRecovery}, func(v string) {
		kit.Touch(s)
		if v == byRecovery {
			r.adminBox.Hide()
			r.keyBox.Show()
		} else {
			r.adminBox.Show()
			r.keyBox.Hide()
		}
	})
	r.how.Required = true
	r.how.SetSelected(byAdmin)

	explain := kit.NewNotice(kit.ToneInfo, "A restore never touches the vault you are using",
		"ClinicVault restores into a NEW, empty folder, never over the open vault. Afterwards you open the restored copy "+
			"by starting ClinicVault on that folder, check it, and only then decide which copy to keep.")
	r.form = container.NewVBox(
		explain,
		widget.NewForm(
			widget.NewFormItem("Backup file", container.NewBorder(nil, nil, nil, pickFile, r.file)),
			widget.NewFormItem("Restore into", container.NewBorder(nil, nil, nil, pickDir, r.dir)),
		),
		kit.Bold("Unlock the backup with"),
		r.how,
		r.adminBox,
		r.keyBox,
	)
	r.body = container.NewStack(r.form)
	r.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), kit.Act(s, func() { r.d.Hide() }))
	r.run = widget.NewButtonWithIcon("Restore", theme.HistoryIcon(), kit.Act(s, r.start))
	r.run.Importance = widget.HighImportance
	for _, e := range []*kit.Entry{r.file, r.dir, r.name, r.pass, r.code, r.key} {
		e.OnChanged = func(string) {
			kit.Touch(s)
			if !r.running {
				r.status.Say(widget.MediumImportance, "")
			}
		}
	}
	content := container.NewBorder(nil, container.NewVBox(r.progress.box, r.status), nil, nil,
		container.NewVScroll(container.New(layout.NewCustomPaddedLayout(0, 0, 0, 8), r.body)))
	r.d = dialog.NewCustomWithoutButtons("Restore a backup", content, b.win)
	r.d.SetButtons([]fyne.CanvasObject{r.cancel, r.run})
	r.d.SetOnClosed(func() { r.closed = true })
	r.d.Resize(fyne.NewSize(720, 600))
	r.d.Show()
}

// suggestRestoreDir is a new folder next to the user's home for a
// restore.
func suggestRestoreDir(t time.Time) string {
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return restoreInto(home, t)
}

// restoreInto is dir itself when it is empty, or else a new dated folder
// inside it.
func restoreInto(dir string, t time.Time) string {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) == 0 {
		return dir
	}
	return filepath.Join(dir, "ClinicVault restored "+t.Format("2006-01-02 1504"))
}

// start checks the fields and restores off the UI thread.
func (r *restoreDialog) start() {
	if r.running {
		return
	}
	if r.doneDir != "" {
		r.d.Hide()
		return
	}
	path, dir := strings.TrimSpace(r.file.Text), strings.TrimSpace(r.dir.Text)
	byKey := r.how.Selected == byRecovery
	name, pass, code, key := strings.TrimSpace(r.name.Text), r.pass.Text, strings.TrimSpace(r.code.Text), r.key.Text
	switch {
	case path == "":
		r.status.Say(widget.DangerImportance, "Choose the backup file to restore.")
		return
	case dir == "":
		r.status.Say(widget.DangerImportance, "Choose a new, empty folder to restore into.")
		return
	case !filepath.IsAbs(dir):
		r.status.Say(widget.DangerImportance, "Give the whole path of the folder to restore into, or press Browse….")
		return
	case byKey && strings.TrimSpace(key) == "":
		r.status.Say(widget.DangerImportance, "Type the recovery key.")
		return
	case !byKey && (name == "" || pass == "" || code == ""):
		r.status.Say(widget.DangerImportance, "Type an admin's name, passphrase and the code their authenticator app shows now.")
		return
	}
	if _, err := os.Stat(path); err != nil {
		r.status.Say(widget.DangerImportance, "The backup file "+path+" cannot be found.")
		return
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		r.status.Say(widget.DangerImportance, "The folder "+dir+" is not empty. ClinicVault only restores into a new or empty folder, so that nothing is overwritten.")
		return
	}
	r.running = true
	kit.Enable(r.run, false)
	kit.Enable(r.cancel, false)
	r.status.Say(widget.MediumImportance, "")
	r.progress.start("Reading the backup…")
	feed := &progressFeed{show: r.progress.set}
	ctx := r.b.ctx
	v := r.b.newVault(dir)
	var err error
	kit.Background(func() {
		if byKey {
			err = v.RestoreBackupWithRecoveryKey(ctx, path, key, feed.report)
		} else {
			err = v.RestoreBackup(ctx, path, name, pass, code, feed.report)
		}
	}, func() {
		r.running = false
		r.progress.stop()
		kit.Enable(r.cancel, true)
		kit.Enable(r.run, true)
		r.pass.SetText("")
		r.key.SetText("")
		if err != nil {
			msg := restoreError(err)
			r.status.Say(widget.DangerImportance, "Nothing was restored. "+msg)
			if r.closed {
				kit.ShowError(r.b.win, "The backup was not restored", msg)
			}
			return
		}
		r.doneDir = dir
		r.finished(dir)
	})
}

// finished replaces the form with how to open the restored copy.
func (r *restoreDialog) finished(dir string) {
	cmd := fmt.Sprintf("clinicvault --data %q", dir)
	command := widget.NewLabelWithStyle(cmd, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	command.Selectable = true
	command.Wrapping = fyne.TextWrapBreak
	copyCmd := widget.NewButtonWithIcon("Copy command", theme.ContentCopyIcon(), kit.Act(r.b.s, func() {
		fyne.CurrentApp().Clipboard().SetContent(cmd)
	}))
	r.body.Objects = []fyne.CanvasObject{container.NewVBox(
		kit.NewNotice(kit.ToneOK, "The backup is restored", "The restored vault is in "+dir+". This window still shows the vault you are signed in to."),
		kit.Bold("To open the restored copy"),
		kit.Wrapped("Quit ClinicVault, then start it on the new folder, from a terminal or a shortcut:"),
		kit.Card(command),
		container.NewHBox(copyCmd),
		kit.Wrapped("Sign in there as usual, check the records, and keep both folders until you are sure which one to use. "+
			"Never copy one vault's files over another's."),
	)}
	r.body.Refresh()
	r.run.SetText("Close")
	r.run.SetIcon(theme.ConfirmIcon())
	r.cancel.Hide()
	r.status.Say(widget.MediumImportance, "")
	if r.closed {
		kit.ShowInfo(r.b.win, "The backup is restored", "The restored vault is in "+dir+". To open it, quit ClinicVault and start it with: "+cmd)
	}
}

// restoreError is err from a restore in plain words: a refused sign-in
// is the backup's admin's details, not today's.
func restoreError(err error) string {
	if errors.Is(err, app.ErrSignInRefused) {
		return "The name, passphrase or code is not right for this backup. Use an admin's details as they were when the backup was made."
	}
	return plain.Error(err)
}
