package cli

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/clinicvault/clinicvault/app"
)

// optional is a string flag that knows whether it was given.
type optional struct {
	set bool
	v   string
}

func (o *optional) String() string { return o.v }
func (o *optional) Set(s string) error {
	o.set, o.v = true, s
	return nil
}
func (o *optional) ptr() *string {
	if !o.set {
		return nil
	}
	return &o.v
}

// optionalBool is a yes-or-no flag that knows whether it was given:
// --sms-consent alone is yes, --sms-consent=false no.
type optionalBool struct {
	set, v bool
}

func (o *optionalBool) String() string   { return strconv.FormatBool(o.v) }
func (o *optionalBool) IsBoolFlag() bool { return true }
func (o *optionalBool) Set(s string) error {
	v, err := yesNo(s)
	if err != nil {
		return err
	}
	o.set, o.v = true, v
	return nil
}

// yesNo reads yes/no, y/n, on/off or true/false in any case.
func yesNo(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "y", "on", "true", "1":
		return true, nil
	case "no", "n", "off", "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not yes or no", s)
}
func (o *optionalBool) ptr() *bool {
	if !o.set {
		return nil
	}
	return &o.v
}

// phoneFlag is --phone, and --mobile its other name: the mobile number.
// Given twice (under either name) the last one counts, as flags do;
// given under both names with different numbers it is a usage error.
type phoneFlag struct {
	optional
	names map[string]string
}

func (p *phoneFlag) as(name string) flag.Value { return phoneName{p, name} }

type phoneName struct {
	p    *phoneFlag
	name string
}

func (n phoneName) String() string {
	if n.p == nil {
		return ""
	}
	return n.p.v
}
func (n phoneName) Set(s string) error {
	if n.p.names == nil {
		n.p.names = map[string]string{}
	}
	n.p.names[n.name] = s
	return n.p.optional.Set(s)
}

func (p *phoneFlag) check() error {
	if m, ok := p.names["mobile"]; ok {
		if ph, ok := p.names["phone"]; ok && ph != m {
			return usagef("--phone and --mobile are the same number (the mobile); give one of them")
		}
	}
	return nil
}

func (r *runner) cmdPatient(args []string) error {
	if len(args) == 0 {
		return usagef("patient needs a subcommand: add, edit, search, show")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "add", "edit":
		fs := flag.NewFlagSet("patient "+sub, flag.ContinueOnError)
		var given, family, dob, email, sex, preferred, address, home, postcode, national, language optional
		var phone phoneFlag
		var consent optionalBool
		fs.Var(&given, "given", "given name")
		fs.Var(&family, "family", "family name")
		fs.Var(&dob, "dob", "date of birth, YYYY-MM-DD")
		fs.Var(phone.as("phone"), "phone", "mobile number (the same as --mobile)")
		fs.Var(phone.as("mobile"), "mobile", "mobile number")
		fs.Var(&home, "home-phone", "home phone number")
		fs.Var(&email, "email", "email address")
		fs.Var(&sex, "sex", "female, male, other or unknown")
		fs.Var(&preferred, "preferred", "preferred name")
		fs.Var(&address, "address", "postal address")
		fs.Var(&postcode, "postcode", "postcode or ZIP code")
		fs.Var(&national, "national-number", "national health number (NHS, Medicare, health card… number)")
		fs.Var(&language, "language", "preferred language, as said (Polish): the desk books an interpreter")
		fs.Var(&consent, "sms-consent", "agrees to SMS reminders on the mobile (--sms-consent=false withdraws it)")
		n := 0
		if sub == "edit" {
			n = 1
		}
		pos, err := parse(fs, args, n, n)
		if err != nil {
			return err
		}
		if err := phone.check(); err != nil {
			return err
		}
		s, err := r.session()
		if err != nil {
			return err
		}
		if sub == "add" {
			if !given.set || !family.set || !dob.set {
				return usagef("patient add needs --given, --family and --dob")
			}
			p, dups, err := s.AddPatient(r.ctx, app.Patient{Given: given.v, Family: family.v, DOB: dob.v, Phone: phone.v,
				Email: email.v, Sex: sex.v, Preferred: preferred.v, Address: address.v, Phone2: home.v, Postcode: postcode.v,
				NationalNumber: national.v, SMSConsent: consent.v, Language: language.v})
			if err != nil {
				return err
			}
			fmt.Fprintf(r.io.Out, "mrn: %s\n", p.MRN)
			for _, d := range dups {
				fmt.Fprintf(r.io.Err, "warning: possible duplicate (%s): %s %s, born %s\n", d.Reason, d.Patient.MRN, d.Patient.Name(), d.Patient.DOB)
			}
			return nil
		}
		p, err := s.EditPatient(r.ctx, pos[0], app.PatientChanges{Given: given.ptr(), Family: family.ptr(), DOB: dob.ptr(),
			Phone: phone.ptr(), Email: email.ptr(), Sex: sex.ptr(), Preferred: preferred.ptr(), Address: address.ptr(),
			Phone2: home.ptr(), Postcode: postcode.ptr(), NationalNumber: national.ptr(), SMSConsent: consent.ptr(), Language: language.ptr()})
		if err != nil {
			return err
		}
		fmt.Fprintf(r.io.Out, "mrn: %s\n", p.MRN)
		return nil
	case "search":
		fs := flag.NewFlagSet("patient search", flag.ContinueOnError)
		limit := fs.Int("limit", 50, "at most this many")
		pos, err := parse(fs, args, 1, -1)
		if err != nil {
			return err
		}
		s, err := r.session()
		if err != nil {
			return err
		}
		ps, err := s.SearchPatients(r.ctx, strings.Join(pos, " "), *limit)
		if err != nil {
			return err
		}
		for _, p := range ps {
			fmt.Fprintf(r.io.Out, "%s\t%s\t%s\n", p.MRN, p.Name(), p.DOB)
		}
		return nil
	case "show":
		pos, s, err := r.signedInWith("patient show", args, 1, 1)
		if err != nil {
			return err
		}
		c, err := s.OpenChart(r.ctx, pos[0])
		if err != nil {
			return err
		}
		r.printChart(c)
		return nil
	}
	return usagef("unknown patient subcommand %q", sub)
}

func (r *runner) printChart(c *app.Chart) {
	w := r.io.Out
	p := c.Patient
	fmt.Fprintf(w, "mrn: %s\nname: %s\ndob: %s\n", p.MRN, p.Name(), p.DOB)
	// "phone:" is the mobile (the line scripts already read).
	sms := ""
	if p.Phone != "" {
		sms = "no"
		if p.SMSConsent {
			sms = "yes"
		}
	}
	for _, f := range []struct{ k, v string }{{"sex", p.Sex}, {"phone", p.Phone}, {"sms reminders", sms}, {"home phone", p.Phone2},
		{"email", p.Email}, {"address", p.Address}, {"postcode", p.Postcode}, {"national number", p.NationalNumber}, {"language", p.Language},
		{"insurance", p.Insurance}, {"emergency contact", p.EmergencyContact}} {
		if f.v != "" {
			fmt.Fprintf(w, "%s: %s\n", f.k, f.v)
		}
	}
	if p.Archived {
		fmt.Fprintln(w, "status: archived")
	}
	for _, a := range c.Appointments {
		fmt.Fprintf(w, "appointment: %s %d min with %s (%s) %s\n", a.Start.Local().Format("2006-01-02 15:04"), a.Minutes, a.ClinicianName, a.Status, a.Reason)
	}
	if !c.Clinical {
		return
	}
	for _, a := range c.Allergies {
		fmt.Fprintf(w, "allergy: %s; %s; %s\n", a.Substance, a.Reaction, a.Severity)
	}
	for _, pr := range c.Problems {
		fmt.Fprintf(w, "problem: %s %s (%s, since %s)\n", pr.Description, pr.ICD10, pr.Status, pr.Onset)
	}
	for _, m := range c.Medications {
		fmt.Fprintf(w, "medication: %s %s %s %s\n", m.Name, m.Dose, m.Route, m.Frequency)
	}
	for _, v := range c.Vitals {
		fmt.Fprintf(w, "vitals: %s %s\n", v.TakenAt.Local().Format("2006-01-02 15:04"), v.Summary())
	}
	for _, e := range c.Encounters {
		state := "draft"
		if e.Signed() {
			state = "signed by " + e.SignedBy
		}
		fmt.Fprintf(w, "encounter: %s %s with %s (%s)\n", e.ID, e.SeenAt.Local().Format("2006-01-02 15:04"), e.Clinician, state)
		for _, f := range []struct{ k, v string }{{"S", e.Subjective}, {"O", e.Objective}, {"A", e.Assessment}, {"P", e.Plan}} {
			if f.v != "" {
				fmt.Fprintf(w, "  %s: %s\n", f.k, strings.ReplaceAll(f.v, "\n", "\n     "))
			}
		}
		for _, a := range e.Addenda {
			fmt.Fprintf(w, "  addendum %s by %s: %s\n", a.Created.Local().Format("2006-01-02 15:04"), a.Author, a.Text)
		}
	}
	for _, d := range c.Documents {
		fmt.Fprintf(w, "document: %s %s (%s, %d bytes)\n", d.ID, d.Title, d.MIME, d.Size)
	}
}

func (r *runner) cmdEncounter(args []string) error {
	if len(args) == 0 || args[0] != "add" {
		return usagef("usage: %s", commands["encounter"].usage)
	}
	fs := flag.NewFlagSet("encounter add", flag.ContinueOnError)
	var note app.SOAP
	fs.StringVar(&note.Subjective, "subjective", "", "S: what the patient reports")
	fs.StringVar(&note.Objective, "objective", "", "O: findings")
	fs.StringVar(&note.Assessment, "assessment", "", "A: assessment")
	fs.StringVar(&note.Plan, "plan", "", "P: plan")
	sign := fs.Bool("sign", false, "sign the encounter off at once")
	pos, err := parse(fs, args[1:], 1, 1)
	if err != nil {
		return err
	}
	s, err := r.session()
	if err != nil {
		return err
	}
	e, err := s.AddEncounter(r.ctx, pos[0], note)
	if err != nil {
		return err
	}
	if *sign {
		if err := s.SignEncounter(r.ctx, pos[0], e.ID); err != nil {
			return err
		}
	}
	fmt.Fprintf(r.io.Out, "encounter: %s\n", e.ID)
	return nil
}

func parseOptInt(name, s string) (*int, error) {
	if s == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil, usagef("--%s takes a whole number, not %q", name, s)
	}
	return &n, nil
}

func parseOptFloat(name, s string) (*float64, error) {
	if s == "" {
		return nil, nil
	}
	f, err := strconv.ParseFloat(strings.Replace(s, ",", ".", 1), 64)
	if err != nil {
		return nil, usagef("--%s takes a number, not %q", name, s)
	}
	return &f, nil
}

func (r *runner) cmdVitals(args []string) error {
	if len(args) == 0 || args[0] != "add" {
		return usagef("usage: %s", commands["vitals"].usage)
	}
	fs := flag.NewFlagSet("vitals add", flag.ContinueOnError)
	bp := fs.String("bp", "", "blood pressure, as 120/80")
	pulse := fs.String("pulse", "", "pulse per minute")
	temp := fs.String("temp", "", "temperature in °C, or °F with F (100.4F)")
	weight := fs.String("weight", "", "weight in kg")
	height := fs.String("height", "", "height in cm")
	spo2 := fs.String("spo2", "", "oxygen saturation in %")
	pos, err := parse(fs, args[1:], 1, 1)
	if err != nil {
		return err
	}
	var v app.Vitals
	if *bp != "" {
		a, b, ok := strings.Cut(*bp, "/")
		if !ok {
			return usagef("--bp takes systolic/diastolic, as 120/80")
		}
		if v.Systolic, err = parseOptInt("bp", a); err != nil {
			return err
		}
		if v.Diastolic, err = parseOptInt("bp", b); err != nil {
			return err
		}
	}
	if v.Pulse, err = parseOptInt("pulse", *pulse); err != nil {
		return err
	}
	if v.SpO2, err = parseOptInt("spo2", *spo2); err != nil {
		return err
	}
	if *temp != "" {
		c, ok := app.ParseTemperature(*temp)
		if !ok {
			return usagef("--temp %q is not a temperature (37.9, or 100.4F)", *temp)
		}
		v.TempC = &c
	}

	if v.WeightKg, err = parseOptFloat("weight", *weight); err != nil {
		return err
	}
	if v.HeightCm, err = parseOptFloat("height", *height); err != nil {
		return err
	}
	s, err := r.session()
	if err != nil {
		return err
	}
	if err := s.AddVitals(r.ctx, pos[0], v); err != nil {
		return err
	}
	fmt.Fprintln(r.io.Out, "vitals recorded")
	return nil
}

func (r *runner) cmdAllergy(args []string) error {
	if len(args) == 0 || args[0] != "add" {
		return usagef("usage: %s", commands["allergy"].usage)
	}
	fs := flag.NewFlagSet("allergy add", flag.ContinueOnError)
	var a app.Allergy
	fs.StringVar(&a.Substance, "substance", "", "what the patient is allergic to")
	fs.StringVar(&a.Reaction, "reaction", "", "the reaction")
	fs.StringVar(&a.Severity, "severity", "", "mild, moderate or severe")
	pos, err := parse(fs, args[1:], 1, 1)
	if err != nil {
		return err
	}
	if a.Substance == "" {
		return usagef("allergy add needs --substance")
	}
	s, err := r.session()
	if err != nil {
		return err
	}
	if err := s.AddAllergy(r.ctx, pos[0], a); err != nil {
		return err
	}
	fmt.Fprintln(r.io.Out, "allergy recorded")
	return nil
}

func (r *runner) cmdMedication(args []string) error {
	if len(args) == 0 || args[0] != "add" {
		return usagef("usage: %s", commands["medication"].usage)
	}
	fs := flag.NewFlagSet("medication add", flag.ContinueOnError)
	var m app.Medication
	fs.StringVar(&m.Name, "name", "", "the medication")
	fs.StringVar(&m.Dose, "dose", "", "the dose")
	fs.StringVar(&m.Route, "route", "", "the route (oral, …)")
	fs.StringVar(&m.Frequency, "frequency", "", "how often")
	fs.StringVar(&m.Start, "start", "", "start date, YYYY-MM-DD")
	fs.StringVar(&m.Stop, "stop", "", "stop date, YYYY-MM-DD")
	fs.StringVar(&m.OverrideReason, "override-reason", "", "why to prescribe it despite a recorded allergy it conflicts with")
	pos, err := parse(fs, args[1:], 1, 1)
	if err != nil {
		return err
	}
	if m.Name == "" {
		return usagef("medication add needs --name")
	}
	s, err := r.session()
	if err != nil {
		return err
	}
	err = s.AddMedication(r.ctx, pos[0], m)
	var conflict *app.AllergyConflictError
	if errors.As(err, &conflict) {
		for _, c := range conflict.Conflicts {
			fmt.Fprintf(r.io.Out, "allergy: %s\n", c)
		}
		return fmt.Errorf("%s was not recorded: it conflicts with a recorded allergy; if it is right all the same, say why with --override-reason: %w", m.Name, app.ErrAllergyConflict)
	}
	if err != nil {
		return err
	}
	if m.OverrideReason != "" {
		fmt.Fprintln(r.io.Out, "medication recorded (allergy warning overridden, with the reason given)")
		return nil
	}
	fmt.Fprintln(r.io.Out, "medication recorded")
	return nil
}

func (r *runner) cmdAppointment(args []string) error {
	if len(args) == 0 {
		return usagef("usage: %s", commands["appointment"].usage)
	}
	switch args[0] {
	case "add":
		fs := flag.NewFlagSet("appointment add", flag.ContinueOnError)
		at := fs.String("at", "", `start, "YYYY-MM-DD HH:MM" local time`)
		minutes := fs.Int("minutes", 15, "length in minutes")
		clinician := fs.String("clinician", "", "clinician's name")
		reason := fs.String("reason", "", "reason for the visit")
		pos, err := parse(fs, args[1:], 1, 1)
		if err != nil {
			return err
		}
		start, err := time.ParseInLocation("2006-01-02 15:04", *at, time.Local)
		if err != nil {
			return usagef(`--at takes "YYYY-MM-DD HH:MM", not %q`, *at)
		}
		if *clinician == "" {
			return usagef("appointment add needs --clinician")
		}
		s, err := r.session()
		if err != nil {
			return err
		}
		a, warnings, err := s.BookAppointment(r.ctx, pos[0], start, *minutes, *clinician, *reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(r.io.Out, "appointment: %s\n", a.ID)
		for _, w := range warnings {
			fmt.Fprintf(r.io.Err, "warning: %s\n", w)
		}
		return nil
	case "list":
		fs := flag.NewFlagSet("appointment list", flag.ContinueOnError)
		day := fs.String("day", "", "YYYY-MM-DD (default: today)")
		if _, err := parse(fs, args[1:], 0, 0); err != nil {
			return err
		}
		d := r.now()
		if *day != "" {
			var err error
			if d, err = time.ParseInLocation("2006-01-02", *day, time.Local); err != nil {
				return usagef("--day takes YYYY-MM-DD, not %q", *day)
			}
		}
		s, err := r.session()
		if err != nil {
			return err
		}
		list, err := s.Day(r.ctx, d)
		if err != nil {
			return err
		}
		for _, a := range list {
			fmt.Fprintf(r.io.Out, "%s\t%s\t%d min\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Start.Local().Format("15:04"), a.Minutes, a.ClinicianName,
				a.PatientMRN, a.PatientName, a.Status, a.Reason, a.CancelReason)
		}
		return nil
	case "move":
		fs := flag.NewFlagSet("appointment move", flag.ContinueOnError)
		at := fs.String("at", "", `new start, "YYYY-MM-DD HH:MM" local time`)
		minutes := fs.Int("minutes", 0, "new length in minutes (default: as it is)")
		clinician := fs.String("clinician", "", "another clinician's name (default: as it is)")
		pos, err := parse(fs, args[1:], 1, 1)
		if err != nil {
			return err
		}
		s, err := r.session()
		if err != nil {
			return err
		}
		a, err := s.AppointmentByID(r.ctx, pos[0])
		if err != nil {
			return err
		}
		start, n := a.Start, a.Minutes
		if *at != "" {
			if start, err = time.ParseInLocation("2006-01-02 15:04", *at, time.Local); err != nil {
				return usagef(`--at takes "YYYY-MM-DD HH:MM", not %q`, *at)
			}
		}
		if *minutes != 0 {
			n = *minutes
		}
		warnings, err := s.MoveAppointment(r.ctx, a.ID, start, n, *clinician)
		if err != nil {
			return err
		}
		moved, err := s.AppointmentByID(r.ctx, a.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(r.io.Out, "appointment %s: %s, %d min, with %s\n", a.ID, moved.Start.Local().Format("2006-01-02 15:04"), moved.Minutes, moved.ClinicianName)
		for _, w := range warnings {
			fmt.Fprintf(r.io.Err, "warning: %s\n", w)
		}
		return nil
	case "cancel":
		fs := flag.NewFlagSet("appointment cancel", flag.ContinueOnError)
		reason := fs.String("reason", "", "why it is cancelled (required)")
		pos, err := parse(fs, args[1:], 1, 1)
		if err != nil {
			return err
		}
		if strings.TrimSpace(*reason) == "" {
			return usagef("appointment cancel needs --reason")
		}
		s, err := r.session()
		if err != nil {
			return err
		}
		if err := s.CancelAppointment(r.ctx, pos[0], *reason); err != nil {
			return err
		}
		fmt.Fprintf(r.io.Out, "appointment %s: cancelled\n", pos[0])
		return nil
	case "status":
		pos, s, err := r.signedInWith("appointment status", args[1:], 2, 2)
		if err != nil {
			return err
		}
		if err := s.SetAppointmentStatus(r.ctx, pos[0], pos[1]); err != nil {
			return err
		}
		fmt.Fprintf(r.io.Out, "appointment %s: %s\n", pos[0], pos[1])
		return nil
	}
	return usagef("unknown appointment subcommand %q", args[0])
}

func (r *runner) cmdDemo(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	n := fs.Int("patients", 200, "how many synthetic patients")
	seed := fs.Uint64("seed", 1, "the same seed gives the same patients")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	s, err := r.session()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := s.Demo(r.ctx, *n, *seed, nil); err != nil {
		return err
	}
	fmt.Fprintf(r.io.Out, "demo: %d synthetic patients, today's appointments%s, in %s\n", *n,
		map[bool]string{true: " and charts", false: ""}[s.HasClinical()], time.Since(start).Round(time.Millisecond))
	return nil
}
