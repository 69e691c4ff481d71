package cli

// The Windows build, end to end, under Wine: run by .ci/windows-e2e,
// which builds dist/clinicvault.exe (.ci/windows-build), prepares a Wine
// prefix with its test shim and sets CLINICVAULT_WINDOWS_EXE; skipped
// everywhere else. The Windows program here is the real exe; the Linux
// computer of the mixed practice is this test binary acting as the
// program (cliCommand), on the same clock.

import (
	"bytes"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	fage "filippo.io/age"
	"github.com/clinicvault/clinicvault/app/instance"
	"github.com/pquerna/otp/totp"
	"golang.org/x/text/encoding/charmap"
)

// wineProgram runs a Windows program under Wine.
type wineProgram struct {
	wine   string // the wine command
	exe    string // the program, a Linux path
	prefix string // WINEPREFIX
}

// needWindowsExe returns the Windows program to test, or skips.
func needWindowsExe(t *testing.T) wineProgram {
	t.Helper()
	exe := os.Getenv("CLINICVAULT_WINDOWS_EXE")
	if exe == "" {
		t.Skip("the Windows build is tested under Wine by .ci/windows-e2e (CLINICVAULT_WINDOWS_EXE unset)")
	}
	exe, _ = filepath.Abs(exe)
	if _, err := os.Stat(exe); err != nil {
		t.Fatalf("CLINICVAULT_WINDOWS_EXE: %v", err)
	}
	wine := os.Getenv("WINE")
	if wine == "" {
		wine = "wine"
	}
	prefix := os.Getenv("WINEPREFIX")
	if prefix == "" {
		t.Fatal("WINEPREFIX unset: .ci/windows-e2e prepares one")
	}
	return wineProgram{wine: wine, exe: exe, prefix: prefix}
}

// cmd runs the Windows program with args.
func (w wineProgram) cmd(args ...string) *exec.Cmd {
	return w.run(w.exe, args...)
}

// run runs any Windows program (a Linux path or a Windows one) under Wine.
func (w wineProgram) run(exe string, args ...string) *exec.Cmd {
	cmd := exec.Command(w.wine, append([]string{exe}, args...)...)
	// Wine turns the arguments into Windows text with the Linux locale's
	// codeset: a UTF-8 one that exists everywhere (en_US.UTF-8 may not),
	// so that "Peña" arrives as a Windows program receives it from the
	// Command Prompt.
	cmd.Env = append(os.Environ(), "WINEDEBUG=-all", "WINEPREFIX="+w.prefix, "LC_ALL=C.UTF-8")
	return cmd
}

// output runs cmd (under Wine) and returns what it printed, both
// streams, from a file rather than a pipe: Wine's own service processes,
// started along with the first program, inherit its handles and outlive
// it, so a pipe would never reach its end. Standard input, when given,
// comes from a file too.
func output(t *testing.T, cmd *exec.Cmd, stdin string) ([]byte, error) {
	t.Helper()
	f := startLogged(t, cmd, stdin)
	// A program that should end but does not (a window where a command
	// was meant) is ended, so the test fails rather than hangs.
	watchdog := time.AfterFunc(3*time.Minute, func() { cmd.Process.Kill() })
	defer watchdog.Stop()
	err := cmd.Wait()
	b, _ := os.ReadFile(f)
	return b, err
}

// startLogged starts cmd with its output going to a file, whose name it
// returns, and stdin (if not empty) read from another.
func startLogged(t *testing.T, cmd *exec.Cmd, stdin string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if stdin != "" {
		os.WriteFile(filepath.Join(dir, "in"), []byte(stdin), 0o600)
		in, err := os.Open(filepath.Join(dir, "in"))
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		cmd.Stdin = in
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return out.Name()
}

// appData is the Linux path of the Windows user's %AppData% in the prefix.
func (w wineProgram) appData(t *testing.T) string {
	t.Helper()
	out, err := output(t, w.run("cmd", "/c", "echo", "%APPDATA%"), "")
	if err != nil {
		t.Fatalf("wine cmd: %v", err)
	}
	win := strings.TrimSpace(string(out))
	if !strings.HasPrefix(win, `C:\`) {
		t.Fatalf("%%APPDATA%% is %q", win)
	}
	return filepath.Join(w.prefix, "drive_c", filepath.FromSlash(strings.ReplaceAll(win[3:], `\`, "/")))
}

// winPath is how a Windows program names a Linux path: Wine's drive Z:
// is the Linux root; backslashes, as a receptionist would type them.
func winPath(p string) string { return "Z:" + strings.ReplaceAll(p, "/", `\`) }

// initVault makes a practice "Riverside" with its admin Maria Admin in
// the data folder dir (a Linux path) with the Windows program, and
// returns the admin's TOTP secret.
func (w wineProgram) initVault(t *testing.T, dir, passFile string) string {
	t.Helper()
	out, err := output(t, w.cmd("--data", winPath(dir), "--passphrase-file", winPath(passFile), "init", "--practice", "Riverside", "--admin", "Maria Admin"), "")
	if err != nil {
		t.Fatalf("init in %s: %v\n%s", dir, err, out)
	}
	return totpSecret(t, out)
}

// totpSecret is the secret of the otpauth URI that init prints.
func totpSecret(t *testing.T, out []byte) string {
	t.Helper()
	u, err := url.Parse(regexp.MustCompile(`otpauth://\S+`).FindString(string(out)))
	if err != nil || u.Query().Get("secret") == "" {
		t.Fatalf("no otpauth URI in:\n%s", out)
	}
	return u.Query().Get("secret")
}

// codeAfter waits, on the real clock (the Windows program has no other),
// for a TOTP step later than every step in used, and returns its code;
// it records the step in used.
func codeAfter(t *testing.T, secret string, used *int64) string {
	t.Helper()
	for time.Now().Unix()/30 <= *used {
		time.Sleep(time.Duration(30-time.Now().Unix()%30)*time.Second + 200*time.Millisecond)
	}
	now := time.Now()
	*used = now.Unix() / 30
	c, err := totp.GenerateCode(secret, now)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// windows1252CSV is a patient sheet as Excel on a Windows PC in Western
// Europe saves it: Windows-1252 text, CRLF line endings.
func windows1252CSV(t *testing.T, rows ...string) []byte {
	t.Helper()
	text := strings.Join(append([]string{"Last Name,First Name,Date of Birth,Phone"}, rows...), "\r\n") + "\r\n"
	b, err := charmap.Windows1252.NewEncoder().Bytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The front desk's day on Windows: a vault on the default path (no
// --data: %AppData%\ClinicVault), a sign-in with a TOTP code, patients
// with accented names, a CSV from Excel (Windows-1252, CRLF), an
// encrypted export, a backup made, verified and restored, and nothing of
// the patients in plaintext on disk.
func TestWindowsEndToEnd(t *testing.T) {
	w := needWindowsExe(t)
	appData := w.appData(t)
	dataDir := filepath.Join(appData, "ClinicVault")
	if _, err := os.Stat(filepath.Join(w.prefix, ".clinicvault-test-prefix")); err != nil {
		t.Fatalf("%s is not a test prefix made by .ci/windows-e2e (no .clinicvault-test-prefix): not touching its ClinicVault folder", w.prefix)
	}
	os.RemoveAll(dataDir) // an earlier run's, in the test prefix only

	tmp := t.TempDir()
	pass := filepath.Join(tmp, "pass.txt")
	os.WriteFile(pass, []byte(adminPass+"\r\n"), 0o600) // as Notepad saves it
	out, err := output(t, w.cmd("--passphrase-file", winPath(pass), "init", "--practice", "Cabinet Peña", "--admin", "Maria Admin"), "")
	if err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "vault.keys")); err != nil {
		t.Fatalf("init did not make the vault in %%AppData%%\\ClinicVault (%s): %v\n%s", dataDir, err, out)
	}
	secret := totpSecret(t, out)
	var used int64

	sheet := filepath.Join(tmp, "patients.csv")
	os.WriteFile(sheet, windows1252CSV(t, "Müller,Françoise,1961-07-14,0612345678", "Ødegård,Åsa,1990-01-31,0687654321"), 0o600)
	exportPass := filepath.Join(tmp, "export-pass.txt")
	os.WriteFile(exportPass, []byte("export passphrase for the referral\r\n"), 0o600)
	export := filepath.Join(tmp, "patients.csv.age")
	backups := filepath.Join(tmp, "backups")
	os.MkdirAll(backups, 0o700)

	shell := w.cmd("--user", "Maria Admin", "--passphrase-file", winPath(pass), "--totp", codeAfter(t, secret, &used), "shell")
	out, err = output(t, shell, strings.Join([]string{
		"whoami",
		"patient add --given José --family Núñez --dob 1980-03-02 --mobile 0611111111",
		`patient add --given "Zoë" --family "Brontë-Ñandú" --dob 1975-11-30`,
		"import " + winPath(sheet),
		"patient search nunez",
		"patient search muller",
		"patient search odegard",
		"export --format csv --out " + winPath(export) + " --encrypt-passphrase-file " + winPath(exportPass),
		"backup create --out " + winPath(backups),
	}, "\r\n")+"\r\n")
	if err != nil {
		t.Fatalf("shell: %v\n%s", err, out)
	}
	for _, want := range []string{"Maria Admin", "Núñez, José\t1980-03-02", "Müller, Françoise\t1961-07-14", "Ødegård, Åsa\t1990-01-31"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("shell output lacks %q:\n%s", want, out)
		}
	}

	// The export opens with its passphrase and holds the Windows-1252
	// names as they were meant.
	id, err := fage.NewScryptIdentity("export passphrase for the referral")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(export)
	if err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	defer f.Close()
	r, err := fage.Decrypt(f, id)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(r)
	for _, want := range []string{"Müller", "Françoise", "Ødegård", "Núñez", "Brontë-Ñandú"} {
		if !strings.Contains(string(plain), want) {
			t.Fatalf("decrypted export lacks %q:\n%s", want, plain)
		}
	}

	// The backup verifies and restores into a new folder, where the
	// admin signs in (a later code) and finds the patients.
	files, _ := filepath.Glob(filepath.Join(backups, "*"))
	var backup string
	for _, p := range files {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			backup = p
		}
	}
	if backup == "" {
		t.Fatalf("no backup in %s: %v", backups, files)
	}
	// Nothing but the backup is left in its folder: no snapshot or
	// check folders of the backup's own work.
	if left, _ := os.ReadDir(backups); len(left) != 1 {
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		t.Fatalf("the backup folder holds %v, want only the backup", names)
	}
	if out, err := output(t, w.cmd("--user", "Maria Admin", "--passphrase-file", winPath(pass), "--totp", codeAfter(t, secret, &used), "backup", "verify", winPath(backup)), ""); err != nil {
		t.Fatalf("backup verify: %v\n%s", err, out)
	}
	restored := filepath.Join(tmp, "restored")
	if out, err := output(t, w.cmd("--user", "Maria Admin", "--passphrase-file", winPath(pass), "--totp", codeAfter(t, secret, &used), "backup", "restore", winPath(backup), "--to", winPath(restored)), ""); err != nil {
		t.Fatalf("backup restore: %v\n%s", err, out)
	}
	out, err = output(t, w.cmd("--data", winPath(restored), "--user", "Maria Admin", "--passphrase-file", winPath(pass), "--totp", codeAfter(t, secret, &used), "patient", "search", "müller"), "")
	if err != nil || !strings.Contains(string(out), "Müller, Françoise") {
		t.Fatalf("search in the restored vault: %v\n%s", err, out)
	}

	// Nothing of the patients in plaintext anywhere under the data
	// folders, the backup folder or the shared temp folder.
	scanForPlaintext(t, []string{dataDir, restored, backups, filepath.Join(w.prefix, "drive_c", "windows", "temp")},
		"Núñez", "Müller", "Françoise", "Ødegård", "Brontë")
}

// scanForPlaintext fails the test if any file under roots holds one of
// the names, in UTF-8, UTF-16LE or Windows-1252.
func scanForPlaintext(t *testing.T, roots []string, names ...string) {
	t.Helper()
	var needles [][]byte
	for _, n := range names {
		needles = append(needles, []byte(n), utf16le(n))
		if b, err := charmap.Windows1252.NewEncoder().Bytes([]byte(n)); err == nil {
			needles = append(needles, b)
		}
	}
	for _, root := range roots {
		filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return nil
			}
			b, _ := os.ReadFile(p)
			for _, n := range needles {
				if bytes.Contains(b, n) {
					t.Errorf("plaintext %q in %s", n, p)
				}
			}
			return nil
		})
	}
}

// A practice of one Windows front desk (the real exe, under Wine) and
// one Linux laptop sharing a folder, which the desk names the Windows way
// (Z:\…\share, backslashes) and the laptop the Linux way: pairing, a
// patient registered at the desk, a clinical note written on the laptop,
// and the same field edited on both before either saw the other's edit,
// which ends the same on both.
func TestMixedPracticeWindowsAndLinux(t *testing.T) {
	w := needWindowsExe(t)
	tmp := t.TempDir()
	share := filepath.Join(tmp, "share")
	os.MkdirAll(share, 0o700)
	deskDir, laptopDir := filepath.Join(tmp, "desk"), filepath.Join(tmp, "laptop")
	pass := filepath.Join(tmp, "pass")
	os.WriteFile(pass, []byte(adminPass+"\n"), 0o600)

	secret := w.initVault(t, deskDir, pass)
	// The desk runs on the real clock; the laptop (this binary as the
	// program) on the real clock shifted by whole TOTP steps ahead, so
	// each of its sign-ins has a step of its own without waiting.
	var deskUsed int64
	laptopAt := func(ahead time.Duration, args ...string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "CLINICVAULT_AS_CLI=1", "LANG=en_US.UTF-8", "CLINICVAULT_TEST_NOW="+time.Now().Add(ahead).Format(time.RFC3339Nano))
		return cmd
	}
	laptopCode := func(ahead time.Duration) string {
		c, _ := totp.GenerateCode(secret, time.Now().Add(ahead))
		return c
	}

	// The desk registers a patient, syncs and invites the laptop.
	desk := w.cmd("--data", winPath(deskDir), "--user", "Maria Admin", "--passphrase-file", winPath(pass), "--totp", codeAfter(t, secret, &deskUsed), "shell")
	deskLog := startLogged(t, desk, strings.Join([]string{
		"patient add --given José --family Núñez --dob 1980-03-02 --mobile 0611111111",
		"sync --folder " + winPath(share),
		"device invite --folder " + winPath(share) + " --yes",
		"sync",
	}, "\r\n")+"\r\n")
	var code, mrn string
	codeLine, mrnLine := regexp.MustCompile(`(?m)^code: (\S+)\r?$`), regexp.MustCompile(`(?m)^mrn: (\S+)\r?$`)
	for deadline := time.Now().Add(120 * time.Second); code == ""; time.Sleep(200 * time.Millisecond) {
		b, _ := os.ReadFile(deskLog)
		if m := codeLine.FindSubmatch(b); m != nil {
			code = string(m[1])
		}
		if m := mrnLine.FindSubmatch(b); m != nil {
			mrn = string(m[1])
		}
		if time.Now().After(deadline) {
			desk.Process.Kill()
			t.Fatalf("no invitation code from the desk:\n%s", b)
		}
	}
	join := laptopAt(0, "--data", laptopDir, "join", "--folder", share, "--code", code, "--name", "Dr Haddad's laptop")
	if out, err := join.CombinedOutput(); err != nil {
		desk.Process.Kill()
		t.Fatalf("join on the laptop: %v\n%s", err, out)
	}
	err := desk.Wait()
	deskOut, _ := os.ReadFile(deskLog)
	if err != nil {
		t.Fatalf("desk: %v\n%s", err, deskOut)
	}
	if mrn == "" {
		t.Fatalf("no mrn from the desk:\n%s", deskOut)
	}

	// The laptop finds the patient, charts a visit and changes her mobile
	// number; it sends both.
	ahead := time.Duration(deskUsed+1)*30*time.Second - time.Duration(time.Now().UnixNano()) + 45*time.Second
	laptop := laptopAt(ahead, "--data", laptopDir, "--user", "Maria Admin", "--passphrase-file", pass, "--totp", laptopCode(ahead), "shell")
	laptop.Stdin = strings.NewReader(strings.Join([]string{
		"sync",
		"patient search nunez",
		"encounter add " + mrn + ` --subjective "Toux depuis 3 jours" --objective "T 37.9" --assessment "Bronchite aiguë" --plan "Repos, paracétamol" --sign`,
		"patient edit " + mrn + " --mobile 0622222222",
		"sync",
	}, "\n") + "\n")
	if out, err := laptop.CombinedOutput(); err != nil || !strings.Contains(string(out), "Núñez, José\t1980-03-02") {
		t.Fatalf("laptop: %v\n%s", err, out)
	}

	// The desk, not having synced since, changes the same number, then
	// syncs: it receives the note and the laptop's edit.
	desk2 := w.cmd("--data", winPath(deskDir), "--user", "Maria Admin", "--passphrase-file", winPath(pass), "--totp", codeAfter(t, secret, &deskUsed), "shell")
	deskShow, err := output(t, desk2, strings.Join([]string{
		"patient edit " + mrn + " --mobile 0633333333",
		"sync",
		"patient show " + mrn,
	}, "\r\n")+"\r\n")
	if err != nil || !strings.Contains(string(deskShow), "A: Bronchite aiguë") {
		t.Fatalf("desk after sync: %v\n%s", err, deskShow)
	}

	// The laptop syncs once more: both show the same number, one of the two.
	ahead2 := time.Duration(deskUsed+1)*30*time.Second - time.Duration(time.Now().UnixNano()) + 45*time.Second
	laptop2 := laptopAt(ahead2, "--data", laptopDir, "--user", "Maria Admin", "--passphrase-file", pass, "--totp", laptopCode(ahead2), "shell")
	laptop2.Stdin = strings.NewReader("sync\npatient show " + mrn + "\n")
	laptopShow, err := laptop2.CombinedOutput()
	if err != nil {
		t.Fatalf("laptop's last sync: %v\n%s", err, laptopShow)
	}
	phone := regexp.MustCompile(`(?m)^phone: (\S+)\r?$`)
	dp, lp := phone.FindSubmatch(deskShow), phone.FindSubmatch(laptopShow)
	if dp == nil || lp == nil || string(dp[1]) != string(lp[1]) || (string(dp[1]) != "0622222222" && string(dp[1]) != "0633333333") {
		t.Fatalf("the edit did not converge:\ndesk:\n%s\nlaptop:\n%s", deskShow, laptopShow)
	}
	if !strings.Contains(string(laptopShow), "A: Bronchite aiguë") {
		t.Fatalf("laptop lost the note:\n%s", laptopShow)
	}
	// The shared folder holds no plaintext.
	scanForPlaintext(t, []string{share}, "Núñez", "Bronchite", "0622222222", "0633333333")
}

// utf16le is s as Windows stores resource strings.
func utf16le(s string) []byte {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r), byte(r>>8))
	}
	return b
}

// The installer, run silently as a practice's IT person would
// (ClinicVault-Setup-<version>.exe /S): the program in Program Files with
// its version information, a Start-menu shortcut for every user, an entry
// in Apps & features; the installed program runs; the uninstaller removes
// the program and leaves the practice's data where it was.
func TestWindowsInstaller(t *testing.T) {
	w := needWindowsExe(t)
	setup := os.Getenv("CLINICVAULT_WINDOWS_SETUP")
	if setup == "" {
		t.Skip("CLINICVAULT_WINDOWS_SETUP unset (.ci/windows-e2e sets it)")
	}
	version := regexp.MustCompile(`Setup-(\d+\.\d+\.\d+)\.exe$`).FindStringSubmatch(setup)
	if version == nil {
		t.Fatalf("installer name %q is not ClinicVault-Setup-<version>.exe", setup)
	}
	progDir := filepath.Join(w.prefix, "drive_c", "Program Files", "ClinicVault")
	shortcut := filepath.Join(w.prefix, "drive_c", "ProgramData", "Microsoft", "Windows", "Start Menu", "Programs", "ClinicVault.lnk")
	if out, err := output(t, w.run(setup, "/S"), ""); err != nil {
		t.Fatalf("installer: %v\n%s", err, out)
	}
	installed := filepath.Join(progDir, "clinicvault.exe")
	for _, p := range []string{installed, filepath.Join(progDir, "Uninstall.exe"), shortcut} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("after the installer: %v", err)
		}
	}
	reg, err := output(t, w.run("reg", "query", `HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall\ClinicVault`), "")
	if err != nil || !strings.Contains(string(reg), "DisplayVersion    REG_SZ    "+version[1]) || !strings.Contains(string(reg), `C:\Program Files\ClinicVault\Uninstall.exe`) {
		t.Fatalf("Apps & features entry: %v\n%s", err, reg)
	}
	// The exe carries its version information.
	exe, _ := os.ReadFile(installed)
	for _, s := range []string{"ProductVersion", version[1], "ClinicVault", "FileDescription"} {
		if !bytes.Contains(exe, utf16le(s)) {
			t.Fatalf("the installed exe has no %q in its version information", s)
		}
	}
	// The installed program runs (C:\Program Files\…, as the shortcut
	// starts it) and makes a vault in a data folder of its own.
	out, err := output(t, w.run(`C:\Program Files\ClinicVault\clinicvault.exe`, "version"), "")
	if err != nil || strings.TrimSpace(string(out)) != "ClinicVault "+version[1]+" (build "+regexp.MustCompile(`\d+`).FindString(installedBuild(t))+", windows/amd64)" {
		t.Fatalf("installed program: %v %q", err, out)
	}
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	pass := filepath.Join(tmp, "pass")
	os.WriteFile(pass, []byte(adminPass+"\n"), 0o600)
	if out, err := output(t, w.run(`C:\Program Files\ClinicVault\clinicvault.exe`, "--data", winPath(data), "--passphrase-file", winPath(pass), "init", "--practice", "Riverside", "--admin", "Maria Admin"), ""); err != nil {
		t.Fatalf("init with the installed program: %v\n%s", err, out)
	}

	// Uninstall silently; the uninstaller copies itself to the temp
	// folder and returns at once, so wait for the program to go.
	if out, err := output(t, w.run(filepath.Join(progDir, "Uninstall.exe"), "/S"), ""); err != nil {
		t.Fatalf("uninstaller: %v\n%s", err, out)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if _, err := os.Stat(installed); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the uninstaller did not remove the program within 60 s")
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, err1 := os.Stat(shortcut)
		_, err2 := os.Stat(progDir)
		if os.IsNotExist(err1) && os.IsNotExist(err2) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after uninstalling: shortcut %v, program folder %v", err1, err2)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "vault.keys")); err != nil {
		t.Fatalf("the uninstaller touched the practice's data: %v", err)
	}
}

// installedBuild is FyneApp.toml's Build, the fourth part of the exe's
// version.
func installedBuild(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join("..", "..", "FyneApp.toml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^Build\s*=\s*(\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("FyneApp.toml has no Build")
	}
	return string(m[1])
}

// The window of the Windows build under Wine, on the X display the
// script starts (Xvfb): a receptionist signs in with the keyboard alone
// (passphrase, Tab, code, Enter), finds a patient with Ctrl+F, and a
// second start of ClinicVault brings the open window forward instead of
// opening the databases twice. With CLINICVAULT_WINDOWS_SCREENS set, the
// screens are captured there as PNGs (for looking at them).
func TestWindowsWindowUnderWine(t *testing.T) {
	w := needWindowsExe(t)
	if os.Getenv("DISPLAY") == "" {
		t.Skip("no X display (.ci/windows-e2e starts Xvfb)")
	}
	xdotool, err := exec.LookPath("xdotool")
	if err != nil {
		t.Skip("xdotool is not installed")
	}
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	pass := filepath.Join(tmp, "pass")
	os.WriteFile(pass, []byte(adminPass+"\n"), 0o600)
	secret := w.initVault(t, data, pass)
	var used int64
	out, err := output(t, w.cmd("--data", winPath(data), "--user", "Maria Admin", "--passphrase-file", winPath(pass), "--totp", codeAfter(t, secret, &used), "patient", "add", "--given", "José", "--family", "Núñez", "--dob", "1980-03-02"), "")
	if err != nil {
		t.Fatalf("patient add: %v\n%s", err, out)
	}

	screens := os.Getenv("CLINICVAULT_WINDOWS_SCREENS")
	capture := func(name string) {
		if screens == "" {
			return
		}
		os.MkdirAll(screens, 0o755)
		if err := exec.Command("import", "-window", "root", filepath.Join(screens, name+".png")).Run(); err != nil {
			t.Logf("capture %s: %v", name, err)
		}
	}
	key := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(xdotool, args...).CombinedOutput(); err != nil {
			t.Fatalf("xdotool %v: %v %s", args, err, out)
		}
	}

	window := w.cmd("--data", winPath(data))
	windowLog := startLogged(t, window, "")
	defer func() {
		window.Process.Kill()
		window.Wait()
		w.run("taskkill", "/f", "/im", "clinicvault.exe").Run()
	}()
	// The window holds the folder once it has written where it listens
	// (app/instance's AddressFile); only then is a start the second one.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(data, instance.AddressFile)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(windowLog)
			t.Fatalf("the window did not take its data folder within 60 s:\n%s", b)
		}
	}
	// A second start finds it: it brings the window forward, prints its
	// sentence and exits 0, never opening the databases.
	var second []byte
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Second) {
		second, err = output(t, w.cmd("--data", winPath(data)), "")
		if err == nil && strings.Contains(string(second), "already open; its window was brought forward") {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(windowLog)
			t.Fatalf("a second start did not find the window: %v\n%s\nwindow:\n%s", err, second, b)
		}
	}
	capture("windows-signin")
	// The passphrase field has the focus.
	key("type", "--delay", "20", adminPass)
	key("key", "Tab")
	key("type", "--delay", "20", codeAfter(t, secret, &used))
	key("key", "Return")
	time.Sleep(5 * time.Second)
	capture("windows-today")
	key("key", "ctrl+f")
	time.Sleep(time.Second)
	key("type", "--delay", "20", "nunez")
	time.Sleep(2 * time.Second)
	capture("windows-patients")
	// Signed in: the audit log holds the window's sign-in (read through
	// the command line, which a window does not stop).
	out, err = output(t, w.cmd("--data", winPath(data), "--user", "Maria Admin", "--passphrase-file", winPath(pass), "--totp", codeAfter(t, secret, &used), "audit", "list", "--limit", "0"), "")
	if err != nil || strings.Count(string(out), "\tsignin\t") != 3 {
		b, _ := os.ReadFile(windowLog)
		t.Fatalf("the window's keyboard sign-in is not in the audit log: %v\n%s\nwindow:\n%s", err, out, b)
	}
}
