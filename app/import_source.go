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

// csvSource reads a CSV file through its encoding's decoder.
type csvSource struct {
	name string
	f    *os.File
	enc  TextEncoding
	bom  int
	h    hash.Hash
	r    *csv.Reader
	br   *bufio.Reader // the decoded text the CSV reader reads
	// guard bounds the text read for one record; rows counts the
	// records (the header too), last is the last one's line.
	guard      *recordGuard
	rows, last int
}

func openCSV(path string) (sheetSource, TextEncoding, error) {
	enc, bom, err := detectCSVEncoding(path)
	if err != nil {
		return nil, "", err
	}
	f, err := openImportFile(path)
	if err != nil {
		return nil, "", err
	}
	c := &csvSource{name: filepath.Base(path), f: f, enc: enc, bom: bom}
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
	c.guard = &recordGuard{r: text, limit: maxImportRecord}
	c.rows, c.last = 0, 0
	br := bufio.NewReaderSize(c.guard, 64<<10)
	c.br = br
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
	return nil
}

func (c *csvSource) rewind() error { return c.start() }

func (c *csvSource) next() ([]string, int, error) {
	// The next record starts with what the buffer holds already.
	c.guard.start = c.guard.read - int64(c.br.Buffered())
	rec, err := c.r.Read()
	if errors.Is(err, errRecordTooLarge) {
		where := fmt.Sprintf("the row after line %d", c.last)
		if c.rows == 0 {
			where = "its first row"
		}
		return nil, 0, fmt.Errorf("%s: %s is longer than %d MB, more than a row of patients (an unbalanced quote?): %w", c.name, where, maxImportRecord>>20, ErrImportTooLarge)
	}
	if err == nil || errors.As(err, new(*csv.ParseError)) {
		if c.rows++; c.rows > maxImportRows {
			return nil, 0, fmt.Errorf("%s has more than %d rows, more than one import takes: split it: %w", c.name, maxImportRows, ErrImportTooLarge)
		}
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		c.last = pe.Line
		return nil, pe.StartLine, pe
	}
	if err != nil {
		return nil, 0, err
	}
	line, _ := c.r.FieldPos(0) // a record read without error has a field 0
	c.last = line
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
	f, err := openImportFile(path)
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
