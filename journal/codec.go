package journal

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The row codec turns a []Value into a JSON array and back, bit-exactly.
// docs/journal-format.md describes it for readers in other languages:
//
//	null                  NULL
//	"text"                Text that is valid UTF-8
//	123                   Int (always an int64)
//	{"f":"1.5"}           Float, strconv 'g' -1 form: "NaN", "+Inf", "-Inf", "-0"
//	{"fx":"7ff8..."}      Float NaN with a payload other than Go's math.NaN()
//	{"b":"base64"}        Bytes
//	{"tb":"base64"}       Text that is not valid UTF-8
//
// The encoder is hand-written because encoding/json (reflection, map keys,
// HTML escaping) costs several times more per row than the journal's
// throughput target allows; the decoder likewise (see DecodeRow).

// canonicalNaN is the bit pattern strconv.ParseFloat returns for "NaN".
var canonicalNaN = math.Float64bits(math.NaN())

// EncodeRow appends the JSON encoding of row to dst and returns the
// extended slice. A value of an unknown kind is written as null; AddImage
// rejects such rows before encoding them.
func EncodeRow(dst []byte, row []Value) []byte {
	dst, _ = appendRow(dst, row)
	return dst
}

// appendRow is EncodeRow that also reports whether every kind was known.
func appendRow(dst []byte, row []Value) ([]byte, bool) {
	ok := true
	dst = append(dst, '[')
	for i := range row {
		if i > 0 {
			dst = append(dst, ',')
		}
		v := &row[i]
		switch v.K {
		case Null:
			dst = append(dst, "null"...)
		case Int:
			dst = strconv.AppendInt(dst, v.I, 10)
		case Float:
			if bits := math.Float64bits(v.F); v.F != v.F && bits != canonicalNaN {
				dst = append(dst, `{"fx":"`...)
				dst = appendHex16(dst, bits)
				dst = append(dst, `"}`...)
			} else {
				dst = append(dst, `{"f":"`...)
				dst = strconv.AppendFloat(dst, v.F, 'g', -1, 64)
				dst = append(dst, `"}`...)
			}
		case Text:
			if utf8.ValidString(v.S) {
				dst = appendJSONString(dst, v.S)
			} else {
				dst = append(dst, `{"tb":"`...)
				dst = base64.StdEncoding.AppendEncode(dst, []byte(v.S))
				dst = append(dst, `"}`...)
			}
		case Bytes:
			dst = append(dst, `{"b":"`...)
			dst = base64.StdEncoding.AppendEncode(dst, v.B)
			dst = append(dst, `"}`...)
		default:
			ok = false
			dst = append(dst, "null"...)
		}
	}
	return append(dst, ']'), ok
}

const hexDigits = "0123456789abcdef"

func appendHex16(dst []byte, u uint64) []byte {
	for shift := 60; shift >= 0; shift -= 4 {
		dst = append(dst, hexDigits[(u>>uint(shift))&0xf])
	}
	return dst
}

// appendJSONString writes s, which must be valid UTF-8, as a JSON string.
// Only the characters JSON requires are escaped, so everything else passes
// through byte for byte.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// DecodeRow parses a row written by EncodeRow. It accepts JSON whitespace
// but nothing EncodeRow cannot produce (fractions, exponents, booleans,
// unknown or extra object members, invalid UTF-8, malformed base64), so a
// damaged image is an error, never a silent change.
//
// It is hand-written for the same reason as the encoder: undo and export
// read images by the million, and encoding/json spends most of its time on
// reflection and generic values (it decoded about 7 times slower).
func DecodeRow(b []byte) ([]Value, error) {
	d := rowDecoder{b: b}
	row, err := d.row()
	if err != nil {
		return nil, fmt.Errorf("journal: row image: %w", err)
	}
	return row, nil
}

var comma = []byte{','}

type rowDecoder struct {
	b []byte
	i int
}

func (d *rowDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// expect consumes c after optional whitespace.
func (d *rowDecoder) expect(c byte) error {
	d.ws()
	if d.i >= len(d.b) {
		return fmt.Errorf("unexpected end, want %q", c)
	}
	if d.b[d.i] != c {
		return fmt.Errorf("offset %d: %q, want %q", d.i, d.b[d.i], c)
	}
	d.i++
	return nil
}

func (d *rowDecoder) peek() byte {
	d.ws()
	if d.i >= len(d.b) {
		return 0
	}
	return d.b[d.i]
}

func (d *rowDecoder) row() ([]Value, error) {
	if err := d.expect('['); err != nil {
		return nil, err
	}
	// Every value but the last ends at a comma: the count bounds the width
	// (commas in strings only overestimate it) and saves regrowing.
	row := make([]Value, 0, min(bytes.Count(d.b[d.i:], comma), 255)+1)
	if d.peek() == ']' {
		d.i++
	} else {
		for {
			v, err := d.value()
			if err != nil {
				return nil, fmt.Errorf("value %d: %w", len(row), err)
			}
			row = append(row, v)
			c := d.peek()
			d.i++
			if c == ']' {
				break
			}
			if c != ',' {
				return nil, fmt.Errorf("offset %d: want ',' or ']'", d.i-1)
			}
		}
	}
	d.ws()
	if d.i != len(d.b) {
		return nil, fmt.Errorf("offset %d: data after the row", d.i)
	}
	return row, nil
}

func (d *rowDecoder) value() (Value, error) {
	switch c := d.peek(); {
	case c == 'n':
		if len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "null" {
			d.i += 4
			return Value{}, nil
		}
	case c == '"':
		s, err := d.str()
		return TextValue(s), err
	case c == '-' || (c >= '0' && c <= '9'):
		return d.int()
	case c == '{':
		d.i++
		tag, err := d.str()
		if err != nil {
			return Value{}, err
		}
		if err := d.expect(':'); err != nil {
			return Value{}, err
		}
		if d.peek() != '"' {
			return Value{}, fmt.Errorf("tagged value %q must be a string", tag)
		}
		s, err := d.str()
		if err != nil {
			return Value{}, err
		}
		if err := d.expect('}'); err != nil {
			return Value{}, fmt.Errorf("tagged value must have exactly one member: %w", err)
		}
		return decodeTagged(tag, s)
	}
	return Value{}, fmt.Errorf("offset %d: not a value EncodeRow writes", d.i)
}

// int parses a JSON integer into an int64, refusing fractions, exponents,
// leading zeros and overflow.
func (d *rowDecoder) int() (Value, error) {
	start := d.i
	if d.b[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	switch {
	case d.i == digits:
		return Value{}, fmt.Errorf("offset %d: malformed number", start)
	case d.b[digits] == '0' && d.i-digits > 1:
		return Value{}, fmt.Errorf("offset %d: number with a leading zero", start)
	case d.i < len(d.b) && (d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E'):
		return Value{}, fmt.Errorf("offset %d: number is not an integer", start)
	}
	i, err := strconv.ParseInt(string(d.b[start:d.i]), 10, 64)
	if err != nil {
		return Value{}, fmt.Errorf("offset %d: number %s is not an int64", start, d.b[start:d.i])
	}
	return IntValue(i), nil
}

// str parses a JSON string (d.b[d.i] is the opening quote, after
// whitespace). Its content must be valid UTF-8, and escapes must not encode
// lone surrogates: encoding/json would replace those with U+FFFD, which
// would silently change a value.
func (d *rowDecoder) str() (string, error) {
	if d.peek() != '"' {
		return "", fmt.Errorf("offset %d: want a string", d.i)
	}
	d.i++
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			s := d.b[start:d.i]
			d.i++
			if !utf8.Valid(s) {
				return "", fmt.Errorf("offset %d: string is not valid UTF-8", start)
			}
			return string(s), nil
		}
		if c == '\\' || c < 0x20 {
			return d.strSlow(start)
		}
		d.i++
	}
	return "", fmt.Errorf("offset %d: unterminated string", start-1)
}

// strSlow finishes a string that has escapes, from its start.
func (d *rowDecoder) strSlow(start int) (string, error) {
	buf := append([]byte(nil), d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			if !utf8.Valid(buf) {
				return "", fmt.Errorf("offset %d: string is not valid UTF-8", start)
			}
			return string(buf), nil
		case c < 0x20:
			return "", fmt.Errorf("offset %d: control character in string", d.i)
		case c != '\\':
			buf = append(buf, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.b) {
			break
		}
		e := d.b[d.i+1]
		d.i += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", fmt.Errorf("offset %d: malformed \\u escape", d.i)
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if d.i+1 < len(d.b) && d.b[d.i] == '\\' && d.b[d.i+1] == 'u' {
					d.i += 2
					r2, ok = d.hex4()
				}
				if r = utf16.DecodeRune(r, r2); !ok || r == utf8.RuneError {
					return "", fmt.Errorf("offset %d: \\u escape of a lone surrogate", d.i)
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", fmt.Errorf("offset %d: unknown escape \\%c", d.i-2, e)
		}
	}
	return "", fmt.Errorf("offset %d: unterminated string", start-1)
}

func (d *rowDecoder) hex4() (rune, bool) {
	if d.i+4 > len(d.b) {
		return 0, false
	}
	var r rune
	for _, c := range d.b[d.i : d.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	d.i += 4
	return r, true
}

func decodeTagged(tag, s string) (Value, error) {
	switch tag {
	case "f":
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return Value{}, fmt.Errorf("float %q: %w", s, err)
		}
		return FloatValue(f), nil
	case "fx":
		if len(s) != 16 {
			return Value{}, fmt.Errorf("float bits %q must be 16 hex digits", s)
		}
		u, err := strconv.ParseUint(s, 16, 64)
		if err != nil {
			return Value{}, fmt.Errorf("float bits %q: %w", s, err)
		}
		return FloatValue(math.Float64frombits(u)), nil
	case "b":
		b, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil {
			return Value{}, fmt.Errorf("bytes: %w", err)
		}
		return BytesValue(b), nil
	case "tb":
		b, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil {
			return Value{}, fmt.Errorf("text bytes: %w", err)
		}
		return TextValue(string(b)), nil
	}
	return Value{}, fmt.Errorf("unknown value tag %q", tag)
}
