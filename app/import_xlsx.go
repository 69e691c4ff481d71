package app

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Reading a workbook's first sheet as a stream (#15, item 1). A workbook
// is a zip of XML parts; the sheet's part is decompressed and parsed as
// it is read, never unpacked whole (excelize, used before, held the
// unpacked sheet in memory: 512 MB for a 2 MB file made to unpack to
// that). What it holds: the packed file (to read it again, and its
// SHA-256), the shared strings (the sheet's distinct texts, in one block
// with an index) and one row. A hostile part is refused as soon as it
// shows itself: more rows than one import takes, more columns than Excel
// has, a cell longer than Excel allows, elements nested deeper than a
// sheet's, a run of text of megabytes.

// Limits of what a workbook may hold, after Excel's own (16,384 columns,
// 32,767 characters in a cell).
const (
	maxWorkbookFile   = 64 << 20  // the packed .xlsx file
	maxSharedStrings  = 128 << 20 // the shared strings part, unpacked
	maxSheetColumns   = 16384
	maxCellRunes      = 32767
	maxXMLDepth       = 16      // worksheet, sheetData, row, c, is, r, t: 7 in a real sheet
	maxXMLRun         = 4 << 20 // bytes between two '<': a cell's text escaped is under 1 MB
	relationshipsNS   = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
	officeDocumentRel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
)

// maxWorkbookBytes bounds what a workbook's parts may unpack to in all.
// Nothing of it is unpacked to disk (that would put the practice's
// patient list outside the vault), and the sheet is read as a stream, so
// this bounds time more than memory. A variable only so that a test can
// lower it.
var maxWorkbookBytes int64 = 512 << 20

// xlsxSource streams the first sheet of a workbook.
type xlsxSource struct {
	name  string
	raw   []byte // the packed file
	sum   [sha256.Size]byte
	sheet *zip.File
	// The shared strings, end to end, and where each ends.
	strText []byte
	strEnd  []uint32

	rc    io.ReadCloser
	dec   *xml.Decoder
	depth int
	rows  int // rows read, for the import's limit
	last  int // the last row's number
	cells []string
	// rowBytes is the text of the row's cells so far: at most
	// maxImportRecord (each cell naming a shared string is a copy of it:
	// 16,384 cells of 32,767 characters made a row of 2 GB).
	rowBytes int
}

func openXLSX(p string) (sheetSource, error) {
	name := filepath.Base(p)
	unreadable := func(why string, args ...any) error {
		return fmt.Errorf("%s "+why+": %w", append(append([]any{name}, args...), ErrUnreadableSheet)...)
	}
	f, err := openImportFile(p)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(f, maxWorkbookFile+1))
	f.Close()
	if err != nil {
		return nil, err
	}
	// An encrypted (password-protected) workbook is an OLE compound file,
	// not a zip: say so rather than "not a valid zip file".
	if bytes.HasPrefix(raw, []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}) {
		return nil, unreadable("is password-protected (or an old .xls file): remove the password, or save it as .xlsx, in the spreadsheet program and import again")
	}
	if len(raw) > maxWorkbookFile {
		return nil, fmt.Errorf("%s is larger than %d MB, more than one import takes: save it as CSV (or split it) and import that: %w", name, maxWorkbookFile>>20, ErrImportTooLarge)
	}
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		return nil, unreadable("is not a workbook (or is damaged): open it in the spreadsheet program, save it as .xlsx, and import again")
	}
	parts := map[string]*zip.File{}
	var total uint64
	for _, zf := range zr.File {
		parts[strings.ToLower(strings.TrimPrefix(strings.ReplaceAll(zf.Name, `\`, "/"), "/"))] = zf
		total += zf.UncompressedSize64
	}
	if total > uint64(maxWorkbookBytes) {
		return nil, unreadable("unpacks to more than %d MB, more than ClinicVault reads at once: save it as CSV (or split it) and import that", maxWorkbookBytes>>20)
	}
	book, err := xlsxWorkbookPart(parts)
	if err != nil {
		return nil, unreadable("is not a workbook: %v", err)
	}
	sheet, err := xlsxFirstSheet(parts, book)
	if err != nil {
		return nil, unreadable("%v", err)
	}
	x := &xlsxSource{name: name, raw: raw, sum: sha256.Sum256(raw), sheet: sheet}
	if ss := parts[strings.ToLower(path.Join(path.Dir(book), "sharedStrings.xml"))]; ss != nil {
		if ss.UncompressedSize64 > maxSharedStrings {
			return nil, unreadable("holds more than %d MB of text, more than ClinicVault reads at once: save it as CSV (or split it) and import that", maxSharedStrings>>20)
		}
		if err := x.readSharedStrings(ss); err != nil {
			return nil, unreadable("cannot be read: its text is damaged (%v)", err)
		}
	}
	if err := x.rewind(); err != nil {
		return nil, err
	}
	return x, nil
}

// xlsxWorkbookPart is the workbook part's name, from the package's
// relationships (xl/workbook.xml when they do not say).
func xlsxWorkbookPart(parts map[string]*zip.File) (string, error) {
	rels, err := xlsxRelationships(parts["_rels/.rels"], "")
	if err != nil {
		return "", err
	}
	for _, r := range rels {
		if r.Type == officeDocumentRel {
			return strings.ToLower(r.Target), nil
		}
	}
	if parts["xl/workbook.xml"] != nil {
		return "xl/workbook.xml", nil
	}
	return "", errors.New("it has no workbook part")
}

type xlsxRel struct{ ID, Type, Target string }

// xlsxRelationships reads a relationships part, with targets resolved
// from dir.
func xlsxRelationships(zf *zip.File, dir string) ([]xlsxRel, error) {
	if zf == nil {
		return nil, nil
	}
	var doc struct {
		Rels []struct {
			ID     string `xml:"Id,attr"`
			Type   string `xml:"Type,attr"`
			Target string `xml:"Target,attr"`
		} `xml:"Relationship"`
	}
	if err := xlsxDecodeSmall(zf, &doc); err != nil {
		return nil, err
	}
	var out []xlsxRel
	for _, r := range doc.Rels {
		t := r.Target
		if strings.HasPrefix(t, "/") {
			t = strings.TrimPrefix(t, "/")
		} else {
			t = path.Join(dir, t)
		}
		out = append(out, xlsxRel{r.ID, r.Type, t})
	}
	return out, nil
}

// xlsxFirstSheet is the part of the workbook's first sheet.
func xlsxFirstSheet(parts map[string]*zip.File, book string) (*zip.File, error) {
	var doc struct {
		Sheets []struct {
			Name string     `xml:"name,attr"`
			Attr []xml.Attr `xml:",any,attr"`
		} `xml:"sheets>sheet"`
	}
	if parts[book] == nil {
		return nil, errors.New("has no workbook part")
	}
	if err := xlsxDecodeSmall(parts[book], &doc); err != nil {
		return nil, fmt.Errorf("is damaged: %v", err)
	}
	if len(doc.Sheets) == 0 {
		return nil, errors.New("has no sheet")
	}
	id := ""
	for _, a := range doc.Sheets[0].Attr {
		if a.Name.Local == "id" && a.Name.Space == relationshipsNS {
			id = a.Value
		}
	}
	dir := path.Dir(book)
	rels, err := xlsxRelationships(parts[path.Join(dir, "_rels", path.Base(book)+".rels")], dir)
	if err != nil {
		return nil, fmt.Errorf("is damaged: %v", err)
	}
	for _, r := range rels {
		if r.ID == id {
			if zf := parts[strings.ToLower(r.Target)]; zf != nil {
				return zf, nil
			}
		}
	}
	return nil, fmt.Errorf("has no part for its sheet %q", doc.Sheets[0].Name)
}

// xlsxDecodeSmall decodes a part of the package's own (relationships,
// the workbook's list of sheets), refusing one over 4 MB.
func xlsxDecodeSmall(zf *zip.File, v any) error {
	if zf.UncompressedSize64 > 4<<20 {
		return fmt.Errorf("%s is larger than a workbook's", zf.Name)
	}
	rc, err := zf.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	return xml.NewDecoder(rc).Decode(v)
}

// readSharedStrings reads the shared strings part: each <si>'s text (its
// <t>, or the <t> of its runs <r>, not the phonetic <rPh>).
func (x *xlsxSource) readSharedStrings(zf *zip.File) error {
	rc, err := zf.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	dec := xml.NewDecoder(bufio.NewReaderSize(&xmlRunGuard{r: rc}, 64<<10))
	depth, inSI, inT, phonetic := 0, false, false, 0
	start := 0
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth++; depth > maxXMLDepth {
				return errors.New("elements nested too deep")
			}
			switch t.Name.Local {
			case "si":
				inSI, start = true, len(x.strText)
			case "rPh":
				phonetic++
			case "t":
				inT = inSI && phonetic == 0
			}
		case xml.EndElement:
			depth--
			switch t.Name.Local {
			case "si":
				if utf8.RuneCount(x.strText[start:]) > maxCellRunes {
					return fmt.Errorf("a text of more than %d characters", maxCellRunes)
				}
				inSI = false
				x.strEnd = append(x.strEnd, uint32(len(x.strText)))
			case "rPh":
				phonetic--
			case "t":
				inT = false
			}
		case xml.CharData:
			if inT {
				x.strText = append(x.strText, t...)
			}
		}
	}
}

func (x *xlsxSource) sharedString(i int) (string, bool) {
	if i < 0 || i >= len(x.strEnd) {
		return "", false
	}
	start := uint32(0)
	if i > 0 {
		start = x.strEnd[i-1]
	}
	return string(x.strText[start:x.strEnd[i]]), true
}

func (x *xlsxSource) rewind() error {
	if x.rc != nil {
		x.rc.Close()
	}
	rc, err := x.sheet.Open()
	if err != nil {
		return fmt.Errorf("%s: its sheet cannot be read: %v: %w", x.name, err, ErrUnreadableSheet)
	}
	x.rc = rc
	x.dec = xml.NewDecoder(bufio.NewReaderSize(&xmlRunGuard{r: rc}, 64<<10))
	x.depth, x.rows, x.last = 0, 0, 0
	return nil
}

func (x *xlsxSource) digest() [sha256.Size]byte { return x.sum }

func (x *xlsxSource) close() error {
	if x.rc != nil {
		return x.rc.Close()
	}
	return nil
}

// next reads the sheet's next <row>: its cells by column (those it does
// not hold are empty), raw values (a date stored as an Excel number is
// that number), shared strings looked up.
func (x *xlsxSource) next() ([]string, int, error) {
	var (
		inRow, inValue, inInline bool
		cellType                 string
		col, nextCol             int
		value                    []byte
	)
	damaged := func(why string, args ...any) error {
		row := x.last + 1
		if inRow {
			row = x.last
		}
		return fmt.Errorf("%s: row %d: "+why+": %w", append(append([]any{x.name, row}, args...), ErrUnreadableSheet)...)
	}
	for {
		tok, err := x.dec.RawToken() // no namespace work: only local names are read
		if err == io.EOF {
			return nil, 0, io.EOF
		}
		if err != nil {
			return nil, 0, damaged("the sheet is damaged (%v)", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if x.depth++; x.depth > maxXMLDepth {
				return nil, 0, damaged("the sheet's elements are nested too deep")
			}
			switch t.Name.Local {
			case "row":
				if x.rows++; x.rows > maxImportRows {
					return nil, 0, fmt.Errorf("%s has more than %d rows, more than one import takes: split it: %w", x.name, maxImportRows, ErrImportTooLarge)
				}
				inRow, nextCol, x.cells, x.rowBytes = true, 0, x.cells[:0], 0
				row := x.last + 1
				if r := xmlAttr(t, "r"); r != "" {
					n, err := strconv.Atoi(r)
					if err != nil || n <= x.last || n > 1<<20 {
						return nil, 0, damaged("its number %q is not after the row before", r)
					}
					row = n
				}
				x.last = row
			case "c":
				if !inRow {
					continue
				}
				col = nextCol
				if ref := xmlAttr(t, "r"); ref != "" {
					c, ok := columnOf(ref)
					if !ok {
						return nil, 0, damaged("a cell is named %q", ref)
					}
					col = c
				}
				if col >= maxSheetColumns {
					return nil, 0, damaged("it has more than %d columns", maxSheetColumns)
				}
				nextCol = col + 1
				cellType, value = xmlAttr(t, "t"), value[:0]
			case "v":
				inValue = inRow
			case "is":
				inInline = inRow
			case "t":
				inValue = inInline
			case "rPh":
				inInline = false // phonetic runs are not the text
			}
		case xml.EndElement:
			x.depth--
			switch t.Name.Local {
			case "v", "t":
				inValue = false
			case "is":
				inInline = false
			case "c":
				if !inRow {
					continue
				}
				text := string(value)
				if cellType == "s" {
					i, err := strconv.Atoi(strings.TrimSpace(text))
					s, ok := x.sharedString(i)
					if err != nil || !ok {
						return nil, 0, damaged("a cell names shared text %q that the workbook does not have", text)
					}
					text = s
				}
				if utf8.RuneCountInString(text) > maxCellRunes {
					return nil, 0, damaged("a cell holds more than %d characters", maxCellRunes)
				}
				if x.rowBytes += len(text); x.rowBytes > maxImportRecord {
					return nil, 0, fmt.Errorf("%s: row %d holds more than %d MB of text, more than a row of patients: %w", x.name, x.last, maxImportRecord>>20, ErrImportTooLarge)
				}
				for len(x.cells) < col {
					x.cells = append(x.cells, "")
				}
				if col < len(x.cells) {
					x.cells[col] = text // the same cell twice: the last
				} else {
					x.cells = append(x.cells, text)
				}
			case "row":
				return append([]string(nil), x.cells...), x.last, nil
			}
		case xml.CharData:
			if inValue {
				if len(value)+len(t) > 4*maxCellRunes+16 {
					return nil, 0, damaged("a cell holds more than %d characters", maxCellRunes)
				}
				value = append(value, t...)
			}
		}
	}
}

func xmlAttr(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if a.Name.Local == name && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

// columnOf is the column index (A is 0) of a cell reference like "AB12".
func columnOf(ref string) (int, bool) {
	col, i := 0, 0
	for ; i < len(ref); i++ {
		c := ref[i] | 0x20 // lower case
		if c < 'a' || c > 'z' {
			break
		}
		if col = col*26 + int(c-'a'+1); col > maxSheetColumns {
			return col, true // refused by the caller as too many columns
		}
	}
	if i == 0 {
		return 0, false
	}
	return col - 1, true
}

// xmlRunGuard refuses XML with more than maxXMLRun bytes between two
// '<': a text or attribute that long is no sheet's, and encoding/xml
// would hold all of it at once.
type xmlRunGuard struct {
	r   io.Reader
	run int
}

func (g *xmlRunGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	for b := p[:n]; len(b) > 0; {
		i := bytes.IndexByte(b, '<')
		if i < 0 {
			g.run += len(b)
			break
		}
		g.run, b = 0, b[i+1:]
	}
	if g.run > maxXMLRun {
		return 0, fmt.Errorf("a run of more than %d MB of text", maxXMLRun>>20)
	}
	return n, err
}
