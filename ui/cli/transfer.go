package cli

import (
	"flag"
	"fmt"

	"github.com/clinicvault/clinicvault/app"
)

func (r *runner) cmdImport(args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	skip := fs.Bool("skip-invalid", false, "import the valid rows and skip the refused ones")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	s, err := r.session()
	if err != nil {
		return err
	}
	plan, err := s.PlanImport(r.ctx, pos[0])
	if err != nil {
		return err
	}
	for _, h := range plan.Unmapped {
		fmt.Fprintf(r.io.Err, "note: column %q is not imported\n", h)
	}
	n, err := s.Import(r.ctx, plan, *skip, nil)
	fmt.Fprintf(r.io.Out, "imported: %d\nrefused: %d\n", n, len(plan.Refused))
	for _, row := range plan.Refused {
		fmt.Fprintf(r.io.Out, "row %d: %s\n", row.Row, row.Problem)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(r.io.Err, app.DeleteSheetAdvice)
	return nil
}
