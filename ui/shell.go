package ui

import (
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/admin"
	"github.com/clinicvault/clinicvault/ui/devices"
	"github.com/clinicvault/clinicvault/ui/kit"
)

// adminScreens maps the Security Center's and reminders' screen names to
// navigation entries.
var adminScreens = map[string]string{
	admin.ScreenUsers: "Staff", admin.ScreenBackups: "Backups", admin.ScreenTraining: "Training",
	admin.ScreenEmergency: "Emergency access", admin.ScreenAccessReview: "Access review",
	admin.ScreenAudit: "Audit log", admin.ScreenSecurity: "Security Center", "devices": "Computers",
}

// navItem is one entry of the shell's navigation column.
type navItem struct {
	name string
	icon fyne.Resource
	// open builds the screen and returns the field to focus (or nil).
	open func() (fyne.CanvasObject, fyne.Focusable)
}

// shell is the signed-in window: a top bar, the navigation and a screen.
type shell struct {
	g     *gui
	s     *app.Session
	items []navItem
	// rows are the navigation's lines: a group's heading (item -1) or
	// an item.
	rows []navRow
	nav  *widget.List
	body *fyne.Container
	lock *widget.Button
	who  *widget.Label
	// current is the name of the screen shown.
	current string
	// screens built, by name, for tests.
	users   *usersScreen
	audit   *auditScreen
	account *accountScreen
	home    *homeScreen
	// The records screens; Today and Patients are kept while the shell
	// lives, so the day and the search stay as they were.
	today    *todayScreen
	patients *patientsScreen
	chart    *chartScreen
	imports  *importScreen
	exports  *exportScreen
}

// showShell shows the signed-in shell on its Today screen, starts the
// daily backup and the sync watcher for this session (both stop when it
// locks), and shows what needs attention without blocking work.
func (g *gui) showShell() {
	sh := newShell(g, g.session)
	g.shell = sh
	g.setScreen("shell", sh.view(), nil)
	sh.open(0)
	if g.startServices {
		s := g.session
		admin.StartScheduler(s, func(bool, error) {})
		devices.StartWatcher(s, func(rep app.SyncReport, err error) {
			if err == nil && rep.Applied > 0 {
				fyne.Do(sh.syncApplied)
			}
		})
		admin.Reminders(g.win, s, sh.goTo)
	}
}

// syncApplied refreshes the open Today screen when a sync pass brought
// another machine's changes (a booking made at the front desk shows on
// the doctor's laptop without a click). Other screens read afresh when
// opened.
func (sh *shell) syncApplied() {
	if sh.current == "Today" && sh.today != nil {
		sh.today.load()
	}
}

// goTo opens a screen by its admin package name.
func (sh *shell) goTo(name string) {
	if n, ok := adminScreens[name]; ok {
		sh.openNamed(n)
	}
}

func newShell(g *gui, s *app.Session) *shell {
	sh := &shell{g: g, s: s, body: container.NewStack()}
	sh.items = []navItem{
		{"Today", theme.HistoryIcon(), func() (fyne.CanvasObject, fyne.Focusable) {
			if sh.today == nil {
				sh.today = newTodayScreen(g, sh, s)
			} else {
				sh.today.load()
			}
			return sh.today.view, sh.today.focusTarget()
		}},
		{"Patients", theme.SearchIcon(), func() (fyne.CanvasObject, fyne.Focusable) {
			if sh.patients == nil {
				sh.patients = newPatientsScreen(g, sh, s)
			} else {
				sh.patients.rerun()
			}
			return sh.patients.view, sh.patients.search
		}},
		{"Import", theme.DownloadIcon(), func() (fyne.CanvasObject, fyne.Focusable) {
			sh.imports = newImportScreen(g, sh, s)
			return sh.imports.view, nil
		}},
		{"Export", theme.UploadIcon(), func() (fyne.CanvasObject, fyne.Focusable) {
			sh.exports = newExportScreen(g, sh, s)
			return sh.exports.view, nil
		}},
		{"Home", theme.HomeIcon(), func() (fyne.CanvasObject, fyne.Focusable) {
			sh.home = newHomeScreen(g, s)
			return sh.home.view, sh.home.first
		}},
		{"Backups", theme.StorageIcon(), func() (fyne.CanvasObject, fyne.Focusable) {
			return admin.NewBackupsScreen(g.win, s), nil
		}},
		{"Sync", theme.ViewRefreshIcon(), func() (fyne.CanvasObject, fyne.Focusable) {
			return devices.NewSyncScreen(g.win, s), nil
		}},
		{"Computers", theme.ComputerIcon(), func() (fyne.CanvasObject, fyne.Focusable) {
			return devices.NewDevicesScreen(g.win, s), nil
		}},
		{"Training", theme.InfoIcon(), func() (fyne.CanvasObject, fyne.Focusable) {
			return admin.NewTrainingScreen(g.win, s), nil
		}},
	}
	if s.User().Role == app.Admin {
		sh.items = append(sh.items,
			navItem{"Staff", theme.AccountIcon(), func() (fyne.CanvasObject, fyne.Focusable) {
				sh.users = newUsersScreen(g, s)
				return sh.users.view, sh.users.list
			}},
			navItem{"Audit log", theme.ListIcon(), func() (fyne.CanvasObject, fyne.Focusable) {
				sh.audit = newAuditScreen(g, s)
				return sh.audit.view, sh.audit.table
			}},
			navItem{"Security Center", theme.WarningIcon(), func() (fyne.CanvasObject, fyne.Focusable) {
				return admin.NewSecurityCenter(g.win, s, sh.goTo), nil
			}},
			navItem{"Emergency access", theme.VisibilityIcon(), func() (fyne.CanvasObject, fyne.Focusable) {
				return admin.NewEmergencyReviewScreen(g.win, s), nil
			}},
			navItem{"Access review", theme.DocumentIcon(), func() (fyne.CanvasObject, fyne.Focusable) {
				return admin.NewAccessReviewScreen(g.win, s), nil
			}},
		)
	}
	sh.items = append(sh.items, navItem{"My account", theme.SettingsIcon(), func() (fyne.CanvasObject, fyne.Focusable) {
		sh.account = newAccountScreen(g, s)
		return sh.account.view, sh.account.current
	}})

	var groups []string
	sh.items, groups = grouped(sh.items)
	for i := range sh.items {
		if i == 0 || groups[i] != groups[i-1] {
			sh.rows = append(sh.rows, navRow{heading: groups[i], item: -1})
		}
		sh.rows = append(sh.rows, navRow{item: i})
	}
	sh.nav = widget.NewList(
		func() int { return len(sh.rows) },
		func() fyne.CanvasObject {
			head := widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
			head.SizeName = theme.SizeNameCaptionText
			head.Importance = widget.LowImportance
			return container.NewStack(container.New(kit.TightVBox(-8), head),
				container.NewHBox(widget.NewIcon(theme.HomeIcon()), widget.NewLabel("My account…")))
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			stack := o.(*fyne.Container)
			head, row := stack.Objects[0].(*fyne.Container), stack.Objects[1].(*fyne.Container)
			r := sh.rows[id]
			if r.item < 0 {
				head.Objects[0].(*widget.Label).SetText(strings.ToUpper(r.heading))
				head.Show()
				row.Hide()
				return
			}
			head.Hide()
			row.Show()
			row.Objects[0].(*widget.Icon).SetResource(sh.items[r.item].icon)
			row.Objects[1].(*widget.Label).SetText(sh.items[r.item].name)
		},
	)
	for id, r := range sh.rows {
		if r.item < 0 {
			sh.nav.SetItemHeight(id, navHeadingHeight)
		} else {
			sh.nav.SetItemHeight(id, navItemHeight)
		}
	}
	sh.nav.OnSelected = func(id widget.ListItemID) {
		g.activity()
		if sh.rows[id].item < 0 {
			// A heading: its first entry.
			sh.nav.Select(id + 1)
			return
		}
		sh.show(sh.rows[id].item)
	}
	sh.lock = widget.NewButtonWithIcon("Lock", theme.LogoutIcon(), g.act(g.lockNow))
	sh.who = widget.NewLabel("")
	sh.refreshWho()
	return sh
}

// navRow is one line of the navigation.
type navRow struct {
	heading string
	item    int // index in items; -1 for a heading
}

// The navigation's line heights: tight enough that an admin's fifteen
// entries and their headings fit at 700 pixels without scrolling.
const (
	navHeadingHeight = 20
	navItemHeight    = 30
)

// navGroups names each entry's group, in the order the groups show.
var navGroups = []struct {
	name  string
	items []string
}{
	{"Front desk", []string{"Today", "Patients", "Import", "Export"}},
	{"Practice", []string{"Staff", "Security Center", "Audit log", "Emergency access", "Access review"}},
	{"This computer", []string{"Backups", "Sync", "Computers"}},
	{"You", []string{"Home", "Training", "My account"}},
}

// grouped orders items by their group, and names each one's group.
func grouped(items []navItem) (out []navItem, groups []string) {
	for _, grp := range navGroups {
		for _, name := range grp.items {
			for _, it := range items {
				if it.name == name {
					out = append(out, it)
					groups = append(groups, grp.name)
				}
			}
		}
	}
	for _, it := range items {
		if !slices.ContainsFunc(out, func(o navItem) bool { return o.name == it.name }) {
			out = append(out, it)
			groups = append(groups, "More")
		}
	}
	return out, groups
}

// refreshWho updates "Signed in as" (the role may have changed).
func (sh *shell) refreshWho() {
	u := sh.s.User()
	sh.who.SetText("Signed in as " + u.Name + " (" + string(u.Role) + ")")
}

// view is the whole shell.
func (sh *shell) view() fyne.CanvasObject {
	practice := widget.NewLabelWithStyle(sh.g.practice, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	practice.SizeName = theme.SizeNameSubHeadingText
	top := container.NewVBox(
		container.NewBorder(nil, nil, practice, container.NewHBox(sh.who, sh.lock)),
		widget.NewSeparator(),
	)
	left := container.NewBorder(nil, nil, nil, widget.NewSeparator(),
		container.New(kit.FixedWidth(170), sh.nav))
	return container.NewBorder(top, nil, left, nil, container.NewPadded(sh.body))
}

// open selects navigation entry i, which shows its screen.
func (sh *shell) open(i int) {
	for id, r := range sh.rows {
		if r.item == i {
			sh.nav.Select(id)
			return
		}
	}
}

// openNamed selects the navigation entry called name, if present.
func (sh *shell) openNamed(name string) bool {
	for i, it := range sh.items {
		if it.name == name {
			sh.open(i)
			return true
		}
	}
	return false
}

// show builds screen i and puts it in the body.
func (sh *shell) show(i int) {
	if i < 0 || i >= len(sh.items) {
		return
	}
	if sh.s.Locked() {
		return // the lock hook is about to show the sign-in screen
	}
	view, first := sh.items[i].open()
	sh.current = sh.items[i].name
	sh.body.Objects = []fyne.CanvasObject{view}
	sh.body.Refresh()
	if first != nil {
		sh.g.focus(first)
	}
}

// findPatient shows the Patients screen with its search field focused and
// what it holds selected, ready to type over.
func (sh *shell) findPatient() {
	if sh.current != "Patients" {
		sh.openNamed("Patients")
	}
	if p := sh.patients; p != nil {
		sh.g.focus(p.search)
		p.search.TypedShortcut(&fyne.ShortcutSelectAll{})
	}
}

// newPatient opens the new patient form from any screen.
func (sh *shell) newPatient() {
	if sh.patients == nil {
		sh.patients = newPatientsScreen(sh.g, sh, sh.s)
	}
	sh.patients.newPatient()
}

// openChart shows the chart of the patient with mrn in the body, with a
// way back to the screen it was opened from.
func (sh *shell) openChart(mrn string) {
	from := sh.current
	if from == "Chart" && sh.chart != nil {
		from = sh.chart.from
	}
	if sh.s.Locked() {
		return
	}
	sh.g.closeDialogs()
	sh.chart = newChartScreen(sh.g, sh, sh.s, mrn, from)
	sh.current = "Chart"
	// Nothing in the navigation is selected while a chart is shown, so
	// choosing Today or Patients there goes back.
	sh.nav.UnselectAll()
	sh.body.Objects = []fyne.CanvasObject{sh.chart.view}
	sh.body.Refresh()
	sh.chart.load()
}

// back leaves a chart for the screen it was opened from.
func (sh *shell) back() {
	from := "Patients"
	if sh.chart != nil && sh.chart.from != "" {
		from = sh.chart.from
	}
	if !sh.openNamed(from) {
		sh.open(0)
	}
}

// exportPatient opens the Export screen set to export p alone.
func (sh *shell) exportPatient(p app.Patient) {
	if sh.openNamed("Export") && sh.exports != nil {
		sh.exports.forPatient(p)
	}
}

// navNames returns the navigation entries' names.
func (sh *shell) navNames() []string {
	var out []string
	for _, it := range sh.items {
		out = append(out, it.name)
	}
	return out
}
