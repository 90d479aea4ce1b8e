package postgres

import (
	"fmt"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// sameTreeCorpus holds statements compared with each other, pairwise, by
// sameTree and by the reference check it replaced. Several are the same
// statement written differently (spacing, parentheses, comments, nested
// AND/OR), which both must find equal; the rest differ, subtly for some.
var sameTreeCorpus = []string{
	`DELETE FROM t WHERE a = 1 OR b = 2 AND NOT c`,
	`DELETE  FROM t WHERE (a = 1) OR (b = 2 AND NOT c) -- same`,
	`DELETE FROM t WHERE (a = 1 OR b = 2) AND NOT c`,
	`DELETE FROM t WHERE a = 1 OR b = 2 AND NOT d`,
	`DELETE FROM ONLY s."T;x" AS "we ird" USING u, LATERAL (SELECT 1) l WHERE "we ird".a = u.a`,
	`DELETE FROM s."T;x" AS "we ird" USING u, LATERAL (SELECT 1) l WHERE "we ird".a = u.a`,
	`UPDATE t SET a = a + 1, b = DEFAULT, c[2] = 'x', (d, e) = (SELECT 1, 2), f.g = 3 WHERE a BETWEEN SYMMETRIC 1 AND 2`,
	`UPDATE t SET a = a + 1, b = DEFAULT, c[2] = 'x', (d, e) = (SELECT 1, 2), f.g = 3 WHERE a BETWEEN 1 AND 2`,
	`UPDATE t SET v = v COLLATE "C" || E'\\n\'' || $$q;$$ || U&'\0041' WHERE x::numeric(10,2) > 1.5 AND ts AT TIME ZONE 'UTC' < now()`,
	`UPDATE t SET v = v COLLATE "C" || E'\\n\'' || $$q;$$ || U&'\0041' WHERE x::numeric(10,3) > 1.5 AND ts AT TIME ZONE 'UTC' < now()`,
	`UPDATE t SET j = j || '{"a":1}'::jsonb WHERE j ->> 'k' = 'v' AND j #> '{a,b}' IS NOT NULL AND a = ANY (ARRAY[1, 2])`,
	`UPDATE t SET a = 1 WHERE a OPERATOR(pg_catalog.+) 1 > 2 AND b LIKE 'x!%' ESCAPE '!' AND c IS DISTINCT FROM d`,
	`UPDATE t SET a = 1 WHERE a OPERATOR(pg_catalog.+) 1 > 2 AND b LIKE 'x!%' ESCAPE '!' AND c IS NOT DISTINCT FROM d`,
	`UPDATE t SET i = interval '1' day, n = CASE WHEN a THEN 1 ELSE NULLIF(b, 0) END WHERE EXISTS (SELECT 1 FROM u WHERE u.a = t.a)`,
	`WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) DELETE FROM t WHERE a IN (SELECT n FROM r)`,
	`WITH r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) DELETE FROM t WHERE a IN (SELECT n FROM r)`,
	`INSERT INTO t (a, b) SELECT x, row_number() OVER (PARTITION BY y ORDER BY z DESC NULLS LAST) FROM u FOR UPDATE`,
	`INSERT INTO t (a, b) SELECT x, row_number() OVER (PARTITION BY y ORDER BY z DESC NULLS FIRST) FROM u FOR UPDATE`,
	`INSERT INTO t VALUES (1, 'a'), (-2, NULL) ON CONFLICT (a) WHERE b IS NOT NULL DO UPDATE SET b = excluded.b WHERE t.b <> excluded.b`,
	`INSERT INTO t VALUES (1, 'a'), (-2, NULL) ON CONFLICT (a) WHERE b IS NOT NULL DO UPDATE SET b = excluded.b WHERE t.b <> excluded.b RETURNING *`,
	`INSERT INTO t (a) OVERRIDING SYSTEM VALUE VALUES (1)`, `INSERT INTO t (a) OVERRIDING USER VALUE VALUES (1)`,
	`INSERT INTO t DEFAULT VALUES`, `INSERT INTO t (a) VALUES (DEFAULT)`, `INSERT INTO t (a) VALUES (NULL)`,
	`INSERT INTO t (a) VALUES (0)`, `INSERT INTO t (a) VALUES ('0')`, `INSERT INTO t (a) VALUES (0.0)`, `INSERT INTO t (a) VALUES (false)`,
	`UPDATE t SET a = -(-1), b = 2 ^ 3 ^ 2, c = (1 + 2) * 3, d = 'a' || 'b' || 'c' WHERE (a, b) > (1, 2) AND a % 2 = 0`,
	`UPDATE t SET a = -(-1), b = (2 ^ 3) ^ 2, c = (1 + 2) * 3, d = 'a' || 'b' || 'c' WHERE (a, b) > (1, 2) AND a % 2 = 0`,
	`UPDATE t SET a = -(-1), b = 2 ^ 3 ^ 2, c = 1 + 2 * 3, d = 'a' || 'b' || 'c' WHERE (a, b) > (1, 2) AND a % 2 = 0`,
	`SELECT 1 WHERE (a AND b) AND c`, `SELECT 1 WHERE a AND (b AND c)`, `SELECT 1 WHERE a AND b AND c`,
	`SELECT 1 WHERE (a OR b) OR (c OR d)`, `SELECT 1 WHERE a OR b OR c OR d`, `SELECT 1 WHERE a OR (b AND c) OR d`,
	`SELECT 1 WHERE a AND (b OR c)`, `SELECT 1 WHERE (a AND b) OR c`, `SELECT 1 WHERE NOT (a AND b) AND c`,
	`SELECT 1 WHERE NOT a AND NOT b AND c`, `SELECT 1 WHERE a AND b`, `SELECT 1 WHERE b AND a`,
	`SELECT 1 WHERE a = 1`, `SELECT 1 WHERE a = 2`, `SELECT 1 WHERE a = 1.0`, `SELECT 1 WHERE a = '1'`, `SELECT 1 WHERE "A" = 1`,
	`SELECT 1 WHERE a = -2147483648`, `SELECT 1 WHERE a = 2147483647`, `SELECT 1 WHERE a = 2147483648`,
	`SELECT 1 WHERE a = $1`, `SELECT 1 WHERE a = $2`, `SELECT b'101', x'ff', 1e10, -0.0, '' = ''`,
	`UPDATE t SET a = 1 WHERE CURRENT OF c`, `UPDATE t SET a = 1 WHERE CURRENT OF d`,
	`UPDATE t AS x SET a = 1`, `UPDATE t x SET a = 1`, `UPDATE t SET a = 1`, `UPDATE ONLY t SET a = 1`, `UPDATE t SET "a" = 1`,
}

func parseNode(t testing.TB, sql string) *pg_query.Node {
	t.Helper()
	r, err := pg_query.Parse(sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if len(r.Stmts) != 1 {
		t.Fatalf("%s: %d statements", sql, len(r.Stmts))
	}
	return r.Stmts[0].Stmt
}

// encodeNode encodes n as deparseExact does and returns the statement's
// bytes.
func encodeNode(t testing.TB, n *pg_query.Node) []byte {
	t.Helper()
	enc, err := proto.Marshal(&pg_query.ParseResult{Version: parseVersion, Stmts: []*pg_query.RawStmt{{Stmt: n}}})
	if err != nil {
		t.Fatal(err)
	}
	b, ok := onlyStmt(enc)
	if !ok {
		t.Fatal("onlyStmt failed on a statement it encoded")
	}
	return b
}

// refEqual is the reference check: normalize copies of both trees and
// compare them with proto.Equal.
func refEqual(a, b *pg_query.Node) bool {
	a, b = clone(a), clone(b)
	normalize(a.ProtoReflect())
	normalize(b.ProtoReflect())
	return equalNodes(a, b)
}

func TestSameTreeMatchesReference(t *testing.T) {
	nodes := make([]*pg_query.Node, len(sameTreeCorpus))
	encs := make([][]byte, len(sameTreeCorpus))
	for i, sql := range sameTreeCorpus {
		nodes[i] = parseNode(t, sql)
		encs[i] = encodeNode(t, nodes[i])
	}
	equalPairs := 0
	for i := range nodes {
		for j := range nodes {
			want := refEqual(nodes[i], nodes[j])
			if got := sameTree(encs[i], encs[j]); got != want {
				t.Errorf("sameTree = %v, reference %v:\n  %s\n  %s", got, want, sameTreeCorpus[i], sameTreeCorpus[j])
			}
			if want && i != j {
				equalPairs++
			}
		}
	}
	if equalPairs < 8 {
		t.Errorf("only %d pairs of different texts compared equal; the corpus should exercise equality too", equalPairs)
	}
	// The parser's own encoding (C) against Go's, both ways.
	for i, sql := range sameTreeCorpus {
		back, err := parser.ParseToProtobuf(sql)
		if err != nil {
			t.Fatal(err)
		}
		b, ok := onlyStmt(back)
		if !ok || !sameTree(encs[i], b) || !sameTree(b, encs[i]) {
			t.Errorf("the parser's encoding of %s differs from Go's", sql)
		}
	}
}

// TestSameTreeDetectsMutations changes every field of every corpus tree,
// one at a time (a scalar altered, a message removed, a list shortened),
// and holds sameTree to the reference's verdict on each change.
func TestSameTreeDetectsMutations(t *testing.T) {
	total, differ := 0, 0
	for _, sql := range sameTreeCorpus {
		orig := parseNode(t, sql)
		enc := encodeNode(t, orig)
		for site := 0; ; site++ {
			m := clone(orig)
			k := site
			if !mutate(m.ProtoReflect(), &k) {
				break
			}
			total++
			want := refEqual(orig, m)
			if !want {
				differ++
			}
			if got := sameTree(enc, encodeNode(t, m)); got != want {
				t.Errorf("mutation %d of %s: sameTree = %v, reference %v", site, sql, got, want)
			}
		}
	}
	if total < 500 || differ < total*9/10 {
		t.Errorf("%d mutations, %d of them differences: too few", total, differ)
	}
}

// mutate changes the *k-th mutation site of m (counting down *k) and
// reports whether there was one. Locations are not sites.
func mutate(m protoreflect.Message, k *int) bool {
	fds := m.Descriptor().Fields()
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		switch fd.Name() {
		case "location", "stmt_location", "stmt_len":
			continue
		}
		switch {
		case fd.IsList():
			if !m.Has(fd) {
				continue
			}
			l := m.Mutable(fd).List()
			if *k == 0 {
				l.Truncate(l.Len() - 1)
				return true
			}
			*k--
			if fd.Message() != nil {
				for j := 0; j < l.Len(); j++ {
					if mutate(l.Get(j).Message(), k) {
						return true
					}
				}
			}
		case fd.IsMap():
		case fd.Message() != nil:
			if !m.Has(fd) {
				continue
			}
			if *k == 0 {
				m.Clear(fd)
				return true
			}
			*k--
			if mutate(m.Mutable(fd).Message(), k) {
				return true
			}
		default:
			if fd.ContainingOneof() != nil && !m.Has(fd) {
				continue
			}
			if *k == 0 {
				v := m.Get(fd)
				switch fd.Kind() {
				case protoreflect.StringKind:
					m.Set(fd, protoreflect.ValueOfString(v.String()+"x"))
				case protoreflect.BoolKind:
					m.Set(fd, protoreflect.ValueOfBool(!v.Bool()))
				case protoreflect.EnumKind:
					m.Set(fd, protoreflect.ValueOfEnum(v.Enum()+1))
				case protoreflect.Int32Kind:
					m.Set(fd, protoreflect.ValueOfInt32(int32(v.Int())+1))
				case protoreflect.Int64Kind:
					m.Set(fd, protoreflect.ValueOfInt64(v.Int()+1))
				case protoreflect.Uint32Kind:
					m.Set(fd, protoreflect.ValueOfUint32(uint32(v.Uint())+1))
				case protoreflect.Uint64Kind:
					m.Set(fd, protoreflect.ValueOfUint64(v.Uint()+1))
				case protoreflect.DoubleKind:
					m.Set(fd, protoreflect.ValueOfFloat64(v.Float()+1))
				default:
					panic(fmt.Sprintf("mutate: unhandled kind %v", fd.Kind()))
				}
				return true
			}
			*k--
		}
	}
	return false
}

// TestSameTreeWire covers encodings Go's encoder never produces but
// another encoder could: sameTree must read them as decoding would, or
// call them different.
func TestSameTreeWire(t *testing.T) {
	num := func(m proto.Message, name string) protowire.Number {
		fd := m.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			t.Fatalf("no field %s", name)
		}
		return fd.Number()
	}
	msg := func(n protowire.Number, payload []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, n, protowire.BytesType), payload)
	}
	varint := func(n protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(nil, n, protowire.VarintType), v)
	}
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	node := &pg_query.Node{}
	ac := &pg_query.A_Const{}
	integer := &pg_query.Integer{}
	v := &pg_query.Var{}
	// Node{a_const: A_Const{ival: Integer{ival: i}, <extra>}}
	aconst := func(ival []byte, extra ...[]byte) []byte {
		return msg(num(node, "a_const"), cat(append([][]byte{msg(num(ac, "ival"), ival)}, extra...)...))
	}
	five := varint(num(integer, "ival"), 5)
	// Node{var: Var{varnullingrels: ..., <extra>}}
	varNode := func(parts ...[]byte) []byte { return msg(num(node, "var"), cat(parts...)) }
	rels := num(v, "varnullingrels")
	packed := func(vals ...uint64) []byte {
		var p []byte
		for _, x := range vals {
			p = protowire.AppendVarint(p, x)
		}
		return msg(rels, p)
	}
	for _, c := range []struct {
		name string
		a, b []byte
		want bool
	}{
		{"same", aconst(five), aconst(five), true},
		{"Go's own encoding", aconst(five), encodeNode(t, pg_query.MakeAConstIntNode(5, 0)), true},
		{"other value", aconst(five), aconst(varint(num(integer, "ival"), 6)), false},
		{"explicit zero", aconst(five), aconst(five, varint(num(ac, "isnull"), 0)), true},
		{"explicit false vs true", aconst(five, varint(num(ac, "isnull"), 1)), aconst(five, varint(num(ac, "isnull"), 0)), false},
		{"locations", aconst(five, varint(num(ac, "location"), 3)), aconst(five, varint(num(ac, "location"), 70)), true},
		{"negative int32, short form", aconst(varint(num(integer, "ival"), uint64(1<<64-1))), aconst(varint(num(integer, "ival"), 1<<32-1)), true},
		{"field given twice", aconst(five), aconst(cat(five, five)), false},
		{"field given twice, last zero", aconst(five), aconst(cat(five, varint(num(integer, "ival"), 0))), false},
		{"message given twice", aconst(five), cat(aconst(five), aconst(five)), false},
		{"unknown field", aconst(five), aconst(five, varint(99, 1)), false},
		{"wrong wire type", aconst(five), aconst(msg(num(integer, "ival"), []byte{5})), false},
		{"empty message vs absent", aconst(five), msg(num(node, "a_const"), msg(num(ac, "ival"), nil)), false},
		{"packed vs unpacked", varNode(packed(1, 2)), varNode(varint(rels, 1), varint(rels, 2)), true},
		{"packed split", varNode(packed(1, 2)), varNode(packed(1), packed(2)), true},
		{"list order", varNode(packed(1, 2)), varNode(packed(2, 1)), false},
		{"list zero kept", varNode(packed(0, 2)), varNode(packed(2)), false},
		{"unpacked list zero kept", varNode(varint(rels, 0), varint(rels, 2)), varNode(packed(2)), false},
		{"fields out of order", varNode(varint(num(v, "varno"), 1), varint(num(v, "varattno"), 2)), varNode(varint(num(v, "varattno"), 2), varint(num(v, "varno"), 1)), true},
		{"truncated", aconst(five), aconst(five)[:3], false},
	} {
		if got := sameTree(c.a, c.b); got != c.want {
			t.Errorf("%s: sameTree(a, b) = %v, want %v", c.name, got, c.want)
		}
		if got := sameTree(c.b, c.a); got != c.want {
			t.Errorf("%s: sameTree(b, a) = %v, want %v", c.name, got, c.want)
		}
	}
}

// oldUpdateRewrite is updateRewrite as it was, from parsed templates.
func oldUpdateRewrite(t *testing.T, u *pg_query.UpdateStmt, names helperNames) *pg_query.UpdateStmt {
	ref := quoteIdent(refName(u.Relation))
	q := func(s string) string { return quoteIdent(names.name(s)) }
	sub, err := parseSelect(fmt.Sprintf("SELECT %[1]s.tableoid AS %[2]s, %[1]s.ctid AS %[3]s, %[1]s AS %[4]s FROM x",
		q("self"), q("toid"), q("ctid"), q("row")))
	if err != nil {
		t.Fatal(err)
	}
	self := clone(u.Relation)
	self.Alias = &pg_query.Alias{Aliasname: names.name("self")}
	sub.FromClause = []*pg_query.Node{rangeVarNode(self)}
	rw := clone(u)
	old := &pg_query.RangeSubselect{Subquery: selectNode(sub), Alias: &pg_query.Alias{Aliasname: names.name("old")}}
	rw.FromClause = append([]*pg_query.Node{{Node: &pg_query.Node_RangeSubselect{RangeSubselect: old}}}, rw.FromClause...)
	join, err := whereOf(fmt.Sprintf("%[1]s.ctid = %[2]s.%[3]s AND %[1]s.tableoid = %[2]s.%[4]s", ref, q("old"), q("ctid"), q("toid")))
	if err != nil {
		t.Fatal(err)
	}
	rw.WhereClause = and(join, rw.WhereClause)
	ret, err := parseSelect(fmt.Sprintf("SELECT %[1]s.%[2]s, %[3]s.tableoid, (%[1]s.%[4]s).*, %[3]s.*", q("old"), q("toid"), ref, q("row")))
	if err != nil {
		t.Fatal(err)
	}
	rw.ReturningList = ret.TargetList
	return rw
}

var updateShapes = []string{
	`UPDATE t SET a = 1`,
	`UPDATE t SET a = 1 WHERE b = 2`,
	`UPDATE ONLY s.t AS x SET a = x.a + 1 FROM u, v WHERE x.id = u.id RETURNING *`,
	`UPDATE "db"."s p"."T""x" "we ird" SET a = 1 WHERE a AND b OR c`,
	`UPDATE "Ta""b; lé select" SET "select" = 'FROM WHERE RETURNING' WHERE "ïd" = 1 AND (a OR b) AND c`,
	`WITH w AS (SELECT 1 AS id) UPDATE t SET a = w.id FROM w WHERE t.id = w.id`,
	`UPDATE t SET a = b IS DISTINCT FROM c, d = e IS NOT DISTINCT FROM f FROM u WHERE t.x IS DISTINCT FROM u.x`,
	"UPDATE t -- the table\nSET a = 1 -- one\nWHERE b = 2 -- two\nRETURNING a -- end",
	"UPDATE t SET a = 1 /* FROM x WHERE y */ FROM u /* WHERE */ WHERE (b = 2) /* RETURNING */",
	`UPDATE t SET (a, b) = (SELECT 1, 2 FROM u WHERE u.x = t.x) WHERE c = '--not a comment'`,
	`UPDATE t SET a = $$ FROM $$, b = (ARRAY[1, 2])[1], b2 = c[1:2], c = substring(d FROM 2 FOR 3) WHERE e = E'\' WHERE'`,
	`WITH RECURSIVE r AS (SELECT 1 AS id UNION ALL SELECT id + 1 FROM r WHERE id < 3) CYCLE id SET is_cycle USING path
		UPDATE t SET a = r.id FROM r WHERE t.id = r.id`,
	`WITH update AS (SELECT 1 AS set) UPDATE t SET a = update.set FROM update`,
	"UPDATE\tt\nSET\ta = 1\n\nWHERE\n\tb = 2\n",
}

// TestBuiltNodesMatchParser: the trees updateRewrite builds are the ones
// parsing its former templates gave.
func TestBuiltNodesMatchParser(t *testing.T) {
	for _, sql := range updateShapes {
		u := parseNode(t, sql).GetUpdateStmt()
		for _, names := range []helperNames{{"lb_"}, {"lb7_"}} {
			got := &pg_query.Node{Node: &pg_query.Node_UpdateStmt{UpdateStmt: updateRewrite(u, names)}}
			want := &pg_query.Node{Node: &pg_query.Node_UpdateStmt{UpdateStmt: oldUpdateRewrite(t, u, names)}}
			if !refEqual(got, want) {
				t.Errorf("%s: built tree differs from the template's", sql)
			}
		}
		if !refEqual(parseNode(t, sql), &pg_query.Node{Node: &pg_query.Node_UpdateStmt{UpdateStmt: u}}) {
			t.Errorf("%s: updateRewrite changed the statement's own tree", sql)
		}
	}
	for _, ref := range []string{"t", `we "ird`, "ünï"} {
		s, err := parseSelect(fmt.Sprintf("SELECT %[1]s.tableoid AS %[2]s, %[1]s.ctid AS %[3]s, %[1]s.*", quoteIdent(ref), quoteIdent("lb_toid"), quoteIdent("lb_ctid")))
		if err != nil {
			t.Fatal(err)
		}
		got := newSelect(rowsTargets(ref, helperNames{"lb_"}))
		if !refEqual(selectNode(got), selectNode(newSelect(s.TargetList))) {
			t.Errorf("rowsTargets(%q) differs from the template's", ref)
		}
		s, err = parseSelect("SELECT " + quoteIdent(ref) + ".*")
		if err != nil {
			t.Fatal(err)
		}
		if !refEqual(selectNode(newSelect([]*pg_query.Node{resTarget(colStar(ref), "")})), selectNode(s)) {
			t.Errorf("colStar(%q) differs from the template's", ref)
		}
	}
}

// TestSpliceUpdate: the spliced statement is what runs for the usual
// shapes, and whatever runs parses to the rewritten tree.
func TestSpliceUpdate(t *testing.T) {
	names := helperNames{"lb_"}
	for _, sql := range updateShapes {
		u := parseNode(t, sql).GetUpdateStmt()
		n := &pg_query.Node{Node: &pg_query.Node_UpdateStmt{UpdateStmt: updateRewrite(u, names)}}
		spliced := spliceUpdate(sql, u, names)
		got, ok := exactSQL(n, spliced)
		if !ok {
			t.Errorf("%s: not rewritten exactly", sql)
			continue
		}
		if got != spliced {
			t.Errorf("%s: the splice was not used:\n%s", sql, spliced)
		}
		if !sameTree(encodeNode(t, n), encodeNode(t, parseNode(t, got))) {
			t.Errorf("%s: ran %s, which is not the rewritten tree", sql, got)
		}
	}
	for _, sql := range sameTreeCorpus {
		u := parseNode(t, sql).GetUpdateStmt()
		if u == nil || isCurrentOf(u.WhereClause) {
			continue
		}
		n := &pg_query.Node{Node: &pg_query.Node_UpdateStmt{UpdateStmt: updateRewrite(u, names)}}
		if got, ok := exactSQL(n, spliceUpdate(sql, u, names)); !ok || !sameTree(encodeNode(t, n), encodeNode(t, parseNode(t, got))) {
			t.Errorf("%s: not rewritten exactly (%v): %s", sql, ok, got)
		}
	}
}

// TestWithReturning: DELETE and INSERT keep their text, RETURNING aside.
func TestWithReturning(t *testing.T) {
	for _, sql := range []string{
		`DELETE FROM t`, `DELETE FROM t AS x USING u WHERE x.a = u.a RETURNING x.a, 'RETURNING'`,
		"INSERT INTO t VALUES (1) -- RETURNING\n", `INSERT INTO t AS x SELECT * FROM u ON CONFLICT (a) DO UPDATE SET b = 1 WHERE x.c RETURNING *`,
		`WITH w AS (DELETE FROM u RETURNING *) INSERT INTO t SELECT * FROM w`,
	} {
		n := parseNode(t, sql)
		var ref string
		var hasRet bool
		rw := proto.Clone(n).(*pg_query.Node)
		switch {
		case n.GetDeleteStmt() != nil:
			ref, hasRet = refName(n.GetDeleteStmt().Relation), len(n.GetDeleteStmt().ReturningList) > 0
			rw.GetDeleteStmt().ReturningList = []*pg_query.Node{resTarget(colStar(ref), "")}
		default:
			ref, hasRet = refName(n.GetInsertStmt().Relation), len(n.GetInsertStmt().ReturningList) > 0
			rw.GetInsertStmt().ReturningList = []*pg_query.Node{resTarget(colStar(ref), "")}
		}
		spliced := withReturning(sql, hasRet, quoteIdent(ref)+".*")
		got, ok := exactSQL(rw, spliced)
		if !ok || got != spliced {
			t.Errorf("%s: the splice was not used (%v):\n%s", sql, ok, spliced)
		}
	}
}

// TestExactSQLRefusesWrongSplice: a spliced text that does not parse to
// exactly the rewritten tree never runs; the deparser's text does.
func TestExactSQLRefusesWrongSplice(t *testing.T) {
	names := helperNames{"lb_"}
	sql := `UPDATE t SET a = 1 WHERE b = 2 OR c = 3 RETURNING a`
	u := parseNode(t, sql).GetUpdateStmt()
	n := &pg_query.Node{Node: &pg_query.Node_UpdateStmt{UpdateStmt: updateRewrite(u, names)}}
	right := spliceUpdate(sql, u, names)
	if got, ok := exactSQL(n, right); !ok || got != right {
		t.Fatalf("the right splice was not used: %s", got)
	}
	printed, ok := deparseExact(n)
	if !ok {
		t.Fatal("not printed exactly")
	}
	for _, wrong := range []string{
		strings.Replace(right, "b = 2", "b = 3", 1),
		strings.Replace(right, "(b = 2 OR c = 3)", "b = 2 OR c = 3", 1), // precedence
		strings.Replace(right, `"t".ctid = "lb_old"."lb_ctid" AND `, "", 1),
		strings.Replace(right, "(b = 2 OR c = 3)", "(b = 2 -- OR c = 3)\n)", 1),
		strings.Replace(right, `, "t".*`, "", 1),
		strings.Replace(right, `UPDATE t`, `UPDATE ONLY t`, 1),
		strings.Replace(right, `"lb_self"`, `"lb_Self"`, 1),
		right + "; DELETE FROM t",
		right + " -- ",
		strings.Replace(right, "1", "1.0", 1),
		"UPDATE t SET a = 1",
		"",
	} {
		got, ok := exactSQL(n, wrong)
		if !ok {
			t.Errorf("not rewritten exactly with splice %q", wrong)
			continue
		}
		if got == wrong && wrong != right+" -- " {
			t.Errorf("a wrong splice ran: %s", wrong)
		}
		if got != printed && got != wrong {
			t.Errorf("ran %s, neither the splice nor the printed statement", got)
		}
	}
}

func TestTreeCache(t *testing.T) {
	var c treeCache
	tree := func(i int) *pg_query.Node { return pg_query.MakeIntNode(int64(i)) }
	var texts []string
	var trees []*pg_query.Node
	for i := 0; i < treeCacheEntries+10; i++ {
		texts = append(texts, fmt.Sprintf("SELECT %d", i))
		trees = append(trees, tree(i))
	}
	c.put(texts, trees)
	if c.take("SELECT 0") != nil || c.take("SELECT 9") != nil {
		t.Error("the oldest entries were kept beyond the cache's size")
	}
	if got := c.take("SELECT 10"); got != trees[10] {
		t.Error("a recent entry was lost")
	}
	if c.take("SELECT 10") != nil {
		t.Error("an entry was taken twice")
	}
	long := strings.Repeat("x", treeCacheMaxText+1)
	c.put([]string{long}, []*pg_query.Node{tree(1)})
	if c.take(long) != nil {
		t.Error("an over-long statement was kept")
	}
	big := strings.Repeat("y", treeCacheMaxText)
	for i := 0; i < treeCacheBytes/treeCacheMaxText+2; i++ {
		c.put([]string{big + strings.Repeat("z", i)}, []*pg_query.Node{tree(i)})
	}
	if c.size > treeCacheBytes {
		t.Errorf("the cache holds %d bytes of text, more than %d", c.size, treeCacheBytes)
	}
	c.put([]string{"SELECT 1", "SELECT 1"}, []*pg_query.Node{tree(1), tree(2)})
	if got := c.take("SELECT 1"); got == nil || got.GetInteger().GetIval() != 2 || c.take("SELECT 1") != nil {
		t.Error("a repeated statement did not keep its last tree once")
	}
}
