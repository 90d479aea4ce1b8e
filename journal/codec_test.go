package journal

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestRowCodecRoundTrip(t *testing.T) {
	nan2 := math.Float64frombits(0x7ff8000000000002)
	tests := []struct {
		name string
		row  []Value
		want string // exact encoding, when it matters to other readers
	}{
		{"empty row", []Value{}, `[]`},
		{"null", []Value{NullValue()}, `[null]`},
		{"empty string is not null", []Value{TextValue(""), NullValue()}, `["",null]`},
		{"ints", []Value{IntValue(0), IntValue(-1), IntValue(math.MaxInt64), IntValue(math.MinInt64)},
			`[0,-1,9223372036854775807,-9223372036854775808]`},
		{"floats", []Value{FloatValue(1.5), FloatValue(0.1), FloatValue(1e300), FloatValue(5e-324)},
			`[{"f":"1.5"},{"f":"0.1"},{"f":"1e+300"},{"f":"5e-324"}]`},
		{"float specials", []Value{FloatValue(math.Copysign(0, -1)), FloatValue(0), FloatValue(math.Inf(1)),
			FloatValue(math.Inf(-1)), FloatValue(math.NaN())},
			`[{"f":"-0"},{"f":"0"},{"f":"+Inf"},{"f":"-Inf"},{"f":"NaN"}]`},
		{"nan payload", []Value{FloatValue(nan2)}, `[{"fx":"7ff8000000000002"}]`},
		{"text escapes", []Value{TextValue("a\"b\\c\nd\re\tf\x00g\x1fh\u2028é€😀")},
			"[\"a\\\"b\\\\c\\nd\\re\\tf\\u0000g\\u001fh\u2028é€😀\"]"},
		{"text invalid utf8", []Value{TextValue("a\xffb"), TextValue("\xed\xa0\x80")},
			`[{"tb":"Yf9i"},{"tb":"7aCA"}]`},
		{"bytes", []Value{BytesValue([]byte{0, 1, 0xff}), BytesValue([]byte{})},
			`[{"b":"AAH/"},{"b":""}]`},
		{"text that looks like json", []Value{TextValue(`{"f":"1"}`), TextValue("null"), TextValue("12")},
			`["{\"f\":\"1\"}","null","12"]`},
		{"mixed", []Value{IntValue(7), TextValue("x"), FloatValue(2), NullValue(), BytesValue([]byte("y"))},
			`[7,"x",{"f":"2"},null,{"b":"eQ=="}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := EncodeRow(nil, tt.row)
			if tt.want != "" && string(enc) != tt.want {
				t.Errorf("EncodeRow = %s, want %s", enc, tt.want)
			}
			got, err := DecodeRow(enc)
			if err != nil {
				t.Fatalf("DecodeRow(%s): %v", enc, err)
			}
			if !RowsEqual(got, tt.row) {
				t.Errorf("round trip of %s: got %#v, want %#v", enc, got, tt.row)
			}
			for i := range got { // bit-exact floats, including NaN payloads
				if got[i].K == Float && math.Float64bits(got[i].F) != math.Float64bits(tt.row[i].F) {
					t.Errorf("value %d: float bits %x, want %x", i, math.Float64bits(got[i].F), math.Float64bits(tt.row[i].F))
				}
			}
		})
	}
}

func TestEncodeRowAppends(t *testing.T) {
	got := EncodeRow([]byte("prefix:"), []Value{IntValue(1)})
	if string(got) != "prefix:[1]" {
		t.Errorf("EncodeRow did not append: %q", got)
	}
	if got := EncodeRow(nil, []Value{{K: 99}}); string(got) != "[null]" {
		t.Errorf("unknown kind encoded as %s, want [null]", got)
	}
}

func TestDecodeRowRejects(t *testing.T) {
	for _, in := range []string{
		``, `null`, `{}`, `[`, `[1.5]`, `[1e3]`, `[99999999999999999999]`, `[true]`, `[[1]]`,
		`[{"f":"x"}]`, `[{"f":1}]`, `[{"b":"!!"}]`, `[{"b":"QR=="}]`, `[{"tb":"@"}]`, `[{"q":"1"}]`,
		`[{"f":"1","b":""}]`, `[{}]`, `[{"fx":"7ff8"}]`, `[{"fx":"zzzzzzzzzzzzzzzz"}]`, `[1] [2]`,
		`[01]`, `[-]`, `[-01]`, `[1,]`, `[,1]`, `[nul]`, `["a]`, "[\"a\x01\"]", "[\"\xff\"]",
		`["\ud800"]`, `["\udc00\ud800"]`, `["\ud800\u0041"]`, `["\x"]`, `["\u12"]`, `[{"f":"1"]`,
		`[{"f":1.5}]`, `[{"f" "1"}]`, `[1}`, `[1 2]`, `[-9223372036854775809]`,
	} {
		if row, err := DecodeRow([]byte(in)); err == nil {
			t.Errorf("DecodeRow(%q) = %v, want an error", in, row)
		}
	}
}

func TestDecodeRowAcceptsJSONForms(t *testing.T) {
	for in, want := range map[string][]Value{
		" [ 1 , \"a\" ,\n{ \"f\" : \"2\" } , null ] ": {IntValue(1), TextValue("a"), FloatValue(2), NullValue()},
		`["\u00e9\/\b\f\ud83d\ude00\u0000"]`:          {TextValue("é/\b\f😀\x00")},
		`[-0]`:                                        {IntValue(0)},
		`[{"tb":""}]`:                                 {TextValue("")},
		`[{"f":"inf"}]`:                               {FloatValue(math.Inf(1))},
	} {
		got, err := DecodeRow([]byte(in))
		if err != nil || !RowsEqual(got, want) {
			t.Errorf("DecodeRow(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

// decodeRowReference is the slow, obviously correct decoder DecodeRow
// replaced: encoding/json, then the same value rules.
func decodeRowReference(b []byte) ([]Value, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || raw == nil {
		return nil, fmt.Errorf("not an array: %v", err)
	}
	row := make([]Value, len(raw))
	for i, r := range raw {
		switch r[0] {
		case 'n':
		case '"':
			var s string
			json.Unmarshal(r, &s)
			row[i] = TextValue(s)
		case '{':
			var m map[string]string
			if err := json.Unmarshal(r, &m); err != nil || len(m) != 1 {
				return nil, errors.New("bad tagged value")
			}
			for tag, s := range m {
				v, err := decodeTagged(tag, s)
				if err != nil {
					return nil, err
				}
				row[i] = v
			}
		default:
			n, err := strconv.ParseInt(string(r), 10, 64)
			if err != nil {
				return nil, err
			}
			row[i] = IntValue(n)
		}
	}
	return row, nil
}

// rowFromBytes turns fuzz input into a row so that every kind, every float
// bit pattern and arbitrary (also invalid UTF-8) text get generated.
func rowFromBytes(data []byte) []Value {
	var row []Value
	for len(data) > 0 {
		k := data[0] % 5
		data = data[1:]
		switch ValueKind(k) {
		case Null:
			row = append(row, NullValue())
		case Int, Float:
			var b [8]byte
			n := copy(b[:], data)
			data = data[n:]
			u := binary.LittleEndian.Uint64(b[:])
			if ValueKind(k) == Int {
				row = append(row, IntValue(int64(u)))
			} else {
				row = append(row, FloatValue(math.Float64frombits(u)))
			}
		case Text, Bytes:
			n := 0
			if len(data) > 0 {
				n = int(data[0]) % 32
				data = data[1:]
			}
			n = min(n, len(data))
			s := data[:n]
			data = data[n:]
			if ValueKind(k) == Text {
				row = append(row, TextValue(string(s)))
			} else {
				row = append(row, BytesValue(append([]byte(nil), s...)))
			}
		}
	}
	return row
}

func FuzzRowCodec(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte(`[1,"a",{"f":"NaN"},null,{"b":"AA=="},{"tb":"/w=="}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		row := rowFromBytes(data)
		enc := EncodeRow(nil, row)
		got, err := DecodeRow(enc)
		if err != nil {
			t.Fatalf("DecodeRow(EncodeRow(%#v)) = %s: %v", row, enc, err)
		}
		if !RowsEqual(got, row) {
			t.Fatalf("round trip changed %#v into %#v via %s", row, got, enc)
		}
		// The raw input as JSON: must never panic; what decodes must agree
		// with encoding/json and re-encode canonically.
		if dec, err := DecodeRow(data); err == nil {
			ref, err := decodeRowReference(data)
			if err != nil || !RowsEqual(ref, dec) {
				t.Fatalf("DecodeRow(%q) = %#v, encoding/json says %#v, %v", data, dec, ref, err)
			}
			again, err := DecodeRow(EncodeRow(nil, dec))
			if err != nil || !RowsEqual(again, dec) {
				t.Fatalf("re-encoding %q lost data: %v", data, err)
			}
			if e1, e2 := EncodeRow(nil, dec), EncodeRow(nil, again); string(e1) != string(e2) {
				t.Fatalf("encoding not canonical: %s vs %s", e1, e2)
			}
		}
		if strings.Contains(string(enc), "\n") {
			t.Fatalf("encoding contains a raw newline: %q", enc)
		}
	})
}

func BenchmarkEncodeRow(b *testing.B) {
	row := []Value{IntValue(12345), TextValue("customer 12345"), FloatValue(15431.25), IntValue(27), TextValue("a short note")}
	var buf []byte
	for b.Loop() {
		buf = EncodeRow(buf[:0], row)
	}
}

func BenchmarkDecodeRow(b *testing.B) {
	enc := EncodeRow(nil, []Value{IntValue(12345), TextValue("customer 12345"), FloatValue(15431.25), IntValue(27), TextValue("a short note")})
	for _, c := range []struct {
		name string
		fn   func([]byte) ([]Value, error)
	}{{"hand", DecodeRow}, {"encoding-json", decodeRowReference}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.fn(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
