package app

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
)

// ExportFormat is what an export writes.
type ExportFormat string

// The export formats.
const (
	FormatFHIR ExportFormat = "fhir"
	FormatCSV  ExportFormat = "csv"
)

// ExportOptions say what to export and how to protect it. Exactly one of
// Passphrase, Recipient or Plaintext must be set; Plaintext is for when
// someone explicitly asks for an unencrypted file, and is audited as such.
type ExportOptions struct {
	Format     ExportFormat
	MRN        string // one patient; empty for the whole practice
	Passphrase string
	Recipient  string // an age recipient, age1…
	Plaintext  bool
}

// Export writes patients (with their charts, for clinicians) as a FHIR R4
// Bundle or CSV, encrypted with age unless Plaintext is asked for. It
// returns how many patients it wrote.
func (s *Session) Export(ctx context.Context, w io.Writer, o ExportOptions) (int, error) {
	if err := s.require(); err != nil {
		return 0, err
	}
	set := 0
	for _, b := range []bool{o.Passphrase != "", o.Recipient != "", o.Plaintext} {
		if b {
			set++
		}
	}
	if set != 1 {
		return 0, fmt.Errorf("choose one: a passphrase, an age recipient, or an explicit plaintext export: %w", ErrUsage)
	}
	// Patient data in the clear leaves the vault only on an admin's
	// decision; everyone else exports encrypted.
	if o.Plaintext && s.User().Role != Admin {
		return 0, fmt.Errorf("an export without encryption is an admin's decision; export with a passphrase or a recipient key instead: %w", ErrNotPermitted)
	}
	if o.Format != FormatFHIR && o.Format != FormatCSV {
		return 0, fmt.Errorf("format %q: use fhir or csv: %w", o.Format, ErrUsage)
	}
	out := w
	var closer io.Closer
	switch {
	case o.Passphrase != "":
		if err := s.v.CheckPassphrase(o.Passphrase, s.User().Name, s.Practice()); err != nil {
			return 0, fmt.Errorf("the export passphrase: %w", err)
		}
		r, err := age.NewScryptRecipient(o.Passphrase)
		if err != nil {
			return 0, err
		}
		enc, err := age.Encrypt(w, r)
		if err != nil {
			return 0, err
		}
		out, closer = enc, enc
	case o.Recipient != "":
		r, err := age.ParseX25519Recipient(strings.TrimSpace(o.Recipient))
		if err != nil {
			return 0, fmt.Errorf("age recipient: %v: %w", err, ErrUsage)
		}
		enc, err := age.Encrypt(w, r)
		if err != nil {
			return 0, err
		}
		out, closer = enc, enc
	}
	// The export is written as it is read, a few hundred charts at a
	// time; on an error the age stream is left unfinished, which its
	// reader refuses as truncated.
	buf := bufio.NewWriterSize(out, 64<<10)
	n := 0
	var err error
	if o.Format == FormatCSV {
		cw := newPatientsCSV(buf)
		err = s.eachExportChart(ctx, o.MRN, false, func(c *Chart) error {
			n++
			return cw.write(&c.Patient)
		})
		if err == nil {
			err = cw.close()
		}
	} else {
		fw := newFHIRStream(buf, s.v.now())
		err = s.eachExportChart(ctx, o.MRN, true, func(c *Chart) error {
			n++
			return fw.add(c)
		})
		if err == nil {
			err = fw.close()
		}
	}
	if err == nil {
		err = buf.Flush()
	}
	if err != nil {
		return 0, err
	}
	if closer != nil {
		if err := closer.Close(); err != nil {
			return 0, err
		}
	}
	protection := "age-encrypted to a passphrase"
	switch {
	case o.Recipient != "":
		protection = "age-encrypted to " + o.Recipient
	case o.Plaintext:
		protection = "PLAINTEXT, explicitly requested"
	}
	scope := "whole practice"
	if o.MRN != "" {
		scope = o.MRN
	}
	return n, s.write(ctx, func(tx *sql.Tx) error {
		return audit(ctx, tx, s.v.now(), s.actor(), "export", scope, fmt.Sprintf("%s, %d patient(s), %s", o.Format, n, protection))
	})
}

// loadChartForExport reads a chart without auditing each view (the export
// itself is audited once).
func (s *Session) loadChartForExport(ctx context.Context, mrn string) (*Chart, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.patientByMRN(ctx, s.general, mrn)
	if err != nil {
		return nil, err
	}
	c := &Chart{Patient: p}
	if s.clinical != nil && s.user.Role.Clinical() {
		if err := s.mayOpenClinical(ctx, p.ID); err != nil {
			return c, nil // restricted: demographics only
		}
		ids, err := patientIDs(ctx, s.general, p.ID)
		if err != nil {
			return nil, err
		}
		c.Clinical = true
		if err := s.loadClinical(ctx, c, placeholders(len(ids)), anySlice(ids)); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// patientsCSV writes one row per patient: the fields patientTable gives
// an export header, in its order (a new field's column comes after the
// others: the columns of earlier exports keep their places). Yes/no
// fields are written yes or no.
type patientsCSV struct {
	cw   *csv.Writer
	cols []*patientField
	row  []string
}

func newPatientsCSV(w io.Writer) *patientsCSV {
	p := &patientsCSV{cw: csv.NewWriter(w)}
	var header []string
	for i := range patientTable {
		if f := &patientTable[i]; f.export != "" {
			p.cols, header = append(p.cols, f), append(header, f.export)
		}
	}
	p.row = make([]string, len(p.cols))
	p.cw.Write(header)
	return p
}

func (p *patientsCSV) write(pt *Patient) error {
	for i, f := range p.cols {
		switch v := f.value(pt).(type) {
		case string:
			p.row[i] = v
		case bool:
			p.row[i] = "no"
			if v {
				p.row[i] = "yes"
			}
		default:
			p.row[i] = fmt.Sprint(v)
		}
	}
	return p.cw.Write(p.row)
}

func (p *patientsCSV) close() error {
	p.cw.Flush()
	return p.cw.Error()
}
