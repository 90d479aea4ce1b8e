package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"lifebelt/engine"
)

// TestTypeRoundTrip deletes rows holding awkward values of common types,
// re-inserts them from their images alone (each value through its type's
// input function), and checks the table is bit-for-bit what it was.
func TestTypeRoundTrip(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TYPE "mood;" AS ENUM ('sad', 'ok', 'happy ''quoted''');
		CREATE TABLE ty (
			id int PRIMARY KEY, num numeric(30,10), f8 float8, f4 real, b bytea, ts timestamptz, tsn timestamp,
			iv interval, j json, jb jsonb, ia int[], ta text[], u uuid, tx text, bo bool, d date, tm time,
			tmz timetz, ip inet, cidr_ cidr, m "mood;", mo money, bits bit varying(10), pt point, rng int4range,
			x xml, ch char(3))`)
	rows := []string{
		`(1, 12345678901234567890.0123456789, 'NaN', 'NaN', '\x00ff00'::bytea, '2024-02-29 23:59:59.999999+14', '0001-01-01 00:00:00',
			'1 year 2 mons -3 days 04:05:06.789', '{"b": 1, "a" : [1,2]}', '{"b": 1, "a": [1, 2]}', '{1,NULL,3}', '{"a,b","",NULL,"q\"uote"}',
			'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '', true, '2000-01-01', '24:00:00', '12:00:00+05:30', '192.168.1.1', '10.0.0.0/8',
			'happy ''quoted''', 12.34, B'101', '(1.5,-2)', '[1,5)', '<a>x</a>', 'ab')`,
		`(2, -0.0000000001, '-0', '-Infinity', ''::bytea, 'infinity', '-infinity', '0', 'null', 'null', '{}', '{}', NULL, NULL, false,
			'-infinity', '00:00', '00:00+00', '::1', '::/0', 'sad', -0.01, B'', '(0,0)', 'empty', '<r/>', '  ')`,
		`(3, 0, 0.1, 3.4028235e38, '\x5c27'::bytea, '1970-01-01 00:00:00+00', '2038-01-19 03:14:07.5', '-178000000 years',
			'"é\u0000"', '"é"', '{-2147483648}', '{"\\","\u00e9"}', '00000000-0000-0000-0000-000000000000', E'line\nbreak\ttab \\ back', NULL,
			'5874897-12-31', '23:59:59.999999', '23:59:59.999999-15:59', '2001:db8::ff00:42:8329/64', '2001:db8::/32', 'ok', 0, B'1111111111',
			'(1e-300,1e300)', '(,)', NULL, NULL)`,
		`(4, NULL, 1e-300, 1.17549435e-38, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '{NULL}', NULL, 'NULL', NULL, NULL, NULL, NULL,
			NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	}
	capSetup(t, c, `INSERT INTO ty VALUES `+strings.Join(rows, ",\n"))
	// The bytes of every value, to compare after the round trip (send
	// functions are binary and exact; -0 and NaN keep their bits).
	const fingerprint = `SELECT id, num::text, float8send(f8), float4send(f4), b, ts::text, tsn::text, iv::text, j::text, jb::text, ia::text, ta::text,
		u::text, tx, bo::text, d::text, tm::text, tmz::text, ip::text, cidr_::text, m::text, mo::text, bits::text, pt::text, rng::text, x::text, ch FROM ty`
	before := capRows(t, c, fingerprint)

	s := capMust(t, c, `DELETE FROM ty`)
	if len(s.rows) != len(rows) {
		t.Fatalf("imaged %d rows", len(s.rows))
	}
	info := s.tables[0]
	// Spot-check the canonical text of some images.
	byID := map[string][]engine.Value{}
	for _, r := range s.rows {
		byID[r.before[0].S] = r.before
	}
	col := func(name string) int {
		for i, c := range info.Columns {
			if c.Name == name {
				return i
			}
		}
		t.Fatalf("no column %s", name)
		return -1
	}
	for _, tc := range []struct{ id, col, want string }{
		{"1", "f8", "NaN"}, {"2", "f8", "-0"}, {"3", "f8", "0.1"}, {"1", "b", `\x00ff00`}, {"2", "b", `\x`},
		{"1", "ts", "2024-02-29 09:59:59.999999+00"}, {"1", "iv", "1 year 2 mons -3 days +04:05:06.789"},
		{"1", "num", "12345678901234567890.0123456789"}, {"2", "num", "-0.0000000001"}, {"1", "tx", ""},
		{"1", "ta", `{"a,b","",NULL,"q\"uote"}`}, {"1", "m", "happy 'quoted'"}, {"4", "tx", "NULL"},
	} {
		if got := byID[tc.id][col(tc.col)]; got.IsNull() || got.S != tc.want {
			t.Errorf("row %s %s: image %q (null %v), want %q", tc.id, tc.col, got.S, got.IsNull(), tc.want)
		}
	}
	if v := byID["4"][col("num")]; !v.IsNull() {
		t.Errorf("NULL imaged as %q", v.S)
	}
	if v := byID["2"][col("tx")]; !v.IsNull() {
		t.Errorf("NULL text imaged as %q", v.S)
	}

	// Re-insert from the images only.
	var casts []string
	for i, cl := range info.Columns {
		casts = append(casts, fmt.Sprintf("$%d::text::%s", i+1, cl.Type))
	}
	ins := "INSERT INTO ty VALUES (" + strings.Join(casts, ", ") + ")"
	for _, r := range s.rows {
		args := make([]any, len(r.before))
		for i, v := range r.before {
			args[i] = valueArg(v)
		}
		if _, err := c.pg.Exec(context.Background(), ins, args...); err != nil {
			t.Fatalf("re-inserting %v: %v", valuesText(r.before), err)
		}
	}
	eq(t, "after round trip", capRows(t, c, fingerprint), before)
}
