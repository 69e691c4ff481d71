// Package cli is ClinicVault's command line: administration and automation
// (init, users, passwd, audit, shell, bench). Command names, flags, output
// lines and exit statuses are a contract that scripts rely on.
package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clinicvault/clinicvault/app"
)

// Exit statuses.
const (
	ExitOK           = 0
	ExitError        = 1
	ExitUsage        = 2
	ExitSignIn       = 3
	ExitNotPermitted = 4
)

// IO is the command line's connection to the outside world.
type IO struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
	// Terminal reports whether In is an interactive terminal, where missing
	// secrets are prompted for.
	Terminal bool
	// ReadSecret reads a line without echo from the terminal.
	ReadSecret func(prompt string) (string, error)
}

// usageError is a malformed command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// ExitCode maps an error to the documented exit status.
func ExitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue), errors.Is(err, app.ErrUsage), errors.Is(err, flag.ErrHelp):
		return ExitUsage
	case errors.Is(err, app.ErrSignInRefused), errors.Is(err, app.ErrEnrollTOTP):
		return ExitSignIn
	case errors.Is(err, app.ErrNotPermitted):
		return ExitNotPermitted
	}
	return ExitError
}

type globals struct {
	data           string
	user           string
	passphraseFile string
	totp           string
}

type runner struct {
	ctx      context.Context
	io       IO
	in       *bufio.Reader
	g        globals
	newVault func(dir string) *app.Vault
	vault    *app.Vault
	sess     *app.Session
	inShell  bool
	// passphrase is the sign-in passphrase, read once per run so that
	// passwd can prove it again without a second prompt.
	passphrase *string
}

// Main runs one command line (without the program name) and returns the
// exit status. newVault opens the vault of a data folder; tests inject a
// clock and the minimum KDF through it.
// A panic (a bug) ends in one sentence, a log file and exit status 1
// (see Recovered), never in a stack trace.
func Main(ctx context.Context, args []string, stdio IO, newVault func(dir string) *app.Vault) (code int) {
	r := &runner{ctx: ctx, io: stdio, in: bufio.NewReader(stdio.In), newVault: newVault}
	defer func() {
		if p := recover(); p != nil {
			code = r.crashed(p, debug.Stack())
		}
	}()
	err := r.main(args)
	if r.sess != nil {
		r.sess.Lock(ctx)
	}
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdio.Err, "clinicvault:", err)
		}
		if ExitCode(err) == ExitUsage && !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdio.Err, "Run 'clinicvault help' for the list of commands.")
		}
	}
	return ExitCode(err)
}

func (r *runner) main(args []string) error {
	fs := flag.NewFlagSet("clinicvault", flag.ContinueOnError)
	fs.SetOutput(r.io.Err)
	fs.StringVar(&r.g.data, "data", "", "data folder (default: the user config folder's ClinicVault)")
	fs.StringVar(&r.g.user, "user", "", "user name to sign in as")
	fs.StringVar(&r.g.passphraseFile, "passphrase-file", "", "file holding the passphrase ('-' = standard input)")
	fs.StringVar(&r.g.totp, "totp", "", "the 6-digit code from the authenticator app")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		r.help()
		return nil
	} else if err != nil {
		return usagef("%v", err)
	}
	if a := fs.Arg(0); a == "help" || a == "version" {
		return r.run(fs.Args()) // no data folder needed, or looked for
	}
	if r.g.data == "" {
		d, err := app.DefaultDataDir()
		if err != nil {
			return fmt.Errorf("no --data folder and no user config folder: %w", err)
		}
		r.g.data = d
	}
	r.vault = r.newVault(r.g.data)
	if fs.NArg() == 0 {
		return usagef("no command given")
	}
	return r.run(fs.Args())
}

type command struct {
	usage string
	help  string
	run   func(r *runner, args []string) error
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"init":        {"init --practice NAME --admin NAME [--qr FILE.png] [--recovery-pdf FILE.pdf]", "create the practice's vault; the passphrase comes from --passphrase-file", (*runner).cmdInit},
		"user":        {"user add|list|remove|role|bookable|reset-totp|unlock ...", "manage staff accounts (admins); user bookable NAME yes|no marks who sees patients", (*runner).cmdUser},
		"passwd":      {"passwd --new-passphrase-file FILE", "change your own passphrase", (*runner).cmdPasswd},
		"whoami":      {"whoami", "print the signed-in user's name and role", (*runner).cmdWhoami},
		"audit":       {"audit verify | audit list [--limit N]", "check or list the audit log (admins)", (*runner).cmdAudit},
		"shell":       {"shell", "sign in once, then run commands read from standard input, one per line", (*runner).cmdShell},
		"recover":     {"recover --recovery-key-file F --admin NAME --new-passphrase-file F [--qr FILE.png]", "use the recovery key: new passphrase and authenticator for an admin", (*runner).cmdRecover},
		"totp":        {"totp enroll [--qr FILE.png]", "enroll a new authenticator after an admin reset it (reads the confirming code from standard input)", (*runner).cmdTOTP},
		"settings":    {"settings idle-lock MINUTES | settings backup-folder DIR | settings date-order DMY|MDY | settings seat-limit N | settings relay URL|none [--fingerprint FP] [--relay-creds FILE] [--claim CODE]", "set the idle-lock time, the folder for daily backups, how 2/3/1980 is read (admins), or the relay this computer syncs through (--claim: hand a new relay this practice's computers)", (*runner).cmdSettings},
		"backup":      {"backup create --out DIR | backup verify FILE | backup restore FILE --to NEWDIR [--recovery-key-file F] | backup list DIR", "encrypted backups: make, check, restore into a new folder, list", (*runner).cmdBackup},
		"patient":     {"patient add --given G --family F --dob YYYY-MM-DD [--mobile P] [--home-phone P] [--sms-consent] [--email E] [--sex S] [--address A] [--postcode C] [--national-number N] [--language L] | patient edit MRN [the same flags; --sms-consent=false withdraws] | patient search QUERY | patient show MRN", "register, change, find and open patients (--phone is --mobile)", (*runner).cmdPatient},
		"encounter":   {"encounter add MRN --subjective T --objective T --assessment T --plan T [--sign]", "chart a visit (clinicians)", (*runner).cmdEncounter},
		"vitals":      {"vitals add MRN [--bp 120/80] [--pulse N] [--temp C] [--weight KG] [--height CM] [--spo2 N]", "record vital signs (clinicians)", (*runner).cmdVitals},
		"allergy":     {"allergy add MRN --substance S [--reaction R] [--severity S]", "record an allergy (clinicians)", (*runner).cmdAllergy},
		"medication":  {"medication add MRN --name N [--dose D] [--route R] [--frequency F] [--start YYYY-MM-DD] [--stop YYYY-MM-DD] [--override-reason T]", "record a medication, checked against the patient's allergies (clinicians); a conflict is refused with exit 1 and an 'allergy:' line unless a reason is given", (*runner).cmdMedication},
		"appointment": {"appointment add MRN --at \"YYYY-MM-DD HH:MM\" --minutes N --clinician NAME [--reason T] | appointment list [--day YYYY-MM-DD] | appointment move ID [--at \"YYYY-MM-DD HH:MM\"] [--minutes N] [--clinician NAME] | appointment cancel ID --reason T | appointment status ID STATUS", "the appointment book (status booked undoes a check-in)", (*runner).cmdAppointment},
		"demo":        {"demo --patients N [--seed S]", "fill the signed-in vault with synthetic patients, appointments and charts (for training only)", (*runner).cmdDemo},
		"security":    {"security report", "the Security Center checklist, one item per line; exit status 1 when something needs attention (admins)", (*runner).cmdSecurity},
		"access":      {"access review --out FILE [--encrypt-passphrase-file F | --recipient AGE_RECIPIENT]", "export who can reach what, age-encrypted (admins)", (*runner).cmdAccess},
		"training":    {"training status | training list | training show LESSON | training answer LESSON N,N,... | training certificate --out FILE.pdf", "staff security lessons and quizzes", (*runner).cmdTraining},
		"chart":       {"chart restrict MRN [--clinician NAME]... | chart unrestrict MRN | chart emergency MRN --reason T", "restrict a chart to named clinicians; emergency access (clinicians)", (*runner).cmdChart},
		"emergency":   {"emergency list [--all] | emergency review ID [--note T]", "review emergency accesses (admins)", (*runner).cmdEmergency},
		"sync":        {"sync [--folder DIR] [--relay URL [--relay-creds FILE] [--fingerprint FP]] [--watch]", "one pass through the shared folder or the relay (default: those last used): push, then pull; --watch keeps running", (*runner).cmdSync},
		"device":      {"device list | device revoke ID [--folder DIR | --relay URL] | device rename ID NAME | device invite --folder DIR|--relay URL [--yes]", "the practice's computers (admins add and revoke)", (*runner).cmdDevice},
		"relay":       {"relay serve [--listen ADDR] [--store DIR]", "run the practice's relay (NATS JetStream, TLS with its own certificate): prints relay:, fingerprint: and, until an admin claims it, claim:", (*runner).cmdRelay},
		"join":        {"join --folder DIR|--relay URL [--fingerprint FP] --code CODE [--name NAME]", "make this (empty --data) folder a new computer of a practice", (*runner).cmdJoin},
		"import":      {"import FILE [--skip-invalid] [--date-order dmy|mdy]", "import patients from a .csv or .xlsx sheet or a .json FHIR R4 bundle; without --skip-invalid any bad row imports nothing; rows of patients already registered are not imported again", (*runner).cmdImport},
		"export":      {"export --format fhir|csv --out FILE [--patient MRN] [--encrypt-passphrase-file F | --recipient AGE_RECIPIENT | --plaintext]", "export patients (FHIR R4 with charts for clinicians, or CSV), age-encrypted unless --plaintext", (*runner).cmdExport},
		"print":       {"print MRN --encounter ID --out FILE.pdf", "a printable visit summary (clinicians)", (*runner).cmdPrint},
		"bench":       {"bench [--iterations N] [--patients N] [--import-rows N] [--runs N]", "measure sign-in, patient insert, search, chart opening and CSV/XLSX import, encrypted against plain (--runs: medians of N runs)", (*runner).cmdBench},
		"version":     {"version", "print ClinicVault's version (from FyneApp.toml) and the system it was built for", func(r *runner, _ []string) error { fmt.Fprintln(r.io.Out, VersionLine()); return nil }},
		"help":        {"help", "show this list", func(r *runner, _ []string) error { r.help(); return nil }},
	}
}

func (r *runner) help() {
	w := r.io.Out
	fmt.Fprintln(w, "Usage: clinicvault [--data DIR] [--user NAME] [--passphrase-file FILE|-] [--totp CODE] COMMAND ...")
	fmt.Fprintln(w, "With no command, ClinicVault opens its window.")
	fmt.Fprintln(w)
	for _, name := range []string{"init", "user", "passwd", "whoami", "audit", "shell", "recover", "totp", "settings", "backup", "patient", "encounter", "vitals", "allergy", "medication", "appointment", "demo", "security", "access", "training", "chart", "emergency", "sync", "device", "join", "relay", "import", "export", "print", "bench", "version", "help"} {
		c := commands[name]
		fmt.Fprintf(w, "  %s\n      %s\n", c.usage, c.help)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Exit status: 0 ok, 1 error, 2 usage, 3 sign-in refused, 4 not permitted for this role.")
}

func (r *runner) run(args []string) error {
	c, ok := commands[args[0]]
	if !ok {
		return usagef("unknown command %q", args[0])
	}
	if testPanicHook != nil {
		testPanicHook(args[0])
	}
	if r.inShell && (args[0] == "shell" || args[0] == "init" || args[0] == "bench" || args[0] == "recover" || args[0] == "join" || args[0] == "relay" || (args[0] == "backup" && len(args) > 1 && args[1] == "restore")) {
		return usagef("%s cannot run inside the shell", args[0])
	}
	return c.run(r, args[1:])
}

// parse parses flags that may come before or after positional arguments
// and checks the number of positional arguments.
func parse(fs *flag.FlagSet, args []string, min, max int) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < min || (max >= 0 && len(pos) > max) {
		return nil, usagef("%s: expected %s", fs.Name(), commandUsage(fs.Name()))
	}
	return pos, nil
}

func commandUsage(name string) string {
	first, _, _ := strings.Cut(name, " ")
	if c, ok := commands[first]; ok {
		return c.usage
	}
	return name
}

// readLine reads one line from standard input without its line ending.
func (r *runner) readLine() (string, error) {
	line, err := r.in.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", usagef("standard input ended before a value was read")
		}
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}

// readSecretFile reads a passphrase from a file ('-' = one line of standard
// input), dropping one trailing newline.
func (r *runner) readSecretFile(path string) (string, error) {
	if path == "-" {
		return r.readLine()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read passphrase file: %w", err)
	}
	s := string(b)
	s = strings.TrimSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\r")
	return s, nil
}

// secret returns the value of a secret flag, or prompts on a terminal.
func (r *runner) secret(path, flagName, prompt string) (string, error) {
	if path != "" {
		return r.readSecretFile(path)
	}
	if r.io.Terminal && r.io.ReadSecret != nil {
		return r.io.ReadSecret(prompt)
	}
	return "", usagef("%s is required when standard input is not a terminal", flagName)
}

// newPassphrase reads a new passphrase from a file, or asks twice on a terminal.
func (r *runner) newPassphrase(path, flagName string) (string, error) {
	if path != "" {
		return r.readSecretFile(path)
	}
	p, err := r.secret("", flagName, "New passphrase: ")
	if err != nil {
		return "", err
	}
	again, err := r.secret("", flagName, "Type it again: ")
	if err != nil {
		return "", err
	}
	if again != p {
		return "", usagef("the two passphrases differ")
	}
	return p, nil
}

func (r *runner) prompt(value, flagName, prompt string) (string, error) {
	if value != "" {
		return value, nil
	}
	if r.io.Terminal {
		fmt.Fprint(r.io.Err, prompt)
		return r.readLine()
	}
	return "", usagef("%s is required when standard input is not a terminal", flagName)
}

// signedIn parses a command that has no flags of its own, checks it has
// min to max positional arguments, and signs in.
func (r *runner) signedIn(name string, args []string, min, max int) (*app.Session, error) {
	_, s, err := r.signedInWith(name, args, min, max)
	return s, err
}

// signedInWith parses a command without flags of its own, checks its
// positional arguments, signs in, and returns both.
func (r *runner) signedInWith(name string, args []string, min, max int) ([]string, *app.Session, error) {
	pos, err := parse(flag.NewFlagSet(name, flag.ContinueOnError), args, min, max)
	if err != nil {
		return nil, nil, err
	}
	s, err := r.session()
	return pos, s, err
}

// session signs in once with the global flags.
func (r *runner) session() (*app.Session, error) {
	if r.sess != nil {
		return r.sess, nil
	}
	if !r.vault.Exists() {
		return nil, fmt.Errorf("%s: %w (run 'clinicvault init' to create one, or give --data)", r.g.data, app.ErrNoVault)
	}
	user, err := r.prompt(r.g.user, "--user", "User: ")
	if err != nil {
		return nil, err
	}
	pass, err := r.signInPassphrase()
	if err != nil {
		return nil, err
	}
	code, err := r.prompt(r.g.totp, "--totp", "Code from the authenticator app: ")
	if err != nil {
		return nil, err
	}
	s, err := r.vault.SignIn(r.ctx, user, pass, code)
	if errors.Is(err, app.ErrEnrollTOTP) {
		r.sess = s
		return s, err
	}
	if err != nil {
		return nil, err
	}
	r.sess = s
	return s, nil
}

func writeQR(path string, enr *app.Enrollment) error {
	img, err := enr.QR(320)
	if err != nil {
		return err
	}
	f, err := app.CreateNew(path)
	if err != nil {
		return fmt.Errorf("write QR code: %w", err)
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write QR code: %w", err)
	}
	return f.Close()
}

func (r *runner) printEnrollment(enr *app.Enrollment, qr string) error {
	fmt.Fprintln(r.io.Out, enr.URI())
	if qr != "" {
		if err := writeQR(qr, enr); err != nil {
			return err
		}
		fmt.Fprintf(r.io.Err, "QR code written to %s: scan it, then delete the file (it holds the authenticator secret).\n", qr)
	}
	return nil
}

func (r *runner) cmdInit(args []string) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	practice := fs.String("practice", "", "practice name")
	admin := fs.String("admin", "", "first admin's name")
	qr := fs.String("qr", "", "write the authenticator QR code to this PNG")
	pdf := fs.String("recovery-pdf", "", "also write the recovery kit to this PDF, to print")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *practice == "" || *admin == "" {
		return usagef("init needs --practice and --admin")
	}
	if err := notThere(*qr, *pdf); err != nil {
		return err
	}
	if r.vault.Exists() {
		return fmt.Errorf("%s: %w", r.g.data, app.ErrVaultExists)
	}
	pass, err := r.newPassphrase(r.g.passphraseFile, "--passphrase-file")
	if err != nil {
		return err
	}
	if err := r.vault.CheckPassphrase(pass, *admin, *practice); err != nil {
		return err
	}
	enr, err := app.NewEnrollment(*practice, *admin)
	if err != nil {
		return err
	}
	created, err := r.vault.Create(r.ctx, *practice, *admin, pass, enr)
	if err != nil {
		return err
	}
	fmt.Fprintf(r.io.Out, "vault created in %s for %s; admin: %s\n", r.g.data, *practice, *admin)
	fmt.Fprintln(r.io.Out, "Add this to the admin's authenticator app (scan the QR code or import the URI):")
	if err := r.printEnrollment(enr, *qr); err != nil {
		return err
	}
	fmt.Fprintf(r.io.Out, "recovery key: %s\n", created.RecoveryKey)
	fmt.Fprintln(r.io.Out, "Write the recovery key on paper and lock it away: it is shown only now, and it opens the vault if the admin's passphrase or phone is lost.")
	if *pdf != "" {
		b, err := app.RecoveryKitPDF(*practice, created.RecoveryKey, r.now())
		if err != nil {
			return err
		}
		if err := app.WriteNew(*pdf, b); err != nil {
			return fmt.Errorf("write recovery kit: %w", err)
		}
		fmt.Fprintf(r.io.Err, "Recovery kit written to %s: print it, then delete the file.\n", *pdf)
	}
	return nil
}

func (r *runner) cmdUser(args []string) error {
	if len(args) == 0 {
		return usagef("user needs a subcommand: add, list, remove, role, reset-totp, unlock")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "add":
		fs := flag.NewFlagSet("user add", flag.ContinueOnError)
		roleName := fs.String("role", "", "admin, clinician or receptionist")
		passFile := fs.String("new-passphrase-file", "", "file holding the new user's first passphrase ('-' = standard input)")
		qr := fs.String("qr", "", "write the new user's authenticator QR code to this PNG")
		pos, err := parse(fs, args, 1, 1)
		if err != nil {
			return err
		}
		if err := notThere(*qr); err != nil {
			return err
		}
		role, err := app.ParseRole(*roleName)
		if err != nil {
			return err
		}
		s, err := r.session()
		if err != nil {
			return err
		}
		pass, err := r.newPassphrase(*passFile, "--new-passphrase-file")
		if err != nil {
			return err
		}
		enr, err := app.NewEnrollment(s.Practice(), pos[0])
		if err != nil {
			return err
		}
		if err := s.AddUser(r.ctx, pos[0], role, pass, enr); err != nil {
			return err
		}
		return r.printEnrollment(enr, *qr)
	case "list":
		s, err := r.signedIn("user list", args, 0, 0)
		if err != nil {
			return err
		}
		users, err := s.ListUsers(r.ctx)
		if err != nil {
			return err
		}
		for _, u := range users {
			last := "never"
			if !u.LastSignIn.IsZero() {
				last = u.LastSignIn.Local().Format("2006-01-02 15:04")
			}
			sees := "-"
			if u.Bookable {
				sees = "sees patients"
			}
			fmt.Fprintf(r.io.Out, "%s\t%s\tlast sign-in %s\t%s\t%s\n", u.Name, u.Role, last, userStatus(u), sees)
		}
		return nil
	case "bookable":
		pos, err := parse(flag.NewFlagSet("user bookable", flag.ContinueOnError), args, 2, 2)
		if err != nil {
			return err
		}
		on, err := yesNo(pos[1])
		if err != nil {
			return usagef("user bookable NAME yes|no, not %q", pos[1])
		}
		s, err := r.session()
		if err != nil {
			return err
		}
		if err := s.SetBookable(r.ctx, pos[0], on); err != nil {
			return err
		}
		if on {
			fmt.Fprintf(r.io.Out, "%s sees patients\n", pos[0])
		} else {
			fmt.Fprintf(r.io.Out, "%s does not see patients\n", pos[0])
		}
		return nil
	case "remove", "reset-totp", "unlock":
		pos, err := parse(flag.NewFlagSet("user "+sub, flag.ContinueOnError), args, 1, 1)
		if err != nil {
			return err
		}
		s, err := r.session()
		if err != nil {
			return err
		}
		switch sub {
		case "remove":
			done := r.watchRekeys(s)
			err = s.RemoveUser(r.ctx, pos[0])
			defer done()
		case "reset-totp":
			err = s.ResetTOTP(r.ctx, pos[0])
		case "unlock":
			err = s.UnlockUser(r.ctx, pos[0])
		}
		if err == nil {
			fmt.Fprintf(r.io.Out, "%s: %s done\n", pos[0], sub)
		}
		return err
	case "role":
		pos, err := parse(flag.NewFlagSet("user role", flag.ContinueOnError), args, 2, 2)
		if err != nil {
			return err
		}
		role, err := app.ParseRole(pos[1])
		if err != nil {
			return err
		}
		s, err := r.session()
		if err != nil {
			return err
		}
		done := r.watchRekeys(s)
		if err := s.SetRole(r.ctx, pos[0], role); err != nil {
			s.OnRekey(nil)
			return err
		}
		fmt.Fprintf(r.io.Out, "%s is now %s\n", pos[0], role)
		done()
		return nil
	}
	return usagef("unknown user subcommand %q", sub)
}

func userStatus(u app.User) string {
	switch {
	case u.LockedOut:
		return "locked out"
	case u.TOTPReset:
		return "authenticator reset pending"
	case u.Failures > 0:
		return fmt.Sprintf("%d failed sign-ins", u.Failures)
	}
	return "active"
}

func (r *runner) cmdPasswd(args []string) error {
	fs := flag.NewFlagSet("passwd", flag.ContinueOnError)
	passFile := fs.String("new-passphrase-file", "", "file holding the new passphrase ('-' = standard input)")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	s, err := r.session()
	if err != nil {
		return err
	}
	// The current passphrase is the one this run signed in with.
	current, err := r.signInPassphrase()
	if err != nil {
		return err
	}
	next, err := r.newPassphrase(*passFile, "--new-passphrase-file")
	if err != nil {
		return err
	}
	if err := s.ChangePassphrase(r.ctx, current, next); err != nil {
		return err
	}
	fmt.Fprintln(r.io.Out, "passphrase changed")
	return nil
}

// signInPassphrase reads the sign-in passphrase once per run.
func (r *runner) signInPassphrase() (string, error) {
	if r.passphrase == nil {
		p, err := r.secret(r.g.passphraseFile, "--passphrase-file", "Passphrase: ")
		if err != nil {
			return "", err
		}
		r.passphrase = &p
	}
	return *r.passphrase, nil
}

func (r *runner) cmdWhoami(args []string) error {
	s, err := r.signedIn("whoami", args, 0, 0)
	if err != nil {
		return err
	}
	u := s.User()
	fmt.Fprintf(r.io.Out, "user: %s\nrole: %s\n", u.Name, u.Role)
	return nil
}

func (r *runner) cmdAudit(args []string) error {
	if len(args) == 0 {
		return usagef("audit needs a subcommand: verify or list")
	}
	switch args[0] {
	case "verify":
		s, err := r.signedIn("audit verify", args[1:], 0, 0)
		if err != nil {
			return err
		}
		n, err := s.AuditVerify(r.ctx)
		var witnessed *app.AuditWitnessError
		if errors.As(err, &witnessed) {
			for _, p := range witnessed.Problems {
				fmt.Fprintf(r.io.Out, "problem: %s\n", p)
			}
			return fmt.Errorf("the audit log does not match what the other computers saw: %w", app.ErrAuditTampered)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(r.io.Out, "audit log intact: %d entries\n", n)
		if !s.AuditWitnessed(r.ctx) {
			fmt.Fprintln(r.io.Out, "not yet witnessed by another computer: until this computer syncs with another, only its own chain speaks for it")
		}
		return nil
	case "list":
		fs := flag.NewFlagSet("audit list", flag.ContinueOnError)
		limit := fs.Int("limit", 50, "how many of the newest entries (0 = all)")
		if _, err := parse(fs, args[1:], 0, 0); err != nil {
			return err
		}
		if *limit < 0 {
			return usagef("--limit must be 0 or more")
		}
		s, err := r.session()
		if err != nil {
			return err
		}
		entries, err := s.AuditList(r.ctx, *limit)
		if err != nil {
			return err
		}
		for _, e := range entries {
			fmt.Fprintf(r.io.Out, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.At.Local().Format(time.RFC3339), e.UserName, e.Action, e.Subject, e.Detail, e.Computer)
		}
		return nil
	}
	return usagef("unknown audit subcommand %q", args[0])
}

func (r *runner) cmdShell(args []string) error {
	if _, err := parse(flag.NewFlagSet("shell", flag.ContinueOnError), args, 0, 0); err != nil {
		return err
	}
	if _, err := r.session(); err != nil {
		return err
	}
	r.inShell = true
	for {
		line, err := r.in.ReadString('\n')
		if line == "" && err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		words, perr := splitWords(strings.TrimSpace(line))
		if perr != nil {
			return perr
		}
		if len(words) == 0 || strings.HasPrefix(words[0], "#") {
			continue
		}
		if words[0] == "exit" || words[0] == "quit" {
			return nil
		}
		if err := r.run(words); err != nil {
			return err
		}
	}
}

// splitWords splits a shell line into words, honouring single and double
// quotes and backslash escapes.
func splitWords(s string) ([]string, error) {
	return splitWordsEscaping(s, runtime.GOOS != "windows")
}

// splitWordsEscaping splits a shell line into words: quotes group, and a
// backslash escapes the next character only where escapes is set. On
// Windows it is not: a backslash is a path's separator there
// (C:\Users\…, \\server\share), as in the Command Prompt.
func splitWordsEscaping(s string, escapes bool) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, c := range s {
		switch {
		case escaped:
			cur.WriteRune(c)
			escaped = false
		case c == '\\' && quote != '\'' && escapes:
			escaped, inWord = true, true
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteRune(c)
			}
		case c == '"' || c == '\'':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(c)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, usagef("unbalanced quote in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func (r *runner) cmdRecover(args []string) error {
	fs := flag.NewFlagSet("recover", flag.ContinueOnError)
	keyFile := fs.String("recovery-key-file", "", "file holding the recovery key ('-' = standard input)")
	admin := fs.String("admin", "", "the admin to restore")
	passFile := fs.String("new-passphrase-file", "", "file holding the admin's new passphrase ('-' = standard input)")
	qr := fs.String("qr", "", "write the new authenticator QR code to this PNG")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *admin == "" {
		return usagef("recover needs --admin")
	}
	if err := notThere(*qr); err != nil {
		return err
	}
	key, err := r.secret(*keyFile, "--recovery-key-file", "Recovery key: ")
	if err != nil {
		return err
	}
	pass, err := r.newPassphrase(*passFile, "--new-passphrase-file")
	if err != nil {
		return err
	}
	info, err := r.vault.Info()
	if err != nil {
		return err
	}
	enr, err := app.NewEnrollment(info.Practice, *admin)
	if err != nil {
		return err
	}
	if err := r.vault.Recover(r.ctx, key, *admin, pass, enr); err != nil {
		return err
	}
	fmt.Fprintf(r.io.Out, "%s has a new passphrase and must add this to their authenticator app:\n", *admin)
	return r.printEnrollment(enr, *qr)
}

func (r *runner) cmdTOTP(args []string) error {
	if len(args) == 0 || args[0] != "enroll" {
		return usagef("usage: %s", commands["totp"].usage)
	}
	fs := flag.NewFlagSet("totp enroll", flag.ContinueOnError)
	qr := fs.String("qr", "", "write the QR code to this PNG")
	if _, err := parse(fs, args[1:], 0, 0); err != nil {
		return err
	}
	if err := notThere(*qr); err != nil {
		return err
	}
	if r.g.totp == "" {
		r.g.totp = "-" // no code exists yet; SignIn ignores it when a reset is pending
	}
	s, err := r.session()
	if err == nil {
		return usagef("no authenticator reset is pending for %s", s.User().Name)
	}
	if !errors.Is(err, app.ErrEnrollTOTP) {
		return err
	}
	enr, err := s.BeginTOTPEnrollment()
	if err != nil {
		return err
	}
	if err := r.printEnrollment(enr, *qr); err != nil {
		return err
	}
	fmt.Fprint(r.io.Err, "Code from the authenticator app: ")
	code, err := r.readLine()
	if err != nil {
		return err
	}
	if err := s.ConfirmTOTPEnrollment(r.ctx, enr, code); err != nil {
		return err
	}
	fmt.Fprintln(r.io.Out, "authenticator enrolled")
	return nil
}

func (r *runner) cmdSettings(args []string) error {
	if len(args) > 0 && args[0] == "relay" {
		return r.cmdSettingsRelay(args[1:])
	}
	pos, err := parse(flag.NewFlagSet("settings", flag.ContinueOnError), args, 2, 2)
	if err != nil {
		return err
	}
	if pos[0] == "backup-folder" {
		s, err := r.session()
		if err != nil {
			return err
		}
		if err := s.SetBackupFolder(r.ctx, pos[1]); err != nil {
			return err
		}
		fmt.Fprintf(r.io.Out, "backup folder: %s\n", pos[1])
		return nil
	}
	if pos[0] == "seat-limit" {
		n, err := strconv.Atoi(pos[1])
		if err != nil {
			return usagef("seat-limit takes a number (0 = no limit)")
		}
		s, err := r.session()
		if err != nil {
			return err
		}
		if err := s.SetSeatLimit(r.ctx, n); err != nil {
			return err
		}
		fmt.Fprintf(r.io.Out, "seat limit: %d\n", n)
		return nil
	}
	if pos[0] == "date-order" {
		s, err := r.session()
		if err != nil {
			return err
		}
		if err := s.SetDateOrder(r.ctx, app.DateOrder(strings.ToUpper(pos[1]))); err != nil {
			return err
		}
		fmt.Fprintf(r.io.Out, "date order: %s\n", strings.ToUpper(pos[1]))
		return nil
	}
	if pos[0] != "idle-lock" {
		return usagef("unknown setting %q (known: idle-lock, backup-folder, date-order)", pos[0])
	}
	var minutes int
	if _, err := fmt.Sscan(pos[1], &minutes); err != nil {
		return usagef("idle-lock takes a number of minutes")
	}
	s, err := r.session()
	if err != nil {
		return err
	}
	if err := s.SetIdleLock(r.ctx, time.Duration(minutes)*time.Minute); err != nil {
		return err
	}
	fmt.Fprintf(r.io.Out, "idle lock: %d minutes\n", minutes)
	return nil
}

// now is the vault's clock (the wall clock until a vault is chosen): the
// command line never mixes the two.
func (r *runner) now() time.Time {
	if r.vault != nil && r.vault.Now != nil {
		return r.vault.Now()
	}
	return time.Now()
}

// watchRekeys notes which of this computer's databases a change of staff
// or computers re-encrypts under a new key; the function it returns
// prints one line for each ("re-encrypted: general.db") and stops
// watching.
func (r *runner) watchRekeys(s *app.Session) func() {
	var names []string
	s.OnRekey(func(p app.RekeyProgress) {
		if p.Total > 0 && p.Done == p.Total && !slices.Contains(names, p.Database) {
			names = append(names, p.Database)
		}
	})
	return func() {
		s.OnRekey(nil)
		for _, n := range names {
			fmt.Fprintf(r.io.Out, "re-encrypted: %s (under a new key)\n", n)
		}
	}
}

// notThere checks, before anything is done, that nothing is at the paths
// a command will write (files are never written over, nor through a
// link): the vault is not changed for a file that then cannot be written.
func notThere(paths ...string) error {
	for _, p := range paths {
		if p == "" {
			continue
		}
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s: %w", p, app.ErrFileExists)
		}
	}
	return nil
}
