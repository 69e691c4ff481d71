package cli

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/clinicvault/clinicvault/app"
)

// errAttention is returned by security report when an item needs
// attention: exit status 1, after the report is printed.
type errAttention struct{ n int }

func (e errAttention) Error() string {
	return fmt.Sprintf("%d item(s) need attention", e.n)
}

func (r *runner) cmdSecurity(args []string) error {
	if len(args) == 0 || args[0] != "report" {
		return usagef("usage: %s", commands["security"].usage)
	}
	s, err := r.signedIn("security report", args[1:], 0, 0)
	if err != nil {
		return err
	}
	items, err := s.SecurityReport(r.ctx)
	if err != nil {
		return err
	}
	n := 0
	for _, i := range items {
		fmt.Fprintf(r.io.Out, "%s\t%s\t%s\t%s\n", i.ID, i.Status, i.Title, i.Detail)
		if i.Status == "attention" {
			n++
		}
	}
	if n > 0 {
		return errAttention{n}
	}
	return nil
}

func (r *runner) cmdAccess(args []string) error {
	if len(args) == 0 || args[0] != "review" {
		return usagef("usage: %s", commands["access"].usage)
	}
	fs := flag.NewFlagSet("access review", flag.ContinueOnError)
	out := fs.String("out", "", "file to write the encrypted review to")
	passFile := fs.String("encrypt-passphrase-file", "", "encrypt to the passphrase in this file ('-' = standard input)")
	recipient := fs.String("recipient", "", "encrypt to this age recipient (age1…)")
	if _, err := parse(fs, args[1:], 0, 0); err != nil {
		return err
	}
	if *out == "" {
		return usagef("access review needs --out FILE")
	}
	s, err := r.session()
	if err != nil {
		return err
	}
	pass := ""
	if *recipient == "" {
		if pass, err = r.newPassphrase(*passFile, "--encrypt-passphrase-file"); err != nil {
			return err
		}
	}
	f, err := app.CreateNew(*out)
	if err != nil {
		return fmt.Errorf("access review: %w", err)
	}
	if err := s.ExportAccessReview(r.ctx, f, pass, *recipient); err != nil {
		f.Close()
		os.Remove(*out)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(*out)
		return err
	}
	fmt.Fprintf(r.io.Out, "access review: %s (age-encrypted; open with any age tool)\n", *out)
	return nil
}

func (r *runner) cmdTraining(args []string) error {
	if len(args) == 0 {
		return usagef("usage: %s", commands["training"].usage)
	}
	switch args[0] {
	case "status":
		s, err := r.signedIn("training status", args[1:], 0, 0)
		if err != nil {
			return err
		}
		all, err := s.TrainingStatus(r.ctx)
		if err != nil {
			return err
		}
		for _, t := range all {
			for _, l := range t.Lessons {
				state := "due " + l.Due.Local().Format("2006-01-02")
				switch {
				case l.Overdue:
					state = "OVERDUE since " + l.Due.Local().Format("2006-01-02")
				case !l.Passed.IsZero():
					state = "passed " + l.Passed.Local().Format("2006-01-02") + ", due " + l.Due.Local().Format("2006-01-02")
				}
				fmt.Fprintf(r.io.Out, "%s\t%s\t%s\n", t.User.Name, l.Lesson, state)
			}
		}
		return nil
	case "show":
		pos, err := parse(flag.NewFlagSet("training show", flag.ContinueOnError), args[1:], 1, 1)
		if err != nil {
			return err
		}
		ls, err := app.Lessons()
		if err != nil {
			return err
		}
		for _, l := range ls {
			if l.ID == pos[0] {
				fmt.Fprintf(r.io.Out, "%s\n\n", l.Body)
				for i, q := range l.Question {
					fmt.Fprintf(r.io.Out, "%d. %s\n", i+1, q.Text)
					for j, o := range q.Options {
						fmt.Fprintf(r.io.Out, "   %d) %s\n", j+1, o)
					}
				}
				fmt.Fprintf(r.io.Out, "\nAnswer with: clinicvault training answer %s N,N,...\n", l.ID)
				return nil
			}
		}
		return usagef("no lesson %q (see 'clinicvault training list')", pos[0])
	case "list":
		ls, err := app.Lessons()
		if err != nil {
			return err
		}
		for _, l := range ls {
			fmt.Fprintf(r.io.Out, "%s\t%s\t%d min\n", l.ID, l.Title, l.Minutes)
		}
		return nil
	case "answer":
		pos, err := parse(flag.NewFlagSet("training answer", flag.ContinueOnError), args[1:], 2, 2)
		if err != nil {
			return err
		}
		var answers []int
		for _, a := range strings.Split(pos[1], ",") {
			n, err := strconv.Atoi(strings.TrimSpace(a))
			if err != nil || n < 1 {
				return usagef("answers are option numbers separated by commas, as 2,1,3")
			}
			answers = append(answers, n-1)
		}
		s, err := r.session()
		if err != nil {
			return err
		}
		res, err := s.SubmitQuiz(r.ctx, pos[0], answers)
		if err != nil {
			return err
		}
		verdict := "not passed (80% needed): read the lesson again and retry"
		if res.Passed {
			verdict = "passed"
		}
		fmt.Fprintf(r.io.Out, "score: %d%% (%d of %d) %s\n", res.Score, res.Correct, res.Total, verdict)
		return nil
	case "certificate":
		fs := flag.NewFlagSet("training certificate", flag.ContinueOnError)
		out := fs.String("out", "", "PDF file to write")
		if _, err := parse(fs, args[1:], 0, 0); err != nil {
			return err
		}
		if *out == "" {
			return usagef("training certificate needs --out FILE.pdf")
		}
		s, err := r.session()
		if err != nil {
			return err
		}
		b, err := s.TrainingCertificatePDF(r.ctx)
		if err != nil {
			return err
		}
		if err := app.WriteNew(*out, b); err != nil {
			return fmt.Errorf("training certificate: %w", err)
		}
		fmt.Fprintf(r.io.Out, "certificate: %s\n", *out)
		return nil
	}
	return usagef("unknown training subcommand %q", args[0])
}

func (r *runner) cmdChart(args []string) error {
	if len(args) == 0 {
		return usagef("usage: %s", commands["chart"].usage)
	}
	switch args[0] {
	case "restrict":
		fs := flag.NewFlagSet("chart restrict", flag.ContinueOnError)
		var names multi
		fs.Var(&names, "clinician", "another clinician who may open it (repeatable)")
		pos, err := parse(fs, args[1:], 1, 1)
		if err != nil {
			return err
		}
		s, err := r.session()
		if err != nil {
			return err
		}
		if err := s.RestrictChart(r.ctx, pos[0], names); err != nil {
			return err
		}
		fmt.Fprintf(r.io.Out, "chart %s restricted\n", pos[0])
		return nil
	case "unrestrict":
		pos, s, err := r.signedInWith("chart unrestrict", args[1:], 1, 1)
		if err != nil {
			return err
		}
		if err := s.UnrestrictChart(r.ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(r.io.Out, "chart %s unrestricted\n", pos[0])
		return nil
	case "emergency":
		fs := flag.NewFlagSet("chart emergency", flag.ContinueOnError)
		reason := fs.String("reason", "", "why you need this restricted chart now")
		pos, err := parse(fs, args[1:], 1, 1)
		if err != nil {
			return err
		}
		s, err := r.session()
		if err != nil {
			return err
		}
		c, err := s.OpenChartEmergency(r.ctx, pos[0], *reason)
		if err != nil {
			return err
		}
		fmt.Fprintln(r.io.Err, "emergency access recorded: an admin will review it")
		r.printChart(c)
		return nil
	}
	return usagef("unknown chart subcommand %q", args[0])
}

func (r *runner) cmdEmergency(args []string) error {
	if len(args) == 0 {
		return usagef("usage: %s", commands["emergency"].usage)
	}
	s, err := r.session()
	if err != nil {
		return err
	}
	switch args[0] {
	case "list":
		fs := flag.NewFlagSet("emergency list", flag.ContinueOnError)
		all := fs.Bool("all", false, "include reviewed ones")
		if _, err := parse(fs, args[1:], 0, 0); err != nil {
			return err
		}
		list, err := s.EmergencyAccesses(r.ctx, !*all)
		if err != nil {
			return err
		}
		for _, e := range list {
			state := "awaiting review"
			if !e.ReviewedAt.IsZero() {
				state = "reviewed by " + e.ReviewedBy + ": " + e.Note
			}
			fmt.Fprintf(r.io.Out, "%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.At.Local().Format(time.RFC3339), e.User, e.PatientMRN, e.Reason, state)
		}
		return nil
	case "review":
		fs := flag.NewFlagSet("emergency review", flag.ContinueOnError)
		note := fs.String("note", "", "what the review found")
		pos, err := parse(fs, args[1:], 1, 1)
		if err != nil {
			return err
		}
		if err := s.ReviewEmergencyAccess(r.ctx, pos[0], *note); err != nil {
			return err
		}
		fmt.Fprintf(r.io.Out, "reviewed: %s\n", pos[0])
		return nil
	}
	return usagef("unknown emergency subcommand %q", args[0])
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }
