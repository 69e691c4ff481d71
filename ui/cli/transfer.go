package cli

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/clinicvault/clinicvault/app"
)

func (r *runner) cmdImport(args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	skip := fs.Bool("skip-invalid", false, "import the valid rows and skip the refused ones")
	dateOrder := fs.String("date-order", "", "how dates like 02/03/1955 are written: dmy or mdy (default: decided from the column, else the practice's setting)")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	var opts app.ImportOptions
	switch strings.ToLower(*dateOrder) {
	case "":
	case "dmy":
		o := app.DayMonthYear
		opts.DateOrder = &o
	case "mdy":
		o := app.MonthDayYear
		opts.DateOrder = &o
	default:
		return usagef("--date-order is dmy or mdy")
	}
	s, err := r.session()
	if err != nil {
		return err
	}
	plan, err := s.PlanImportWith(r.ctx, pos[0], opts)
	if err != nil {
		return err
	}
	if plan.Encoding != "" && plan.Encoding != app.EncodingUTF8 {
		fmt.Fprintf(r.io.Err, "note: the file's text was read as %s\n", plan.Encoding)
	}
	for _, h := range plan.Unmapped {
		fmt.Fprintf(r.io.Err, "note: column %q is not imported\n", h)
	}
	order := "day first (dd/mm/yyyy)"
	if plan.DateOrder == app.MonthDayYear {
		order = "month first (mm/dd/yyyy)"
	}
	fmt.Fprintf(r.io.Err, "note: dates of birth read %s, from the %s (change with --date-order)\n", order, plan.DateOrderSource)
	n, err := s.Import(r.ctx, plan, *skip, nil)
	fmt.Fprintf(r.io.Out, "imported: %d\nrefused: %d\nalready registered: %d\n", n, plan.Count.Refused, plan.Count.Registered)
	for _, row := range plan.Refused {
		fmt.Fprintf(r.io.Out, "row %d: %s\n", row.Row, row.Problem)
	}
	if more := plan.Count.Refused - len(plan.Refused); more > 0 {
		fmt.Fprintf(r.io.Out, "refused rows not listed: %d\n", more)
	}
	for _, row := range plan.Registered {
		fmt.Fprintf(r.io.Out, "row %d: already registered as %s\n", row.Row, row.Existing)
	}
	if more := plan.Count.Registered - len(plan.Registered); more > 0 {
		fmt.Fprintf(r.io.Out, "already registered rows not listed: %d\n", more)
	}
	for _, list := range [][]app.ImportRow{plan.Rows, plan.Noted} {
		for _, row := range list {
			for _, w := range row.Warnings {
				fmt.Fprintf(r.io.Out, "row %d: warning: %s\n", row.Row, w)
			}
		}
	}
	for _, list := range [][]app.ImportRow{plan.Rows, plan.Noted, plan.Registered, plan.Refused} {
		for _, row := range list {
			for _, w := range row.Suspicious {
				fmt.Fprintf(r.io.Out, "row %d: check: %s\n", row.Row, w)
			}
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(r.io.Err, app.DeleteSheetAdviceFor(plan, *skip))
	return nil
}

func (r *runner) cmdExport(args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	format := fs.String("format", "", "fhir or csv")
	out := fs.String("out", "", "file to write")
	mrn := fs.String("patient", "", "one patient's MRN (default: the whole practice)")
	passFile := fs.String("encrypt-passphrase-file", "", "encrypt with age to the passphrase in this file ('-' = standard input)")
	recipient := fs.String("recipient", "", "encrypt with age to this recipient (age1…)")
	plaintext := fs.Bool("plaintext", false, "write it unencrypted (audited; only when you must)")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *out == "" || (*format != "fhir" && *format != "csv") {
		return usagef("export needs --format fhir|csv and --out FILE")
	}
	o := app.ExportOptions{Format: app.ExportFormat(*format), MRN: *mrn, Recipient: *recipient, Plaintext: *plaintext}
	s, err := r.session()
	if err != nil {
		return err
	}
	if *passFile != "" || (*recipient == "" && !*plaintext) {
		if o.Passphrase, err = r.newPassphrase(*passFile, "--encrypt-passphrase-file"); err != nil {
			return err
		}
	}
	if *plaintext {
		fmt.Fprintln(r.io.Err, "warning: writing patient data UNENCRYPTED, as asked. This export is recorded in the audit log; delete the file as soon as it has been handed over.")
	}
	f, err := app.CreateNew(*out)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	n, err := s.Export(r.ctx, f, o)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(*out)
		return err
	}
	fmt.Fprintf(r.io.Out, "exported: %d patient(s) to %s\n", n, *out)
	return nil
}

func (r *runner) cmdPrint(args []string) error {
	fs := flag.NewFlagSet("print", flag.ContinueOnError)
	enc := fs.String("encounter", "", "the encounter's id")
	out := fs.String("out", "", "PDF file to write")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if *enc == "" || *out == "" {
		return usagef("print needs MRN --encounter ID --out FILE.pdf")
	}
	s, err := r.session()
	if err != nil {
		return err
	}
	// The file first: nothing is printed (and audited as printed) that
	// cannot be written where asked.
	f, err := app.CreateNew(*out)
	if err != nil {
		return fmt.Errorf("print: %w", err)
	}
	b, err := s.VisitSummaryPDF(r.ctx, pos[0], *enc)
	if err == nil {
		_, err = f.Write(b)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(*out)
		return err
	}
	fmt.Fprintf(r.io.Out, "printed: %s\n", *out)
	return nil
}
