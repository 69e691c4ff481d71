package app

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	xunicode "golang.org/x/text/encoding/unicode"
)

// TextEncoding is how the bytes of a CSV sheet were read as text.
type TextEncoding string

// The encodings a CSV sheet is read in.
const (
	EncodingUTF8        TextEncoding = "UTF-8"
	EncodingUTF16LE     TextEncoding = "UTF-16 LE"
	EncodingUTF16BE     TextEncoding = "UTF-16 BE"
	EncodingWindows1252 TextEncoding = "Windows-1252"
)

// ErrTextEncoding means a sheet's bytes are text in none of the
// encodings ClinicVault reads. It is an ErrUnreadableSheet.
var ErrTextEncoding = fmt.Errorf("the file is not text in UTF-8, UTF-16 or Windows-1252: %w", ErrUnreadableSheet)

// EncodingError says where a sheet stops being text ClinicVault reads,
// and what it probably is instead. It is an ErrTextEncoding.
type EncodingError struct {
	File   string
	Line   int    // the line of the first byte that is not read (1 is the first)
	Bytes  []byte // that byte and the next few
	Likely string // what the bytes look like, when they look like something ("Japanese Shift-JIS"); else empty
}

func (e *EncodingError) Error() string {
	what := "text in UTF-8, UTF-16 or Windows-1252"
	if e.Likely != "" {
		what += "; it looks like " + e.Likely
	}
	return fmt.Sprintf("%s: line %d has bytes (% X) that are not %s. Save the sheet as \"CSV UTF-8\" and import it again",
		e.File, e.Line, e.Bytes, what)
}

func (e *EncodingError) Unwrap() error { return ErrTextEncoding }

// damagedUTF8 is what a file of UTF-8 with some bytes that are not
// looks like.
const damagedUTF8 = "UTF-8 with damaged bytes"

// decodeSheetText returns a sheet's bytes as UTF-8 and the encoding they
// were read in: a byte-order mark says (UTF-8, UTF-16 LE or BE); else NUL
// bytes at every other place mean UTF-16; else valid UTF-8 is UTF-8; else
// Windows-1252 when the text it gives is plausible. Anything else is an
// *EncodingError: never text stored as mojibake without a word.
func decodeSheetText(path string, raw []byte) ([]byte, TextEncoding, error) {
	name := filepath.Base(path)
	switch {
	case bytes.HasPrefix(raw, []byte("\xef\xbb\xbf")):
		raw = raw[3:]
		if !utf8.Valid(raw) {
			return nil, "", notText(name, raw, firstInvalidUTF8(raw), damagedUTF8)
		}
		return raw, EncodingUTF8, nil
	case bytes.HasPrefix(raw, []byte("\xff\xfe\x00\x00")), bytes.HasPrefix(raw, []byte("\x00\x00\xfe\xff")):
		return nil, "", notText(name, raw, 0, "UTF-32")
	case bytes.HasPrefix(raw, []byte("\xff\xfe")):
		return decodeUTF16(raw[2:], xunicode.LittleEndian, EncodingUTF16LE)
	case bytes.HasPrefix(raw, []byte("\xfe\xff")):
		return decodeUTF16(raw[2:], xunicode.BigEndian, EncodingUTF16BE)
	}
	if e, ok := utf16WithoutBOM(raw); ok {
		return decodeUTF16(raw, e, map[xunicode.Endianness]TextEncoding{xunicode.LittleEndian: EncodingUTF16LE, xunicode.BigEndian: EncodingUTF16BE}[e])
	}
	if i := bytes.IndexByte(raw, 0); i >= 0 {
		return nil, "", notText(name, raw, i, "a binary file, not a sheet")
	}
	if utf8.Valid(raw) {
		return raw, EncodingUTF8, nil
	}
	if i := implausible1252(raw); i >= 0 {
		likely := likelyEncoding(raw)
		if likely == damagedUTF8 {
			i = firstInvalidUTF8(raw) // the damage, not the first good character
		}
		return nil, "", notText(name, raw, i, likely)
	}
	out, err := charmap.Windows1252.NewDecoder().Bytes(raw)
	if err != nil {
		return nil, "", notText(name, raw, 0, "")
	}
	return out, EncodingWindows1252, nil
}

func decodeUTF16(raw []byte, e xunicode.Endianness, enc TextEncoding) ([]byte, TextEncoding, error) {
	// Unpaired surrogates become U+FFFD, which the preview shows by row.
	out, err := xunicode.UTF16(e, xunicode.IgnoreBOM).NewDecoder().Bytes(raw)
	return out, enc, err
}

// utf16WithoutBOM reports UTF-16 by its NULs: the text of a sheet is
// mostly ASCII, whose UTF-16 has a NUL in every other byte.
func utf16WithoutBOM(raw []byte) (xunicode.Endianness, bool) {
	head := raw[:min(len(raw), 4096)]
	if len(head) < 4 {
		return xunicode.LittleEndian, false
	}
	var even, odd int
	for i, b := range head {
		if b == 0 {
			if i%2 == 0 {
				even++
			} else {
				odd++
			}
		}
	}
	pairs := len(head) / 2
	switch {
	case odd*10 >= pairs*6 && even*10 < pairs:
		return xunicode.LittleEndian, true
	case even*10 >= pairs*6 && odd*10 < pairs:
		return xunicode.BigEndian, true
	}
	return xunicode.LittleEndian, false
}

// notText is the EncodingError for the byte at i of raw.
func notText(name string, raw []byte, i int, likely string) error {
	return &EncodingError{File: name, Line: 1 + bytes.Count(raw[:i], []byte("\n")),
		Bytes: bytes.Clone(raw[i:min(len(raw), i+4)]), Likely: likely}
}

func firstInvalidUTF8(raw []byte) int {
	for i := 0; i < len(raw); {
		r, n := utf8.DecodeRune(raw[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return 0
}

// Windows-1252's bytes from 0x80 as a sheet of names, dates and addresses
// would have them: letters (the accented ones, Œ, Š, Ž…), the
// punctuation of European text (quotes, dashes, €, £, °, §…), or neither
// (symbols no register of patients holds, and the five bytes it leaves
// undefined: a sign of another encoding).
const (
	cp1252Letter = iota + 1
	cp1252Quote  // quotes that close around words, not inside them
	cp1252Mark   // other punctuation that may stand anywhere
)

var cp1252Class = func() (c [256]byte) {
	for b := 0xC0; b <= 0xFF; b++ {
		c[b] = cp1252Letter
	}
	c[0xD7], c[0xF7] = cp1252Mark, cp1252Mark // × ÷
	for _, b := range []byte{0x8A, 0x8C, 0x8E, 0x9A, 0x9C, 0x9E, 0x9F, 0xAA, 0xB5, 0xBA} {
		c[b] = cp1252Letter
	}
	for _, b := range []byte{0x82, 0x84, 0x8B, 0x93, 0x94, 0x9B, 0xAB, 0xBB} {
		c[b] = cp1252Quote
	}
	for _, b := range []byte{0x80, 0x85, 0x91, 0x92, 0x95, 0x96, 0x97, 0x99, 0xA0, 0xA1, 0xA2, 0xA3, 0xA7, 0xA9, 0xAE, 0xB0, 0xB1, 0xB2, 0xB3, 0xB4, 0xB7, 0xBF} {
		c[b] = cp1252Mark
	}
	return c
}()

// implausible1252 returns where raw stops reading as Windows-1252 text a
// practice would write, or -1: a byte of no such character; an upper-case
// accented letter straight after a lower-case one ("zÃ"); a quote between
// letters or digits ("R“c"); or a byte from 0x80 to 0x9F straight before
// another byte from 0x80 (double-byte encodings such as Shift-JIS).
func implausible1252(raw []byte) int {
	for i, b := range raw {
		if b < 0x80 {
			continue
		}
		var prev, next byte
		if i > 0 {
			prev = raw[i-1]
		}
		if i+1 < len(raw) {
			next = raw[i+1]
		}
		if implausible1252Byte(prev, b, next) {
			return i
		}
	}
	return -1
}

// implausible1252Stream is implausible1252 over a stream, for a file
// read once and not held.
func implausible1252Stream(r io.ByteReader) (int64, error) {
	var prev byte
	cur, err := r.ReadByte()
	for i := int64(0); err == nil; i++ {
		next, nerr := r.ReadByte()
		if nerr != nil {
			next = 0
		}
		if cur >= 0x80 && implausible1252Byte(prev, cur, next) {
			return i, nil
		}
		prev, cur, err = cur, next, nerr
	}
	if err == io.EOF {
		return -1, nil
	}
	return -1, err
}

// implausible1252Byte is whether b (from 0x80), between prev and next,
// is not Windows-1252 text a practice would write.
func implausible1252Byte(prev, b, next byte) bool {
	class := cp1252Class[b]
	switch {
	case class == 0:
		return true
	case class == cp1252Letter && isUpper1252(b) && (isLowerASCII(prev) || (prev >= 0xDF && prev != 0xF7)):
		return true
	case class == cp1252Quote && isAlnumASCII(prev) && isAlnumASCII(next):
		return true
	case b <= 0x9F && next >= 0x80 && !(cp1252Class[next] == cp1252Quote || cp1252Class[next] == cp1252Mark && next <= 0x9F):
		return true
	}
	return false
}

func isUpper1252(b byte) bool {
	return (b >= 0xC0 && b <= 0xDE && b != 0xD7) || b == 0x8A || b == 0x8C || b == 0x8E || b == 0x9F
}

func isLowerASCII(b byte) bool { return b >= 'a' && b <= 'z' }

func isAlnumASCII(b byte) bool {
	return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
}

// likelyEncoding names what bytes that are neither UTF-8 nor plausible
// Windows-1252 look like, when they look like something.
func likelyEncoding(raw []byte) string {
	var utf8Runes, utf8Bad int
	for i := 0; i < len(raw); {
		r, n := utf8.DecodeRune(raw[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			utf8Bad++
		case n > 1:
			utf8Runes++
		}
		i += n
	}
	if utf8Runes > 0 && utf8Runes >= utf8Bad {
		return damagedUTF8
	}
	if shiftJIS(raw) {
		return "Japanese Shift-JIS"
	}
	return ""
}

// shiftJIS reports whether every byte from 0x80 of raw is part of a
// Shift-JIS character, and there is a double-byte one.
func shiftJIS(raw []byte) bool {
	pairs := 0
	for i := 0; i < len(raw); i++ {
		b := raw[i]
		switch {
		case b < 0x80, b >= 0xA1 && b <= 0xDF: // ASCII, half-width katakana
		case (b >= 0x81 && b <= 0x9F) || (b >= 0xE0 && b <= 0xFC):
			if i+1 >= len(raw) {
				return false
			}
			t := raw[i+1]
			if t < 0x40 || t == 0x7F || t > 0xFC {
				return false
			}
			pairs++
			i++
		default:
			return false
		}
	}
	return pairs > 0
}

// suspiciousText describes the characters of a cell that are probably
// not what was typed: U+FFFD (a character lost in an earlier
// conversion), control characters (C0 and C1: bytes of another encoding
// read as Latin-1), private-use characters and noncharacters, and the
// marks of UTF-8 read as Windows-1252 ("MÃ¼ller"). Empty when none.
func suspiciousText(cell string) string {
	plain := true
	for i := 0; i < len(cell) && plain; i++ {
		plain = cell[i] >= 0x20 && cell[i] < 0x7F || cell[i] == '\t'
	}
	if plain { // printable ASCII: most cells, at no cost
		return ""
	}
	var found []string
	seen, more := map[rune]bool{}, 0
	note := func(r rune, why string) {
		switch {
		case seen[r]:
		case len(found) == 5: // a cell of thousands of private-use characters is not noted by each
			seen[r] = true
			more++
		default:
			seen[r] = true
			found = append(found, fmt.Sprintf("U+%04X (%s)", r, why))
		}
	}
	for i, w := 0, 0; i < len(cell); i += w {
		var r rune
		r, w = utf8.DecodeRuneInString(cell[i:])
		next, n := utf8.DecodeRuneInString(cell[i+w:])
		switch {
		case r == utf8.RuneError:
			note(r, "a character lost in an earlier conversion")
		case r == '\t' || r == '\n' || r == '\r':
		case r < 0x20 || r == 0x7F:
			note(r, "a control character")
		case r >= 0x80 && r <= 0x9F:
			note(r, "a control character: text of another encoding?")
		case r == 0xFEFF:
			note(r, "a byte-order mark inside the text")
		case unicode.Is(unicode.Co, r):
			note(r, "a private-use character")
		case r >= 0xFDD0 && r <= 0xFDEF, r&0xFFFE == 0xFFFE:
			note(r, "not a character")
		case (r == 0xC2 || r == 0xC3 || r == 0xC5) && n > 0 && mojibakeTail(next):
			note(r, fmt.Sprintf("%q looks like UTF-8 read as Windows-1252", string([]rune{r, next})))
		}
	}
	if more > 0 {
		found = append(found, fmt.Sprintf("and %d other characters", more))
	}
	return strings.Join(found, ", ")
}

// mojibakeTail reports whether r is what Windows-1252 makes of a UTF-8
// continuation byte (0x80 to 0xBF).
func mojibakeTail(r rune) bool {
	if r >= 0xA0 && r <= 0xBF {
		return true
	}
	b, ok := charmap.Windows1252.EncodeRune(r)
	return ok && b >= 0x80 && b <= 0x9F
}

// suspiciousCells is suspiciousText for the cells of a row, each named by
// its column.
func suspiciousCells(rec, headers []string) []string {
	var out []string
	for i, cell := range rec {
		if what := suspiciousText(cell); what != "" {
			col := fmt.Sprintf("column %d", i+1)
			if i < len(headers) && strings.TrimSpace(headers[i]) != "" {
				col = "column " + quoteShort(strings.TrimSpace(headers[i]))
			}
			out = append(out, fmt.Sprintf("%s: %s has %s", col, quoteShort(cell), what))
		}
	}
	return out
}
