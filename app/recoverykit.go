package app

import (
	"bytes"
	"fmt"
	"time"

	"github.com/go-pdf/fpdf"
)

// RecoveryKitPDF renders the recovery kit to print: the practice, the date
// and the recovery key, with what it is for and where to keep it. The PDF is
// written only where the user chooses; it is the one document that holds
// the key, so the text says to print it and delete the file.
func RecoveryKitPDF(practice, recoveryKey string, created time.Time) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle("ClinicVault recovery kit", true)
	pdf.SetCreator("ClinicVault", true)
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	pdf.AddPage()
	pdf.SetFont("Helvetica", "B", 20)
	pdf.CellFormat(0, 12, "ClinicVault recovery kit", "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 12)
	pdf.CellFormat(0, 8, tr("Practice: "+practice), "", 1, "L", false, 0, "")
	pdf.CellFormat(0, 8, "Created: "+created.Format("2 January 2006"), "", 1, "L", false, 0, "")
	pdf.Ln(6)
	pdf.SetFont("Courier", "B", 16)
	pdf.SetFillColor(240, 240, 240)
	pdf.CellFormat(0, 16, recoveryKey, "1", 1, "C", true, 0, "")
	pdf.Ln(6)
	pdf.SetFont("Helvetica", "", 11)
	for _, para := range []string{
		"This key opens the practice's vault as an admin when the only admin has forgotten their passphrase or lost the phone with their authenticator app. With it, an admin sets a new passphrase and enrolls a new authenticator.",
		"Anyone holding this key and a copy of the practice's files can read every record. Keep it like the key to the building's safe: on paper, in a locked place away from the computers, known to the practice owner.",
		"Print this page, then delete the PDF file and empty the recycle bin. Do not email it, photograph it, or store it in a cloud folder.",
		"To use it: ClinicVault sign-in screen, \"Use recovery key\", or on the command line: clinicvault recover --recovery-key-file FILE --admin NAME --new-passphrase-file FILE.",
	} {
		pdf.MultiCell(0, 6, tr(para), "", "L", false)
		pdf.Ln(3)
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("recovery kit: %w", err)
	}
	return buf.Bytes(), nil
}
