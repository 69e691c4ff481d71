package app

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	xunicode "golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Reading a sheet as a stream of records (#15, item 1). The preview reads
// the file once (twice when the dates decide their own order) and keeps
// counts, the first rows and the refusals; the import reads it again,
// row by row into the bulk writer, and commits only if the bytes it read
// are the ones previewed (their SHA-256). No list of every row is held:
// what an import holds grows with the practice, not with the sheet.

// ErrImportFileChanged means the sheet or bundle is not what was
// previewed: it changed (or was replaced) after the preview. Nothing of
// it was imported. It is an ErrUnreadableSheet.
var ErrImportFileChanged = fmt.Errorf("the file changed after it was previewed: %w", ErrUnreadableSheet)

// sheetSource yields a sheet's records in order, with the row number a
// spreadsheet program shows (the header is row 1). A CSV row that does
// not parse comes back as a *csv.ParseError with no record; the end is
// io.EOF, after which digest is the SHA-256 of every byte of the file.
type sheetSource interface {
	next() (rec []string, row int, err error)
	digest() [sha256.Size]byte
	// rewind starts again from the first record, reading the file again
	// (a workbook is not unpacked twice).
	rewind() error
	close() error
}

// openSheet opens a CSV or XLSX sheet for reading, with the encoding its
// text is read in.
func openSheet(path string) (sheetSource, TextEncoding, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv", ".txt":
		return openCSV(path)
	case ".xlsx", ".xlsm":
		src, err := openXLSX(path)
		return src, EncodingUTF8, err // a workbook's text is XML's, decoded by its reader
	}
	return nil, "", fmt.Errorf("%s: only .csv and .xlsx sheets (and .json FHIR bundles) can be imported: %w", filepath.Base(path), ErrUnreadableSheet)
}

// maxCSVLine bounds a line of a CSV sheet: encoding/csv holds a whole
// record at once, so a file of one endless line would be held whole. A
// spreadsheet program's longest cell is 32,767 characters.
const maxCSVLine = 4 << 20

// csvSource reads a CSV file through its encoding's decoder.
type csvSource struct {
	f    *os.File
	name string
	enc  TextEncoding
	bom  int
	h    hash.Hash
	r    *csv.Reader
	rows int
}

func openCSV(path string) (sheetSource, TextEncoding, error) {
	enc, bom, err := detectCSVEncoding(path)
	if err != nil {
		return nil, "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	c := &csvSource{f: f, name: filepath.Base(path), enc: enc, bom: bom}
	if err := c.start(); err != nil {
		f.Close()
		return nil, "", err
	}
	return c, enc, nil
}

// start reads the file from its first byte.
func (c *csvSource) start() error {
	if _, err := c.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	c.h = sha256.New()
	raw := bufio.NewReaderSize(io.TeeReader(c.f, c.h), 64<<10)
	if _, err := raw.Discard(c.bom); err != nil {
		return err
	}
	var text io.Reader = raw
	switch c.enc {
	case EncodingUTF16LE:
		// Unpaired surrogates become U+FFFD, which the preview shows by row.
		text = transform.NewReader(raw, xunicode.UTF16(xunicode.LittleEndian, xunicode.IgnoreBOM).NewDecoder())
	case EncodingUTF16BE:
		text = transform.NewReader(raw, xunicode.UTF16(xunicode.BigEndian, xunicode.IgnoreBOM).NewDecoder())
	case EncodingWindows1252:
		text = transform.NewReader(raw, charmap.Windows1252.NewDecoder())
	}
	br := bufio.NewReaderSize(&lineGuard{r: text, name: c.name}, 64<<10)
	head, _ := br.Peek(64 << 10)
	firstLine, _, _ := bytes.Cut(head, []byte("\n"))
	sep := ','
	if bytes.Count(firstLine, []byte(";")) > bytes.Count(firstLine, []byte(",")) {
		sep = ';'
	}
	if bytes.Count(firstLine, []byte("\t")) > bytes.Count(firstLine, []byte(string(sep))) {
		sep = '\t'
	}
	c.r = csv.NewReader(br)
	c.r.Comma = sep
	c.r.FieldsPerRecord = -1
	c.rows = 0
	return nil
}

// lineGuard refuses text with a line longer than maxCSVLine.
type lineGuard struct {
	r    io.Reader
	name string
	run  int
	line int
}

func (g *lineGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	for b := p[:n]; len(b) > 0; {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			g.run += len(b)
			break
		}
		g.run, g.line, b = 0, g.line+1, b[i+1:]
	}
	if g.run > maxCSVLine {
		return 0, fmt.Errorf("%s: line %d is longer than %d MB, which no sheet of patients has: %w", g.name, g.line+1, maxCSVLine>>20, ErrUnreadableSheet)
	}
	return n, err
}

func (c *csvSource) rewind() error { return c.start() }

func (c *csvSource) next() ([]string, int, error) {
	if c.rows++; c.rows > maxImportRows+1 { // and the header
		return nil, 0, fmt.Errorf("%s has more than %d rows, more than one import takes: split it: %w", c.name, maxImportRows, ErrImportTooLarge)
	}
	rec, err := c.r.Read()
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return nil, pe.StartLine, pe
	}
	if err != nil {
		return nil, 0, err
	}
	line, _ := c.r.FieldPos(0) // a record read without error has a field 0
	return rec, line, nil
}

func (c *csvSource) digest() (d [sha256.Size]byte) {
	io.Copy(c.h, c.f) // whatever the reader had not asked for (nothing, at the end)
	c.h.Sum(d[:0])
	return d
}

func (c *csvSource) close() error { return c.f.Close() }

// detectCSVEncoding decides how a CSV file's bytes are read, reading it
// as a stream: a byte-order mark says (UTF-8, UTF-16 LE or BE; bom is its
// length); else NUL bytes at every other place mean UTF-16; else valid
// UTF-8 is UTF-8; else Windows-1252 when the text it gives is plausible.
// What is none of them is an *EncodingError, worded by decodeSheetText
// from the file up to a little past the first byte that is not read.
func detectCSVEncoding(path string) (enc TextEncoding, bom int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(4096)
	switch {
	case bytes.HasPrefix(head, []byte("\xef\xbb\xbf")):
		enc, bom = EncodingUTF8, 3
	case bytes.HasPrefix(head, []byte("\xff\xfe\x00\x00")), bytes.HasPrefix(head, []byte("\x00\x00\xfe\xff")):
		return "", 0, notText(filepath.Base(path), head, 0, "UTF-32")
	case bytes.HasPrefix(head, []byte("\xff\xfe")):
		return EncodingUTF16LE, 2, nil
	case bytes.HasPrefix(head, []byte("\xfe\xff")):
		return EncodingUTF16BE, 2, nil
	}
	if enc == "" {
		if e, ok := utf16WithoutBOM(head); ok {
			return map[xunicode.Endianness]TextEncoding{xunicode.LittleEndian: EncodingUTF16LE, xunicode.BigEndian: EncodingUTF16BE}[e], 0, nil
		}
	}
	// One pass for NULs and UTF-8 validity, noting the offset where each
	// stops; a second for Windows-1252 only when the text is not UTF-8.
	br.Discard(bom)
	var (
		off         int64
		nulAt, bad8 int64  = -1, -1
		carry       []byte // the start of a character cut by the buffer
		chunk       = make([]byte, 64<<10)
	)
	for nulAt < 0 {
		copy(chunk, carry)
		n, rerr := io.ReadFull(br, chunk[len(carry):])
		buf := chunk[:len(carry)+n]
		start := off - int64(len(carry))
		end := len(buf)
		if rerr == nil { // not the end: keep back a character cut in two
			for k := 1; k <= utf8.UTFMax && k <= len(buf); k++ {
				if utf8.RuneStart(buf[len(buf)-k]) {
					if !utf8.FullRune(buf[len(buf)-k:]) {
						end = len(buf) - k
					}
					break
				}
			}
		}
		part := buf[:end]
		if i := bytes.IndexByte(part, 0); i >= 0 {
			nulAt = start + int64(i)
		}
		if bad8 < 0 && !utf8.Valid(part) {
			bad8 = start + int64(firstInvalidUTF8(part))
		}
		off = start + int64(len(buf))
		carry = append(carry[:0], buf[end:]...)
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return "", 0, rerr
		}
	}
	if nulAt < 0 && bad8 < 0 {
		return EncodingUTF8, bom, nil
	}
	bad1252 := int64(-1)
	if nulAt < 0 && enc == "" {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return "", 0, err
		}
		if bad1252, err = implausible1252Stream(bufio.NewReaderSize(f, 64<<10)); err != nil {
			return "", 0, err
		}
		if bad1252 < 0 {
			return EncodingWindows1252, 0, nil
		}
	}
	// Not text it reads: word it from the file up to a little past where.
	upTo := max(nulAt, bad8, bad1252) + 1<<20 // -1 for what was not looked for
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", 0, err
	}
	prefix, err := io.ReadAll(io.LimitReader(f, upTo))
	if err != nil {
		return "", 0, err
	}
	if _, _, err := decodeSheetText(path, prefix); err != nil {
		return "", 0, err
	}
	at := max(nulAt, bad8)
	return "", 0, notText(filepath.Base(path), prefix, int(min(at, int64(len(prefix)))), "")
}
