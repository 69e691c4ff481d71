package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/app"
	"github.com/pquerna/otp/totp"
)

const (
	adminPass = "violet tugboat harmonica spreadsheet"
	recPass   = "copper lantern meadow quietly"
	docPass   = "saffron glacier typewriter pebble"
)

type harness struct {
	t       *testing.T
	dir     string
	mu      sync.Mutex
	now     time.Time
	secrets map[string]string
	files   string
}

func newHarness(t *testing.T) *harness {
	return &harness{t: t, dir: filepath.Join(t.TempDir(), "vault"), now: time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC),
		secrets: map[string]string{}, files: t.TempDir()}
}

func (h *harness) clock() time.Time { h.mu.Lock(); defer h.mu.Unlock(); return h.now }

func (h *harness) newVault(dir string) *app.Vault {
	v := app.NewVault(dir)
	v.Now = h.clock
	v.UseMinimumKDF()
	return v
}

// file writes content to a new file and returns its path.
func (h *harness) file(name, content string) string {
	p := filepath.Join(h.files, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// run runs one command line, after moving the clock to a fresh TOTP step.
func (h *harness) run(stdin string, args ...string) (int, string, string) {
	h.mu.Lock()
	h.now = h.now.Add(30 * time.Second)
	h.mu.Unlock()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, IO{In: strings.NewReader(stdin), Out: &out, Err: &errb}, h.newVault)
	return code, out.String(), errb.String()
}

func (h *harness) code(user string) string {
	c, err := totp.GenerateCode(h.secrets[user], h.clock().Add(30*time.Second))
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// as runs a command signed in as user.
func (h *harness) as(user, pass, stdin string, args ...string) (int, string, string) {
	full := append([]string{"--data", h.dir, "--user", user, "--passphrase-file", h.file("pass-"+user, pass+"\n"), "--totp", h.code(user)}, args...)
	return h.run(stdin, full...)
}

var uriLine = regexp.MustCompile(`(?m)^otpauth://\S+$`)

func (h *harness) rememberSecret(user, out string) {
	h.t.Helper()
	line := uriLine.FindString(out)
	if line == "" {
		h.t.Fatalf("no otpauth line in %q", out)
	}
	u, err := url.Parse(line)
	if err != nil {
		h.t.Fatal(err)
	}
	h.secrets[user] = u.Query().Get("secret")
}

func (h *harness) init() string {
	h.t.Helper()
	code, out, errs := h.run("", "--data", h.dir, "--passphrase-file", h.file("admin", adminPass+"\n"), "init", "--practice", "Riverside Family Practice", "--admin", "Maria Admin", "--qr", filepath.Join(h.files, "qr.png"))
	if code != 0 {
		h.t.Fatalf("init: %d %s", code, errs)
	}
	h.rememberSecret("Maria Admin", out)
	m := regexp.MustCompile(`(?m)^recovery key: (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		h.t.Fatalf("no recovery key line in %q", out)
	}
	return m[1]
}

func (h *harness) expect(want int, got int, out, errs string) {
	h.t.Helper()
	expect(h.t, want, got, out, errs)
}

func expect(t *testing.T, want int, got int, out, errs string) {
	t.Helper()
	if got != want {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", got, want, out, errs)
	}
}

func TestCLIEndToEnd(t *testing.T) {
	h := newHarness(t)
	recovery := h.init()
	if st, err := os.Stat(filepath.Join(h.files, "qr.png")); err != nil || st.Size() == 0 {
		t.Fatalf("QR not written: %v", err)
	}

	code, out, errs := h.as("Maria Admin", adminPass, "", "whoami")
	h.expect(0, code, out, errs)
	if out != "user: Maria Admin\nrole: admin\n" {
		t.Fatalf("whoami: %q", out)
	}

	// Wrong passphrase and wrong code: both exit 3 with the same message.
	code, _, e1 := h.as("Maria Admin", "not the right passphrase", "", "whoami")
	h.expect(3, code, "", e1)
	full := []string{"--data", h.dir, "--user", "Maria Admin", "--passphrase-file", h.file("p", adminPass), "--totp", "000000", "whoami"}
	code, _, e2 := h.run("", full...)
	h.expect(3, code, "", e2)
	if e1 != e2 {
		t.Fatalf("refusals differ: %q vs %q", e1, e2)
	}

	// Add a receptionist with the passphrase on standard input, and a doctor.
	code, out, errs = h.as("Maria Admin", adminPass, recPass+"\n", "user", "add", "Rita Front", "--role", "receptionist", "--new-passphrase-file", "-")
	h.expect(0, code, out, errs)
	h.rememberSecret("Rita Front", out)
	code, out, errs = h.as("Maria Admin", adminPass, "", "user", "add", "--role", "clinician", "--new-passphrase-file", h.file("doc", docPass), "Dr Omar Haddad")
	h.expect(0, code, out, errs)
	h.rememberSecret("Dr Omar Haddad", out)

	// A weak passphrase is refused with the reason.
	code, _, errs = h.as("Maria Admin", adminPass, "password123456\n", "user", "add", "Weak", "--role", "receptionist", "--new-passphrase-file", "-")
	h.expect(1, code, "", errs)
	if !strings.Contains(errs, "common") {
		t.Fatalf("weak passphrase message: %q", errs)
	}

	code, out, errs = h.as("Rita Front", recPass, "", "whoami")
	h.expect(0, code, out, errs)
	if !strings.Contains(out, "role: receptionist") {
		t.Fatalf("whoami: %q", out)
	}
	code, out, errs = h.as("Rita Front", recPass, "", "user", "list")
	h.expect(4, code, out, errs)

	code, out, errs = h.as("Maria Admin", adminPass, "", "user", "list")
	h.expect(0, code, out, errs)
	for _, name := range []string{"Maria Admin\tadmin", "Rita Front\treceptionist", "Dr Omar Haddad\tclinician"} {
		if !strings.Contains(out, name) {
			t.Fatalf("user list lacks %q:\n%s", name, out)
		}
	}

	code, out, errs = h.as("Maria Admin", adminPass, "", "user", "role", "Dr Omar Haddad", "admin")
	h.expect(0, code, out, errs)
	code, out, errs = h.as("Dr Omar Haddad", docPass, "", "whoami")
	h.expect(0, code, out, errs)
	if !strings.Contains(out, "role: admin") {
		t.Fatalf("after role change: %q", out)
	}

	code, out, errs = h.as("Maria Admin", adminPass, "", "audit", "verify")
	h.expect(0, code, out, errs)
	if !strings.HasPrefix(out, "audit log intact: ") {
		t.Fatalf("audit verify: %q", out)
	}
	code, out, errs = h.as("Maria Admin", adminPass, "", "audit", "list", "--limit", "3")
	h.expect(0, code, out, errs)
	if n := strings.Count(out, "\n"); n != 3 {
		t.Fatalf("audit list --limit 3 printed %d lines", n)
	}

	// Shell: one sign-in, several commands, stops at the first failure
	// with that command's status.
	code, out, errs = h.as("Maria Admin", adminPass, "whoami\nuser reset-totp \"Rita Front\"\nuser frobnicate\nwhoami\n", "shell")
	h.expect(2, code, out, errs)
	if strings.Count(out, "user: Maria Admin") != 1 || !strings.Contains(out, "reset-totp done") {
		t.Fatalf("shell output: %q", out)
	}

	// Rita's authenticator was reset: a normal sign-in is refused (3),
	// totp enroll shows a new URI and takes a code from standard input.
	code, out, errs = h.as("Rita Front", recPass, "", "whoami")
	h.expect(3, code, out, errs)
	dir := h.dir
	h.mu.Lock()
	h.now = h.now.Add(30 * time.Second)
	h.mu.Unlock()
	var outb, errb bytes.Buffer
	pr, pw, _ := os.Pipe()
	go func() {
		// Wait for the URI, then type the code it implies.
		for i := 0; i < 200 && !uriLine.MatchString(outb.String()); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		h.rememberSecretQuiet("Rita Front", outb.String())
		c, _ := totp.GenerateCode(h.secrets["Rita Front"], h.clock())
		pw.WriteString(c + "\n")
		pw.Close()
	}()
	code = Main(context.Background(), []string{"--data", dir, "--user", "Rita Front", "--passphrase-file", h.file("r", recPass), "totp", "enroll"},
		IO{In: pr, Out: &syncWriter{w: &outb}, Err: &errb}, h.newVault)
	h.expect(0, code, outb.String(), errb.String())
	code, out, errs = h.as("Rita Front", recPass, "", "whoami")
	h.expect(0, code, out, errs)

	// passwd: the old passphrase stops working.
	const newPass = "marble thistle windmill accordion"
	code, out, errs = h.as("Rita Front", recPass, newPass+"\n", "passwd", "--new-passphrase-file", "-")
	h.expect(0, code, out, errs)
	code, _, _ = h.as("Rita Front", recPass, "", "whoami")
	h.expect(3, code, "", "")
	code, out, errs = h.as("Rita Front", newPass, "", "whoami")
	h.expect(0, code, out, errs)

	// Remove: her passphrase opens nothing any more.
	code, out, errs = h.as("Maria Admin", adminPass, "", "user", "remove", "Rita Front")
	h.expect(0, code, out, errs)
	if !strings.Contains(out, "Rita Front: remove done\n") || !strings.Contains(out, "re-encrypted: general.db (under a new key)\n") {
		t.Errorf("user remove does not say the general key changed:\n%s", out)
	}
	code, _, _ = h.as("Rita Front", newPass, "", "whoami")
	h.expect(3, code, "", "")

	// Recovery: Maria forgot her passphrase.
	const recovered = "orchard bicycle lighthouse thimble"
	code, out, errs = h.run("", "--data", h.dir, "recover", "--recovery-key-file", h.file("rk", recovery+"\n"), "--admin", "Maria Admin", "--new-passphrase-file", h.file("np", recovered))
	h.expect(0, code, out, errs)
	h.rememberSecret("Maria Admin", out)
	code, out, errs = h.as("Maria Admin", recovered, "", "whoami")
	h.expect(0, code, out, errs)
}

// syncWriter lets the test read what Main writes while it runs.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (h *harness) rememberSecretQuiet(user, out string) {
	if line := uriLine.FindString(out); line != "" {
		if u, err := url.Parse(line); err == nil {
			h.secrets[user] = u.Query().Get("secret")
		}
	}
}

func TestCLIUsageAndErrors(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct {
		name string
		args []string
		want int
	}{
		{"no command", []string{"--data", h.dir}, 2},
		{"unknown command", []string{"--data", h.dir, "frobnicate"}, 2},
		{"unknown flag", []string{"--data", h.dir, "--colour", "init"}, 2},
		{"init without names", []string{"--data", h.dir, "--passphrase-file", h.file("p", adminPass), "init"}, 2},
		{"init without passphrase, no terminal", []string{"--data", h.dir, "init", "--practice", "P", "--admin", "A"}, 2},
		{"weak passphrase", []string{"--data", h.dir, "--passphrase-file", h.file("w", "short"), "init", "--practice", "P", "--admin", "A"}, 1},
		{"whoami without a vault", []string{"--data", h.dir, "--user", "x", "--passphrase-file", h.file("p2", adminPass), "--totp", "123456", "whoami"}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := h.run("", c.args...)
			expect(t, c.want, code, out, errs)
			if errs == "" {
				t.Fatal("no message on standard error")
			}
		})
	}
	h.init()
	code, out, errs := h.as("Maria Admin", adminPass, "", "user", "add", "X", "--role", "nurse", "--new-passphrase-file", h.file("x", docPass))
	h.expect(2, code, out, errs)
	code, out, errs = h.as("Maria Admin", adminPass, "", "user", "remove")
	h.expect(2, code, out, errs)
	code, out, errs = h.as("Maria Admin", adminPass, "", "user", "remove", "Nobody")
	h.expect(1, code, out, errs)
	code, out, errs = h.as("Maria Admin", adminPass, "", "user", "remove", "Maria Admin")
	h.expect(1, code, out, errs)
	// A second init never overwrites a vault.
	code, out, errs = h.run("", "--data", h.dir, "--passphrase-file", h.file("again", adminPass), "init", "--practice", "P", "--admin", "A")
	h.expect(1, code, out, errs)
	if !strings.Contains(errs, "already exists") {
		t.Fatalf("second init: %q", errs)
	}
}

func TestSplitWords(t *testing.T) {
	got, err := splitWordsEscaping(`user add "Dr Ana Núñez" --role 'clinician' a\ b`, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"user", "add", "Dr Ana Núñez", "--role", "clinician", "a b"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q", got)
	}
	if _, err := splitWords(`user add "unterminated`); err == nil {
		t.Fatal("unbalanced quote accepted")
	}
	// On Windows a backslash is a path's: drive paths, UNC paths and
	// quoted paths with spaces reach the command as typed.
	got, err = splitWordsEscaping(`sync --folder Z:\tmp\share import "C:\Users\Front Desk\patients.csv" x \\server\clinic\`, false)
	want = []string{"sync", "--folder", `Z:\tmp\share`, "import", `C:\Users\Front Desk\patients.csv`, "x", `\\server\clinic\`}
	if err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Windows: got %q, %v", got, err)
	}
}

func TestCLIBackup(t *testing.T) {
	h := newHarness(t)
	recovery := h.init()
	out := filepath.Join(h.files, "backups")
	code, stdout, errs := h.as("Maria Admin", adminPass, "", "backup", "create", "--out", out)
	h.expect(0, code, stdout, errs)
	m := regexp.MustCompile(`(?m)^backup: (\S+)$`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no backup line: %q", stdout)
	}
	file := m[1]
	code, stdout, errs = h.as("Maria Admin", adminPass, "", "backup", "verify", file)
	h.expect(0, code, stdout, errs)
	if !strings.Contains(stdout, "backup intact") || !strings.Contains(stdout, "general.db\tusers\tbackup 1") {
		t.Fatalf("verify output: %q", stdout)
	}
	code, stdout, errs = h.run("", "backup", "list", out)
	h.expect(0, code, stdout, errs)
	if !strings.Contains(stdout, file) || !strings.Contains(stdout, "Riverside Family Practice") {
		t.Fatalf("list: %q", stdout)
	}
	code, stdout, errs = h.as("Maria Admin", adminPass, "", "backup", "list", out)
	h.expect(0, code, stdout, errs)
	if !strings.Contains(stdout, "verified ") {
		t.Fatalf("signed-in list lacks verified status: %q", stdout)
	}
	// A damaged copy: exit 1 with a clear message.
	b, _ := os.ReadFile(file)
	b[len(b)-10] ^= 1
	bad := h.file("bad.cvbackup", string(b))
	code, stdout, errs = h.as("Maria Admin", adminPass, "", "backup", "verify", bad)
	h.expect(1, code, stdout, errs)
	if !strings.Contains(errs, "damaged") {
		t.Fatalf("damaged verify message: %q", errs)
	}
	// Restore with the recovery key into a new folder, then sign in there.
	to := filepath.Join(h.files, "restored")
	code, stdout, errs = h.run("", "backup", "restore", file, "--to", to, "--recovery-key-file", h.file("rk", recovery))
	h.expect(0, code, stdout, errs)
	// Restore by signing in, into another folder; a second time into the same folder is refused.
	to2 := filepath.Join(h.files, "restored2")
	args := []string{"--user", "Maria Admin", "--passphrase-file", h.file("p", adminPass), "--totp", h.code("Maria Admin"), "backup", "restore", file, "--to", to2}
	code, stdout, errs = h.run("", args...)
	h.expect(0, code, stdout, errs)
	code, stdout, errs = h.run("", "backup", "restore", file, "--to", to2, "--recovery-key-file", h.file("rk2", recovery))
	h.expect(1, code, stdout, errs)
	h.dir = to
	code, stdout, errs = h.as("Maria Admin", adminPass, "", "whoami")
	h.expect(0, code, stdout, errs)
}

func TestCLIBenchPrintsFigures(t *testing.T) {
	h := newHarness(t)
	code, out, errs := h.run("", "--data", h.dir, "bench", "--iterations", "1", "--patients", "300", "--import-rows", "300")
	h.expect(0, code, out, errs)
	line := regexp.MustCompile(`^[a-z0-9_]+ [0-9.]+ (ms|%|rows/s|MB|x)$`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 15 || !strings.Contains(out, "search_median_encrypted_vs_plain") || !strings.Contains(out, "import_xlsx_encrypted ") ||
		!strings.Contains(out, "import_csv_encrypted_vs_plain ") || !strings.Contains(out, "rekey_general_300_patients_encrypted ") ||
		!strings.Contains(out, "signin_refused_code_vs_passphrase ") {
		t.Fatalf("bench printed %q", out)
	}
	if !strings.Contains(errs, "page crypto: "+app.CryptoProvider()+"\n") {
		t.Errorf("bench does not say which crypto it measured: %q", errs)
	}
	for _, l := range lines {
		if !line.MatchString(l) {
			t.Fatalf("line %q is not 'name value unit'", l)
		}
	}
}

func TestCLIPatientsAndChart(t *testing.T) {
	h := newHarness(t)
	h.init()
	code, out, errs := h.as("Maria Admin", adminPass, "", "user", "add", "Rita Front", "--role", "receptionist", "--new-passphrase-file", h.file("r", recPass))
	h.expect(0, code, out, errs)
	h.rememberSecret("Rita Front", out)
	code, out, errs = h.as("Maria Admin", adminPass, "", "user", "add", "Dr Omar Haddad", "--role", "clinician", "--new-passphrase-file", h.file("d", docPass))
	h.expect(0, code, out, errs)
	h.rememberSecret("Dr Omar Haddad", out)

	code, out, errs = h.as("Rita Front", recPass, "", "patient", "add", "--given", "José", "--family", "Núñez", "--dob", "1980-03-02", "--phone", "+44 20 7946 0001", "--sex", "m")
	h.expect(0, code, out, errs)
	m := regexp.MustCompile(`(?m)^mrn: (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no mrn line: %q", out)
	}
	mrn := m[1]
	// Same name and date of birth: created, with a warning.
	code, out, errs = h.as("Rita Front", recPass, "", "patient", "add", "--given", "Jose", "--family", "Nunez", "--dob", "1980-03-02")
	h.expect(0, code, out, errs)
	if !strings.Contains(errs, "possible duplicate") {
		t.Fatalf("no duplicate warning: %q", errs)
	}
	code, out, errs = h.as("Rita Front", recPass, "", "patient", "add", "--given", "A", "--family", "B", "--dob", "2999-01-01")
	h.expect(1, code, out, errs)
	if !strings.Contains(errs, "future") {
		t.Fatalf("future dob message: %q", errs)
	}
	code, out, errs = h.as("Rita Front", recPass, "", "patient", "add", "--given", "A", "--family", "B")
	h.expect(2, code, out, errs)

	code, out, errs = h.as("Rita Front", recPass, "", "patient", "search", "nunez")
	h.expect(0, code, out, errs)
	if !strings.HasPrefix(out, mrn+"\tNúñez, José\t1980-03-02\n") || strings.Count(out, "\n") != 2 {
		t.Fatalf("search: %q", out)
	}
	code, out, errs = h.as("Rita Front", recPass, "", "patient", "edit", mrn, "--phone", "+44 20 7946 0999")
	h.expect(0, code, out, errs)
	code, out, errs = h.as("Rita Front", recPass, "", "patient", "edit", "ZZZZ-ZZZZ", "--phone", "1")
	h.expect(1, code, out, errs)

	// Clinical commands: refused for the receptionist (4), allowed for the doctor.
	code, out, errs = h.as("Rita Front", recPass, "", "encounter", "add", mrn, "--subjective", "cough")
	h.expect(4, code, out, errs)
	code, out, errs = h.as("Dr Omar Haddad", docPass, "", "encounter", "add", mrn, "--subjective", "cough 3 days", "--objective", "T 37.9", "--assessment", "viral URTI", "--plan", "fluids", "--sign")
	h.expect(0, code, out, errs)
	encID := regexp.MustCompile(`(?m)^encounter: (\S+)$`).FindStringSubmatch(out)[1]
	// print writes a new file, 0600, never over another, never through a link.
	summary := filepath.Join(h.files, "summary.pdf")
	code, out, errs = h.as("Dr Omar Haddad", docPass, "", "print", mrn, "--encounter", encID, "--out", summary)
	h.expect(0, code, out, errs)
	if fi, err := os.Stat(summary); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Fatalf("printed file: %v %v", fi, err)
	}
	code, out, errs = h.as("Dr Omar Haddad", docPass, "", "print", mrn, "--encounter", encID, "--out", summary)
	h.expect(1, code, out, errs)
	if !strings.Contains(errs, "choose another name") {
		t.Errorf("printing over an existing file: %q", errs)
	}
	if runtime.GOOS != "windows" {
		drop := filepath.Join(h.files, "elsewhere.pdf")
		link := filepath.Join(h.files, "link.pdf")
		os.Symlink(drop, link)
		code, out, errs = h.as("Dr Omar Haddad", docPass, "", "print", mrn, "--encounter", encID, "--out", link)
		h.expect(1, code, out, errs)
		if _, err := os.Stat(drop); err == nil {
			t.Error("print wrote through a link to where it points")
		}
	}
	code, out, errs = h.as("Dr Omar Haddad", docPass, "", "vitals", "add", mrn, "--bp", "128/82", "--pulse", "72", "--temp", "37.9", "--weight", "81.5", "--spo2", "97")
	h.expect(0, code, out, errs)
	code, out, errs = h.as("Dr Omar Haddad", docPass, "", "vitals", "add", mrn, "--bp", "128")
	h.expect(2, code, out, errs)
	code, out, errs = h.as("Dr Omar Haddad", docPass, "", "allergy", "add", mrn, "--substance", "Penicillin", "--reaction", "rash", "--severity", "severe")
	h.expect(0, code, out, errs)
	// Prescribing against it: refused with exit 1 and a line naming the
	// allergy, unless a reason is given.
	code, out, errs = h.as("Dr Omar Haddad", docPass, "", "medication", "add", mrn, "--name", "Amoxicillin", "--dose", "500 mg")
	h.expect(1, code, out, errs)
	if !strings.Contains(out, "allergy: amoxicillin is one of the penicillins, and the patient is allergic to Penicillin (rash, severe)\n") {
		t.Fatalf("medication add against an allergy printed:\n%s\n%s", out, errs)
	}
	code, out, errs = h.as("Dr Omar Haddad", docPass, "", "medication", "add", mrn, "--name", "Amoxicillin", "--override-reason", "tolerated a full course in 2023, rash was viral")
	h.expect(0, code, out, errs)
	code, out, errs = h.as("Dr Omar Haddad", docPass, "", "medication", "add", mrn, "--name", "Metformin", "--dose", "500 mg")
	h.expect(0, code, out, errs)

	code, out, errs = h.as("Dr Omar Haddad", docPass, "", "patient", "show", mrn)
	h.expect(0, code, out, errs)
	for _, want := range []string{"mrn: " + mrn, "phone: +44 20 7946 0999", "allergy: Penicillin; rash; severe", "BP 128/82", "S: cough 3 days", "signed by Dr Omar Haddad"} {
		if !strings.Contains(out, want) {
			t.Fatalf("show lacks %q:\n%s", want, out)
		}
	}
	code, out, errs = h.as("Rita Front", recPass, "", "patient", "show", mrn)
	h.expect(0, code, out, errs)
	if strings.Contains(out, "allergy") || strings.Contains(out, "encounter") {
		t.Fatalf("receptionist sees clinical data:\n%s", out)
	}

	day := h.clock().Add(24 * time.Hour).Local().Format("2006-01-02")
	code, out, errs = h.as("Rita Front", recPass, "", "appointment", "add", mrn, "--at", day+" 09:00", "--minutes", "30", "--clinician", "Dr Omar Haddad", "--reason", "follow-up")
	h.expect(0, code, out, errs)
	code, out, errs = h.as("Rita Front", recPass, "", "appointment", "add", mrn, "--at", day+" 09:15", "--minutes", "15", "--clinician", "Dr Omar Haddad")
	h.expect(0, code, out, errs)
	if !strings.Contains(errs, "warning: overlaps") {
		t.Fatalf("no overlap warning: %q", errs)
	}
	code, out, errs = h.as("Rita Front", recPass, "", "appointment", "add", mrn, "--at", day+" 10:00", "--clinician", "Rita Front")
	h.expect(1, code, out, errs)
	code, out, errs = h.as("Rita Front", recPass, "", "appointment", "list", "--day", day)
	h.expect(0, code, out, errs)
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, "09:00\t30 min\tDr Omar Haddad\t"+mrn) {
		t.Fatalf("appointment list: %q", out)
	}
	id := strings.SplitN(out, "\t", 2)[0]
	code, out, errs = h.as("Rita Front", recPass, "", "appointment", "status", id, "arrived")
	h.expect(0, code, out, errs)
	// Undo the check-in; move it to the practice manager once she is
	// marked as seeing patients; cancel it with a reason.
	code, out, errs = h.as("Rita Front", recPass, "", "appointment", "status", id, "booked")
	h.expect(0, code, out, errs)
	code, out, errs = h.as("Rita Front", recPass, "", "appointment", "move", id, "--at", day+" 11:00", "--clinician", "Maria Admin")
	h.expect(1, code, out, errs)
	if !strings.Contains(errs, "does not see patients") {
		t.Fatalf("moving to the practice manager: %q", errs)
	}
	code, out, errs = h.as("Maria Admin", adminPass, "", "user", "bookable", "Maria Admin", "yes")
	h.expect(0, code, out, errs)
	if out != "Maria Admin sees patients\n" {
		t.Fatalf("user bookable: %q", out)
	}
	code, out, errs = h.as("Maria Admin", adminPass, "", "user", "list")
	h.expect(0, code, out, errs)
	if !strings.Contains(out, "Maria Admin\tadmin\t") || !strings.Contains(out, "\tsees patients\n") {
		t.Fatalf("user list: %q", out)
	}
	code, out, errs = h.as("Rita Front", recPass, "", "appointment", "move", id, "--at", day+" 11:00", "--clinician", "Maria Admin")
	h.expect(0, code, out, errs)
	if !strings.Contains(out, day+" 11:00, 30 min, with Maria Admin") {
		t.Fatalf("appointment move: %q", out)
	}
	code, out, errs = h.as("Rita Front", recPass, "", "appointment", "cancel", id)
	h.expect(2, code, out, errs)
	code, out, errs = h.as("Rita Front", recPass, "", "appointment", "cancel", id, "--reason", "Patient cancelled")
	h.expect(0, code, out, errs)
	code, out, errs = h.as("Rita Front", recPass, "", "appointment", "list", "--day", day)
	h.expect(0, code, out, errs)
	if !strings.Contains(out, "11:00\t30 min\tMaria Admin\t"+mrn) || !strings.Contains(out, "\tcancelled\tfollow-up\tPatient cancelled\n") {
		t.Fatalf("appointment list after the move and the cancellation: %q", out)
	}

	code, out, errs = h.as("Dr Omar Haddad", docPass, "", "demo", "--patients", "50")
	h.expect(0, code, out, errs)
	code, out, errs = h.as("Rita Front", recPass, "", "patient", "search", "a")
	h.expect(0, code, out, errs)
	if strings.Count(out, "\n") < 5 {
		t.Fatalf("demo patients not found: %q", out)
	}
}

func TestCLIGovernance(t *testing.T) {
	h := newHarness(t)
	h.init()
	code, out, errs := h.as("Maria Admin", adminPass, "", "security", "report")
	h.expect(1, code, out, errs)
	for _, id := range []string{"seats\t", "backup\tattention", "training\t", "access-review\tattention", "emergency\tok"} {
		if !strings.Contains(out, id) {
			t.Fatalf("report lacks %q:\n%s", id, out)
		}
	}
	if lines := strings.Count(out, "\n"); lines < 8 {
		t.Fatalf("report has %d lines", lines)
	}
	code, out, errs = h.as("Maria Admin", adminPass, "", "settings", "seat-limit", "1")
	h.expect(0, code, out, errs)
	code, out, errs = h.as("Maria Admin", adminPass, "", "user", "add", "Rita Front", "--role", "receptionist", "--new-passphrase-file", h.file("r", recPass))
	h.expect(1, code, out, errs)
	if !strings.Contains(errs, "seat limit") {
		t.Fatalf("seat limit message: %q", errs)
	}
	review := filepath.Join(h.files, "review.age")
	code, out, errs = h.as("Maria Admin", adminPass, "harbour lantern quiet orchard\n", "access", "review", "--out", review, "--encrypt-passphrase-file", "-")
	h.expect(0, code, out, errs)
	b, _ := os.ReadFile(review)
	if !strings.HasPrefix(string(b), "age-encryption.org/v1") {
		t.Fatalf("not an age file: %.40q", b)
	}
	code, out, errs = h.as("Maria Admin", adminPass, "", "training", "list")
	h.expect(0, code, out, errs)
	first := strings.SplitN(out, "\t", 2)[0]
	code, out, errs = h.as("Maria Admin", adminPass, "", "training", "show", first)
	h.expect(0, code, out, errs)
	code, out, errs = h.as("Maria Admin", adminPass, "", "training", "answer", first, "1,1,1,1,1")
	h.expect(0, code, out, errs)
	if !strings.HasPrefix(out, "score: ") {
		t.Fatalf("answer: %q", out)
	}
	code, out, errs = h.as("Maria Admin", adminPass, "", "training", "status")
	h.expect(0, code, out, errs)
	if !strings.Contains(out, "Maria Admin\t"+first) {
		t.Fatalf("status: %q", out)
	}
}

func TestCLIImport(t *testing.T) {
	h := newHarness(t)
	h.init()
	good := h.file("good.csv", "Last Name,First Name,Date of Birth\nNúñez,José,1980-03-02\nOkafor,Ngozi,1990-06-15\n")
	bad := h.file("bad.csv", "Last Name,First Name,Date of Birth\nNúñez,José,1980-03-02\nFuture,Baby,2999-01-01\n")
	code, out, errs := h.as("Maria Admin", adminPass, "", "import", bad)
	h.expect(1, code, out, errs)
	if !strings.Contains(out, "imported: 0\nrefused: 1\nalready registered: 0\nrow 3: ") {
		t.Fatalf("abort output: %q", out)
	}
	code, out, errs = h.as("Maria Admin", adminPass, "", "import", bad, "--skip-invalid")
	h.expect(0, code, out, errs)
	if !strings.HasPrefix(out, "imported: 1\nrefused: 1\n") || !strings.Contains(errs, "1 row(s) were not imported") || !strings.Contains(errs, "delete the original sheet") {
		t.Fatalf("skip output: %q / %q", out, errs)
	}
	// José is in the vault now: his row is not imported twice.
	code, out, errs = h.as("Maria Admin", adminPass, "", "import", good)
	h.expect(0, code, out, errs)
	if !regexp.MustCompile(`(?m)^imported: 1\nrefused: 0\nalready registered: 1\nrow 2: already registered as [0-9A-Z]{4}-[0-9A-Z]{4}$`).MatchString(out) {
		t.Fatalf("import of a sheet with a registered patient: %q", out)
	}
	if !strings.Contains(errs, "dates of birth read") {
		t.Errorf("the date order is not said: %q", errs)
	}
	code, out, errs = h.as("Maria Admin", adminPass, "", "import", h.file("x.pdf", "%PDF"))
	h.expect(1, code, out, errs)

	// More refused rows than a preview lists: the count is of them all,
	// the first 1,000 are listed, and a line says how many are not.
	var many strings.Builder
	many.WriteString("Last Name,First Name,Date of Birth\n")
	for i := range 1203 {
		fmt.Fprintf(&many, "Many%d,Refused,not a date\n", i)
	}
	code, out, errs = h.as("Maria Admin", adminPass, "", "import", h.file("many.csv", many.String()))
	h.expect(1, code, out, errs)
	if !strings.HasPrefix(out, "imported: 0\nrefused: 1203\nalready registered: 0\nrow 2: ") || strings.Count(out, "\nrow ") != 1000 ||
		!strings.Contains(out, "\nrow 1001: ") || strings.Contains(out, "\nrow 1002: ") || !strings.HasSuffix(out, "\nrefused rows not listed: 203\n") {
		t.Fatalf("a sheet of 1,203 refused rows: %q", out)
	}
}

// TestCLIBenchRunsPrintsMedians: with --runs, each figure is printed once,
// as the median of its runs, in the order the figures first came.
func TestCLIBenchRunsPrintsMedians(t *testing.T) {
	h := newHarness(t)
	code, one, errs := h.run("", "--data", h.dir, "bench", "--iterations", "1", "--patients", "200", "--import-rows", "200")
	h.expect(0, code, one, errs)
	code, out, errs := h.run("", "--data", h.dir, "bench", "--iterations", "1", "--patients", "200", "--import-rows", "200", "--runs", "3")
	h.expect(0, code, out, errs)
	names := func(s string) []string {
		var ns []string
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			ns = append(ns, strings.Fields(l)[0])
		}
		return ns
	}
	if a, b := strings.Join(names(one), " "), strings.Join(names(out), " "); a != b {
		t.Fatalf("--runs 3 printed\n%s\nnot the figures of one run\n%s", b, a)
	}
	if n := strings.Count(errs, "run "); n != 3 {
		t.Fatalf("%d runs announced: %q", n, errs)
	}
	if f := medianFigure([]app.Figure{{Name: "x", Value: 3, Unit: "ms"}, {Name: "x", Value: 1, Unit: "ms"}, {Name: "x", Value: 2, Unit: "ms"}}); f.Value != 2 || f.Name != "x" || f.Unit != "ms" {
		t.Fatalf("median %+v", f)
	}
	code, _, errs = h.run("", "--data", h.dir, "bench", "--runs", "0")
	if code != 2 || !strings.Contains(errs, "--runs") {
		t.Fatalf("--runs 0: exit %d, %q", code, errs)
	}
}

// TestCLIInitRefusesToWriteOverAFileBeforeCreatingTheVault: the recovery
// kit or QR code would be written over a file: init refuses first, and no
// vault exists afterwards (its recovery key would otherwise be shown once
// with the kit unwritten).
func TestCLIInitRefusesToWriteOverAFileBeforeCreatingTheVault(t *testing.T) {
	h := newHarness(t)
	kit := h.file("kit.pdf", "someone's document")
	code, out, errs := h.run("", "--data", h.dir, "--passphrase-file", h.file("admin", adminPass+"\n"), "init", "--practice", "Riverside Family Practice", "--admin", "Maria Admin", "--recovery-pdf", kit)
	h.expect(1, code, out, errs)
	if strings.Contains(out, "recovery key:") {
		t.Errorf("a recovery key was shown for a refused init:\n%s", out)
	}
	if b, _ := os.ReadFile(kit); string(b) != "someone's document" {
		t.Errorf("the existing file was written over: %q", b)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "vault.keys")); err == nil {
		t.Error("the vault was created")
	}
}

// TestCLIImportSaysHowTextWasRead: the encoding a sheet was read in is
// noted, characters probably not typed are named by row, and a sheet in
// no encoding the importer reads is refused with the reason.
func TestCLIImportSaysHowTextWasRead(t *testing.T) {
	h := newHarness(t)
	h.init()
	cp1252 := h.file("w.csv", "Last Name,First Name,Date of Birth\nM\xfcller,Ann,1980-03-02\nO\x92Brien,Bo,1990-06-15\n")
	code, out, errs := h.as("Maria Admin", adminPass, "", "import", cp1252)
	h.expect(0, code, out, errs)
	if !strings.Contains(errs, "read as Windows-1252") || !strings.HasPrefix(out, "imported: 2\n") {
		t.Fatalf("windows-1252: %q / %q", out, errs)
	}
	lost := h.file("lost.csv", "Last Name,First Name,Date of Birth\nOkafor,Ngozi,1990-06-15\nSm\uFFFDth,Cleo,1970-01-01\n")
	code, out, errs = h.as("Maria Admin", adminPass, "", "import", lost)
	h.expect(0, code, out, errs)
	if !strings.Contains(out, `row 3: check: column "Last Name"`) || !strings.Contains(out, "U+FFFD") {
		t.Fatalf("suspicious row: %q / %q", out, errs)
	}
	sjis := h.file("jp.csv", "Last Name,First Name,Date of Birth\n\x8eR\x93c,\x91\xbe\x98Y,1970-01-02\n")
	code, out, errs = h.as("Maria Admin", adminPass, "", "import", sjis)
	h.expect(1, code, out, errs)
	if !strings.Contains(errs, "line 2 has bytes") || !strings.Contains(errs, "it looks like Japanese Shift-JIS") || strings.Contains(out, "imported:") {
		t.Fatalf("shift-jis: %q / %q", out, errs)
	}
}
