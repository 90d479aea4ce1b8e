package postgres

import (
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// TestDeparseExact runs awkward user statements through the print-and-
// reparse check the rewrites rely on: all of these must print faithfully
// (a failure here means such statements would be refused as unguarded).
func TestDeparseExact(t *testing.T) {
	for _, sql := range []string{
		`DELETE FROM t WHERE a = 1 OR b = 2 AND NOT c`,
		`DELETE FROM ONLY s."T;x" AS "we ird" USING u, LATERAL (SELECT 1) l WHERE "we ird".a = u.a`,
		`UPDATE t SET a = a + 1, b = DEFAULT, c[2] = 'x', (d, e) = (SELECT 1, 2), f.g = 3 WHERE a BETWEEN SYMMETRIC 1 AND 2`,
		`UPDATE t SET v = v COLLATE "C" || E'\\n\'' || $$q;$$ || U&'\0041' WHERE x::numeric(10,2) > 1.5 AND ts AT TIME ZONE 'UTC' < now()`,
		`UPDATE t SET j = j || '{"a":1}'::jsonb WHERE j ->> 'k' = 'v' AND j #> '{a,b}' IS NOT NULL AND a = ANY (ARRAY[1, 2])`,
		`UPDATE t SET a = 1 WHERE a OPERATOR(pg_catalog.+) 1 > 2 AND b LIKE 'x!%' ESCAPE '!' AND c IS DISTINCT FROM d`,
		`UPDATE t SET i = interval '1' day, n = CASE WHEN a THEN 1 ELSE NULLIF(b, 0) END WHERE EXISTS (SELECT 1 FROM u WHERE u.a = t.a)`,
		`WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) DELETE FROM t WHERE a IN (SELECT n FROM r)`,
		`INSERT INTO t (a, b) SELECT x, row_number() OVER (PARTITION BY y ORDER BY z DESC NULLS LAST) FROM u FOR UPDATE`,
		`INSERT INTO t VALUES (1, 'a'), (-2, NULL) ON CONFLICT (a) WHERE b IS NOT NULL DO UPDATE SET b = excluded.b WHERE t.b <> excluded.b`,
		`INSERT INTO t (a) OVERRIDING SYSTEM VALUE VALUES (1)`, `INSERT INTO t DEFAULT VALUES`,
		`UPDATE t SET a = -(-1), b = 2 ^ 3 ^ 2, c = (1 + 2) * 3, d = 'a' || 'b' || 'c' WHERE (a, b) > (1, 2) AND a % 2 = 0`,
	} {
		res, err := pg_query.Parse(sql)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if out, ok := deparseExact(res.Stmts[0].Stmt); !ok {
			t.Errorf("not printed faithfully:\n in %s\nout %s", sql, out)
		}
	}
}

func TestNormalizeFlattensAndDetects(t *testing.T) {
	parse := func(sql string) *pg_query.Node {
		r, err := pg_query.Parse(sql)
		if err != nil {
			t.Fatal(err)
		}
		n := r.Stmts[0].Stmt
		normalize(n.ProtoReflect())
		return n
	}
	a := parse("SELECT 1 WHERE (a AND b) AND c")
	b := parse("SELECT 1 WHERE a AND (b AND c)")
	if !equalNodes(a, b) {
		t.Error("nested ANDs not flattened")
	}
	if equalNodes(parse("SELECT 1 WHERE a AND (b OR c)"), parse("SELECT 1 WHERE (a AND b) OR c")) {
		t.Error("different precedence compared equal")
	}
	if equalNodes(parse("SELECT 1 WHERE a = 1"), parse("SELECT 1 WHERE a = 2")) {
		t.Error("different constants compared equal")
	}
}
