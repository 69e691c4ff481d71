package cli

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/store"
	"github.com/pquerna/otp/totp"
)

// TestMain lets the test binary act as the clinicvault command, so tests
// can run real, separate processes.
func TestMain(m *testing.M) {
	if os.Getenv("CLINICVAULT_AS_CLI") == "1" {
		// The child's clock starts where the test's clock stood when it
		// started the child, and runs on from there.
		start := time.Now()
		base, err := time.Parse(time.RFC3339Nano, os.Getenv("CLINICVAULT_TEST_NOW"))
		if err != nil {
			panic("CLINICVAULT_TEST_NOW: " + err.Error())
		}
		newVault := func(dir string) *app.Vault {
			v := app.NewVault(dir)
			v.UseMinimumKDF()
			v.Now = func() time.Time { return base.Add(time.Since(start)) }
			return v
		}
		if c := os.Getenv("CLINICVAULT_TEST_PANIC"); c != "" {
			testPanicHook = func(cmd string) {
				if cmd == c {
					crashForTest("Núñez, José")
				}
			}
		}
		os.Exit(Main(context.Background(), os.Args[1:], IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, newVault))
	}
	os.Exit(m.Run())
}

// processEpoch is where the process tests' clock starts: no test depends
// on the date it runs. processNow runs on from it in real time, so that
// TOTP steps pass as they would.
var (
	processEpoch = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	processStart = time.Now()
)

func processNow() time.Time { return processEpoch.Add(time.Since(processStart)) }

func cliCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "CLINICVAULT_AS_CLI=1", "LANG=en_US.UTF-8", "CLINICVAULT_TEST_NOW="+processNow().Format(time.RFC3339Nano))
	return cmd
}

// TestTwoProcessesSyncThroughAFolder runs two real processes: a practice's
// first computer and a laptop that joins it, pairing and syncing through a
// temp folder.
func TestTwoProcessesSyncThroughAFolder(t *testing.T) {
	tmp := t.TempDir()
	folder := filepath.Join(tmp, "share")
	os.MkdirAll(folder, 0o700)
	aDir, bDir := filepath.Join(tmp, "desk"), filepath.Join(tmp, "laptop")
	pass := filepath.Join(tmp, "pass")
	os.WriteFile(pass, []byte(adminPass+"\n"), 0o600)

	out, err := cliCommand("--data", aDir, "--passphrase-file", pass, "init", "--practice", "Riverside", "--admin", "Maria Admin").CombinedOutput()
	if err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	u, _ := url.Parse(uriLine.FindString(string(out)))
	secret := u.Query().Get("secret")
	code := func() string { c, _ := totp.GenerateCode(secret, processNow()); return c }

	// The desk computer registers a patient, syncs, and invites the laptop.
	deskCode := code()
	desk := cliCommand("--data", aDir, "--user", "Maria Admin", "--passphrase-file", pass, "--totp", deskCode, "shell")
	desk.Stdin = strings.NewReader(strings.Join([]string{
		"patient add --given José --family Núñez --dob 1980-03-02",
		"sync --folder " + folder,
		"device invite --folder " + folder + " --yes",
	}, "\n") + "\n")
	stdout, _ := desk.StdoutPipe()
	desk.Stderr = os.Stderr
	if err := desk.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var inviteCode, deskFP string
	lines := make(chan string, 100)
	go func() {
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(60 * time.Second)
	for inviteCode == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("desk ended before printing a code")
			}
			if m := regexp.MustCompile(`^code: (\S+)$`).FindStringSubmatch(l); m != nil {
				inviteCode = m[1]
			}
		case <-deadline:
			t.Fatal("no code")
		}
	}
	join := cliCommand("--data", bDir, "join", "--folder", folder, "--code", inviteCode, "--name", "Dr Haddad's laptop")
	joinOut, err := join.CombinedOutput()
	if err != nil {
		t.Fatalf("join: %v\n%s", err, joinOut)
	}
	for l := range lines {
		if m := regexp.MustCompile(`^fingerprint: (.+)$`).FindStringSubmatch(l); m != nil {
			deskFP = m[1]
		}
	}
	if err := desk.Wait(); err != nil {
		t.Fatalf("desk: %v", err)
	}
	if deskFP == "" || !strings.Contains(string(joinOut), "fingerprint: "+deskFP) {
		t.Fatalf("fingerprints: desk %q, laptop output:\n%s", deskFP, joinOut)
	}
	// The code she typed at the desk is spent at every computer once they
	// have synced: refused at the laptop (exit 3).
	replay := cliCommand("--data", bDir, "--user", "Maria Admin", "--passphrase-file", pass, "--totp", deskCode, "whoami")
	if out, err := replay.CombinedOutput(); replay.ProcessState.ExitCode() != 3 {
		t.Fatalf("the desk's code at the laptop: %v (exit %d)\n%s", err, replay.ProcessState.ExitCode(), out)
	}
	// On the laptop, the admin signs in with her next code and finds the
	// patient; the audit list holds the desk's entries, by its name.
	next, _ := totp.GenerateCode(secret, processNow().Add(30*time.Second))
	laptop := cliCommand("--data", bDir, "--user", "Maria Admin", "--passphrase-file", pass, "--totp", next, "shell")
	laptop.Stdin = strings.NewReader("sync --folder " + folder + "\npatient search nunez\naudit list --limit 0\n")
	out, err = laptop.CombinedOutput()
	if err != nil {
		t.Fatalf("laptop: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Núñez, José\t1980-03-02") {
		t.Fatalf("laptop does not have the patient:\n%s", out)
	}
	deskName, _ := os.Hostname()
	if !regexp.MustCompile(`(?m)\tpatient-\w+\t[^\n]*\t`+regexp.QuoteMeta(deskName)+`$`).MatchString(string(out)) ||
		!strings.Contains(string(out), "\tDr Haddad's laptop\n") {
		t.Fatalf("the laptop's audit list does not show the desk's entries by the desk's name (%q) beside its own:\n%s", deskName, out)
	}

	// At the desk, someone with the general key deletes the tail of its
	// audit log (the chain left verifies on its own): audit verify names
	// the laptop, which saw it, and the entries missing (exit 1).
	kr, err := store.LoadKeyring(aDir)
	if err != nil {
		t.Fatal(err)
	}
	key := generalKeyOf(t, kr, "Maria Admin", adminPass)
	db, err := store.Open(context.Background(), filepath.Join(aDir, "general.db"), store.General, key)
	if err != nil {
		t.Fatal(err)
	}
	var top int64
	db.QueryRow(`SELECT max(seq) FROM audit`).Scan(&top)
	for _, q := range []string{`DROP TRIGGER audit_no_delete`, `DELETE FROM audit WHERE seq >= 3`, `UPDATE sqlite_sequence SET seq = 2 WHERE name = 'audit'`,
		`CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	db.Close()
	// A fresh code for the desk: the laptop's sign-in spent the step after
	// the desk's.
	time.Sleep(time.Duration(30-processNow().Unix()%30)*time.Second + 100*time.Millisecond)
	verify := cliCommand("--data", aDir, "--user", "Maria Admin", "--passphrase-file", pass, "--totp", code(), "shell")
	verify.Stdin = strings.NewReader("sync --folder " + folder + "\naudit verify\n")
	vout, _ := verify.CombinedOutput()
	if !regexp.MustCompile(`(?m)^problem: the audit log of this computer (lacks|no longer holds) entries 3–\d+[^\n]*Dr Haddad's laptop`).Match(vout) {
		t.Fatalf("audit verify after the tail was deleted (entries 3–%d):\n%s", top, vout)
	}
	if verify.ProcessState.ExitCode() != 1 {
		t.Fatalf("audit verify's exit status %d, want 1:\n%s", verify.ProcessState.ExitCode(), vout)
	}
}

// TestKeyringRaceBetweenProcesses: an admin's 'user add' in one process
// while other processes fail to sign in (each one reads vault.keys, spends
// its key derivation, then records the failure in vault.keys). No slot
// may be lost: every change to vault.keys is made under its lock, on what
// the file holds then.
func TestKeyringRaceBetweenProcesses(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "vault")
	pass := filepath.Join(tmp, "pass")
	staffPass := filepath.Join(tmp, "staff")
	wrong := filepath.Join(tmp, "wrong")
	os.WriteFile(pass, []byte(adminPass+"\n"), 0o600)
	os.WriteFile(staffPass, []byte(recPass+"\n"), 0o600)
	os.WriteFile(wrong, []byte("wrong "+recPass+"\n"), 0o600)
	out, err := cliCommand("--data", data, "--passphrase-file", pass, "init", "--practice", "Riverside", "--admin", "Maria Admin").CombinedOutput()
	if err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	u, _ := url.Parse(uriLine.FindString(string(out)))
	secret := u.Query().Get("secret")
	code := func() string { c, _ := totp.GenerateCode(secret, processNow()); return c }
	targets := []string{"Rita Front", "Sam Front", "Tom Front", "Uma Front"}
	var setup []string
	for _, n := range targets {
		setup = append(setup, fmt.Sprintf("user add %q --role receptionist --new-passphrase-file %s", n, staffPass))
	}
	setup = append(setup, fmt.Sprintf("user add \"Bob Admin\" --role admin --new-passphrase-file %s", staffPass))
	sh := cliCommand("--data", data, "--user", "Maria Admin", "--passphrase-file", pass, "--totp", code(), "shell")
	sh.Stdin = strings.NewReader(strings.Join(setup, "\n") + "\n")
	setupOut, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("setup: %v\n%s", err, setupOut)
	}
	var adds []string
	const n = 6
	for i := 0; i < n; i++ {
		adds = append(adds, fmt.Sprintf("user add \"Staff %d\" --role receptionist --new-passphrase-file %s", i, staffPass))
	}
	// A second admin adds them: the first one's code is spent until the
	// next 30-second step.
	uris := uriLine.FindAllString(string(setupOut), -1)
	if len(uris) != len(targets)+1 {
		t.Fatalf("setup printed %d enrollments:\n%s", len(uris), setupOut)
	}
	bu, _ := url.Parse(uris[len(uris)-1])
	bobCode, _ := totp.GenerateCode(bu.Query().Get("secret"), processNow())
	adder := cliCommand("--data", data, "--user", "Bob Admin", "--passphrase-file", staffPass, "--totp", bobCode, "shell")
	adder.Stdin = strings.NewReader(strings.Join(adds, "\n") + "\n")
	var adderOut strings.Builder
	adder.Stdout, adder.Stderr = &adderOut, &adderOut
	if err := adder.Start(); err != nil {
		t.Fatal(err)
	}
	finished := make(chan error, 1)
	go func() { finished <- adder.Wait() }()
	var adderErr error
	failed := 0
	tried := map[string]bool{}
failing:
	for i := 0; ; i++ {
		select {
		case adderErr = <-finished:
			break failing
		default:
		}
		// Four failures each at most: the fifth would start throttling,
		// which refuses before the key derivation.
		who := targets[i%len(targets)]
		if i >= 4*len(targets) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		cliCommand("--data", data, "--user", who, "--passphrase-file", wrong, "--totp", "000000", "whoami").Run()
		failed++
		tried[who] = true
	}
	if adderErr != nil {
		t.Fatalf("user add: %v\n%s", adderErr, adderOut.String())
	}
	if failed == 0 {
		t.Fatal("no failed sign-in ran while the users were added")
	}
	kr, err := store.LoadKeyring(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if _, err := kr.SlotByName(fmt.Sprintf("Staff %d", i)); err != nil {
			t.Errorf("Staff %d's slot was lost to a concurrent failed sign-in (%d ran)", i, failed)
		}
	}
	for who := range tried {
		if th := kr.Throttle[mustSlot(t, kr, who).UserID]; th == nil || th.Failures == 0 {
			t.Errorf("%s's failed sign-ins were lost", who)
		}
	}
}

func mustSlot(t *testing.T, kr *store.Keyring, name string) *store.Slot {
	t.Helper()
	s, err := kr.SlotByName(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

// TestKillDuringRekeyLosesNothing: a removal changes the general key and
// re-encrypts general.db (copy, then rename over). The process doing it is
// killed (SIGKILL) at several moments of the copy. Every time, the vault
// still opens — under the old key or the new one — with every patient;
// the removals stand; and after the next sign-in no departed person's old
// key opens general.db.
func TestKillDuringRekeyLosesNothing(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "vault")
	pass := filepath.Join(tmp, "pass")
	staffPass := filepath.Join(tmp, "staff")
	os.WriteFile(pass, []byte(adminPass+"\n"), 0o600)
	os.WriteFile(staffPass, []byte(recPass+"\n"), 0o600)
	out, err := cliCommand("--data", data, "--passphrase-file", pass, "init", "--practice", "Riverside", "--admin", "Maria Admin").CombinedOutput()
	if err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	u, _ := url.Parse(uriLine.FindString(string(out)))
	code := func(secret string) string { c, _ := totp.GenerateCode(secret, processNow()); return c }
	delays := []time.Duration{0, 15 * time.Millisecond, 40 * time.Millisecond}
	var setup []string
	for i := range delays {
		setup = append(setup, fmt.Sprintf("user add \"Admin %d\" --role admin --new-passphrase-file %s", i, staffPass),
			fmt.Sprintf("user add \"Leaver %d\" --role receptionist --new-passphrase-file %s", i, staffPass),
			fmt.Sprintf("user add \"Settler %d\" --role admin --new-passphrase-file %s", i, staffPass))
	}
	setup = append(setup, fmt.Sprintf("user add \"Checker\" --role admin --new-passphrase-file %s", staffPass), "demo --patients 4000")
	sh := cliCommand("--data", data, "--user", "Maria Admin", "--passphrase-file", pass, "--totp", code(u.Query().Get("secret")), "shell")
	sh.Stdin = strings.NewReader(strings.Join(setup, "\n") + "\n")
	setupOut, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("setup: %v\n%s", err, setupOut)
	}
	uris := uriLine.FindAllString(string(setupOut), -1)
	if len(uris) != 3*len(delays)+1 {
		t.Fatalf("setup printed %d enrollments:\n%s", len(uris), setupOut)
	}
	secretOf := func(i int) string { v, _ := url.Parse(uris[i]); return v.Query().Get("secret") }
	// What each leaver holds: the general key their slot opens today.
	before, err := store.LoadKeyring(data)
	if err != nil {
		t.Fatal(err)
	}
	var leaverKeys [][]byte
	for i := range delays {
		leaverKeys = append(leaverKeys, generalKeyOf(t, before, fmt.Sprintf("Leaver %d", i), recPass))
	}
	gen := filepath.Join(data, "general.db")
	killed := 0
	for i, delay := range delays {
		rm := cliCommand("--data", data, "--user", fmt.Sprintf("Admin %d", i), "--passphrase-file", staffPass, "--totp", code(secretOf(3*i)),
			"user", "remove", fmt.Sprintf("Leaver %d", i))
		if err := rm.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- rm.Wait() }()
		// Wait for the copy to begin, then kill.
		timeout := time.After(60 * time.Second) // a span, not a date
	watching:
		for {
			select {
			case <-exited:
				break watching // finished before it could be killed
			default:
			}
			if _, err := os.Stat(gen + ".rekey"); err == nil {
				time.Sleep(delay)
				if rm.Process.Kill() == nil {
					killed++
				}
				<-exited
				break
			}
			select {
			case <-timeout:
				rm.Process.Kill()
				t.Fatal("no re-key seen")
			default:
			}
			time.Sleep(500 * time.Microsecond)
		}
		// A sign-in between finishes the change of key that was cut
		// short, so that the next removal's own re-key is the one killed.
		settle := cliCommand("--data", data, "--user", fmt.Sprintf("Settler %d", i), "--passphrase-file", staffPass, "--totp", code(secretOf(3*i+2)), "whoami")
		if out, err := settle.CombinedOutput(); err != nil {
			t.Fatalf("sign-in after kill %d: %v\n%s", i, err, out)
		}
	}
	if killed == 0 {
		t.Fatal("no removal was killed during its re-key")
	}
	// The next sign-in opens the vault, whatever key the file was left
	// under, and finishes the change.
	check := cliCommand("--data", data, "--user", "Checker", "--passphrase-file", staffPass, "--totp", code(secretOf(3*len(delays))), "shell")
	check.Stdin = strings.NewReader("user list\n")
	checkOut, err := check.CombinedOutput()
	if err != nil {
		t.Fatalf("sign-in after the kills: %v\n%s", err, checkOut)
	}
	for i := range delays {
		if strings.Contains(string(checkOut), fmt.Sprintf("Leaver %d", i)) {
			t.Errorf("Leaver %d is listed after the removal that was killed:\n%s", i, checkOut)
		}
	}
	after, err := store.LoadKeyring(data)
	if err != nil {
		t.Fatal(err)
	}
	key := generalKeyOf(t, after, "Checker", recPass)
	db, err := store.Open(context.Background(), gen, store.General, key)
	if err != nil {
		t.Fatalf("general.db after the next sign-in: %v", err)
	}
	var patients int
	db.QueryRow(`SELECT count(*) FROM patients`).Scan(&patients)
	db.Close()
	if patients != 4000 {
		t.Errorf("%d patients after the kills, want 4000", patients)
	}
	for i, k := range leaverKeys {
		if db, err := store.Open(context.Background(), gen, store.General, k); err == nil {
			db.Close()
			t.Errorf("Leaver %d's old general key still opens general.db", i)
		}
	}
	t.Logf("%d of %d removals killed during their re-key", killed, len(delays))
}

// generalKeyOf opens name's general grant in kr with their passphrase.
func generalKeyOf(t *testing.T, kr *store.Keyring, name, pass string) []byte {
	t.Helper()
	slot, err := kr.SlotByName(name)
	if err != nil {
		t.Fatal(err)
	}
	kek, err := store.DeriveKEK(pass, *slot.KDF)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := store.UnwrapSlot(kek, kr.VaultID, slot.UserID, slot.Version, slot.Wrapped)
	if err != nil {
		t.Fatal(err)
	}
	key, err := store.OpenGrant(secrets.Identity, kr.VaultID, slot.UserID, slot.Role, store.General, slot.Grants[store.General])
	if err != nil {
		t.Fatal(err)
	}
	return key
}
