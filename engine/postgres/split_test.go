package postgres

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"lifebelt/engine"
)

func TestSplitBoundaries(t *testing.T) {
	in := "select 1;  -- c1\n /* c2 */ delete from t where x=';' ; ; select $$a;b$$;\n" +
		"insert into \"we;ird\" values (E'it''s\\';')  ;select 'é' -- end"
	got, err := split(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"select 1",
		"-- c1\n /* c2 */ delete from t where x=';'",
		"select $$a;b$$",
		"insert into \"we;ird\" values (E'it''s\\';')",
		"select 'é' -- end",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d statements, want %d: %#v", len(got), len(want), got)
	}
	for i, st := range got {
		if st.Text != want[i] {
			t.Errorf("statement %d: text %q, want %q", i, st.Text, want[i])
		}
		if st.Index != i {
			t.Errorf("statement %d: index %d", i, st.Index)
		}
		if in[st.Offset:st.Offset+len(st.Text)] != st.Text {
			t.Errorf("statement %d: offset %d does not locate its text", i, st.Offset)
		}
	}
}

func TestSplitSyntaxErrors(t *testing.T) {
	for _, tc := range []struct {
		in     string
		offset int
		msg    string
	}{
		{"select 1; selec 2", 10, `syntax error at or near "selec"`},
		{"select 'abc", 7, "unterminated quoted string"},
		// The parser counts characters; the offset is in bytes.
		{"select 'é' ; select é(; ", 24, `syntax error at or near ";"`},
		{"select $$abc", 7, "unterminated dollar-quoted string"},
		{"/* open", 0, "unterminated /* comment"},
		{"select 1;\x00select 2", 9, "NUL byte"},
		{"select '\xff'", 8, "not valid UTF-8"},
	} {
		_, err := split(tc.in)
		var se *engine.SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: got %v, want a SyntaxError", tc.in, err)
			continue
		}
		if se.Offset != tc.offset || !strings.Contains(se.Msg, tc.msg) {
			t.Errorf("%q: got offset %d %q, want %d %q", tc.in, se.Offset, se.Msg, tc.offset, tc.msg)
		}
	}
}

func TestSplitEmpty(t *testing.T) {
	for _, in := range []string{"", "  ", ";;", "-- only a comment", "/* c */ ; "} {
		got, err := split(in)
		if err != nil || len(got) != 0 {
			t.Errorf("%q: got %v, %v; want no statements", in, got, err)
		}
	}
}

func TestClassify(t *testing.T) {
	n := func(schema, name string) engine.Name { return engine.Name{Schema: schema, Name: name} }
	for _, tc := range []struct {
		sql  string
		want engine.Statement
	}{
		{"SELECT * FROM t", engine.Statement{Kind: engine.KindRead, Verb: "SELECT"}},
		{"values (1)", engine.Statement{Kind: engine.KindRead, Verb: "SELECT"}},
		{"with x as (select 1) select * from x", engine.Statement{Kind: engine.KindRead, Verb: "SELECT"}},
		{"show search_path", engine.Statement{Kind: engine.KindRead, Verb: "SHOW"}},
		{"explain select 1", engine.Statement{Kind: engine.KindRead, Verb: "EXPLAIN"}},
		{"explain (analyze) delete from t", engine.Statement{Kind: engine.KindDML, Verb: "EXPLAIN", Targets: []engine.Name{n("", "t")}, HasWhere: true}},
		{"explain (analyze false) delete from t", engine.Statement{Kind: engine.KindRead, Verb: "EXPLAIN"}},
		{`insert into "S"."Tab ;le" values (1)`, engine.Statement{Kind: engine.KindDML, Verb: "INSERT", Targets: []engine.Name{n("S", "Tab ;le")}}},
		{"insert into t values (1) on conflict do nothing", engine.Statement{Kind: engine.KindDML, Verb: "UPSERT", Targets: []engine.Name{n("", "t")}}},
		{"update s.t set a = 1", engine.Statement{Kind: engine.KindDML, Verb: "UPDATE", Targets: []engine.Name{n("s", "t")}}},
		{"update t set a = 1 where b", engine.Statement{Kind: engine.KindDML, Verb: "UPDATE", Targets: []engine.Name{n("", "t")}, HasWhere: true}},
		{"with d as (select 1) delete from ONLY t using u where t.a = u.a", engine.Statement{Kind: engine.KindDML, Verb: "DELETE", Targets: []engine.Name{n("", "t")}, HasWhere: true}},
		{"with d as (delete from t returning *) select * from d", engine.Statement{Kind: engine.KindDML, Verb: "DELETE", Targets: []engine.Name{n("", "t")}}},
		{"merge into t using u on t.a = u.a when matched then delete", engine.Statement{Kind: engine.KindDML, Verb: "MERGE", Targets: []engine.Name{n("", "t")}, HasWhere: true}},
		{"begin", engine.Statement{Kind: engine.KindTxControl, Verb: "BEGIN"}},
		{"start transaction isolation level serializable", engine.Statement{Kind: engine.KindTxControl, Verb: "BEGIN"}},
		{"commit", engine.Statement{Kind: engine.KindTxControl, Verb: "COMMIT"}},
		{"end", engine.Statement{Kind: engine.KindTxControl, Verb: "COMMIT"}},
		{"rollback to savepoint a", engine.Statement{Kind: engine.KindTxControl, Verb: "ROLLBACK"}},
		{"savepoint a", engine.Statement{Kind: engine.KindTxControl, Verb: "SAVEPOINT"}},
		{"release a", engine.Statement{Kind: engine.KindTxControl, Verb: "RELEASE"}},
		{"create table if not exists s.t (a int)", engine.Statement{Kind: engine.KindDDL, Verb: "CREATE", Object: "TABLE", Targets: []engine.Name{n("s", "t")}}},
		{"create temp table t as select 1", engine.Statement{Kind: engine.KindDDL, Verb: "CREATE", Object: "TABLE", Targets: []engine.Name{n("", "t")}}},
		{"select 1 into t2", engine.Statement{Kind: engine.KindDDL, Verb: "CREATE", Object: "TABLE", Targets: []engine.Name{n("", "t2")}}},
		{"create materialized view m as select 1", engine.Statement{Kind: engine.KindDDL, Verb: "CREATE", Object: "MATERIALIZED VIEW", Targets: []engine.Name{n("", "m")}}},
		{"create or replace view v as select 1", engine.Statement{Kind: engine.KindDDL, Verb: "CREATE", Object: "VIEW", Targets: []engine.Name{n("", "v")}, OrReplace: true}},
		{"create or replace function s.f(a int) returns int language sql as 'select a'", engine.Statement{Kind: engine.KindDDL, Verb: "CREATE", Object: "FUNCTION", Targets: []engine.Name{n("s", "f")}, OrReplace: true}},
		{"create procedure p() language sql as ''", engine.Statement{Kind: engine.KindDDL, Verb: "CREATE", Object: "PROCEDURE", Targets: []engine.Name{n("", "p")}}},
		{"create unique index concurrently i on s.t (a)", engine.Statement{Kind: engine.KindDDL, Verb: "CREATE", Object: "INDEX", Targets: []engine.Name{n("s", "i"), n("s", "t")}}},
		{"create trigger tr after insert on t for each row execute function f()", engine.Statement{Kind: engine.KindDDL, Verb: "CREATE", Object: "TRIGGER", Targets: []engine.Name{n("", "tr"), n("", "t")}}},
		{"create sequence q", engine.Statement{Kind: engine.KindDDL, Verb: "CREATE", Object: "SEQUENCE", Targets: []engine.Name{n("", "q")}}},
		{"create schema x", engine.Statement{Kind: engine.KindDDL, Verb: "CREATE", Object: "SCHEMA", Targets: []engine.Name{n("", "x")}}},
		{"create type e as enum ('a')", engine.Statement{Kind: engine.KindDDL, Verb: "CREATE", Object: "TYPE", Targets: []engine.Name{n("", "e")}}},
		{"create database d", engine.Statement{Kind: engine.KindDDL, Verb: "CREATE", Object: "DATABASE", Targets: []engine.Name{n("", "d")}}},
		{"drop database if exists d", engine.Statement{Kind: engine.KindDDL, Verb: "DROP", Object: "DATABASE", Targets: []engine.Name{n("", "d")}, IfExists: true}},
		{"create role r", engine.Statement{Kind: engine.KindDDL, Verb: "CREATE"}},
		{"alter table only s.t add column b int", engine.Statement{Kind: engine.KindDDL, Verb: "ALTER", Object: "TABLE", Targets: []engine.Name{n("s", "t")}}},
		{"alter table if exists t rename to u", engine.Statement{Kind: engine.KindDDL, Verb: "ALTER", Object: "TABLE", Targets: []engine.Name{n("", "t")}, IfExists: true}},
		{"alter table t rename column a to b", engine.Statement{Kind: engine.KindDDL, Verb: "ALTER", Object: "TABLE", Targets: []engine.Name{n("", "t")}}},
		{"alter index i rename to j", engine.Statement{Kind: engine.KindDDL, Verb: "ALTER", Object: "INDEX", Targets: []engine.Name{n("", "i")}}},
		{"alter function f(int) owner to r", engine.Statement{Kind: engine.KindDDL, Verb: "ALTER"}},
		{"drop table if exists a, s.b cascade", engine.Statement{Kind: engine.KindDDL, Verb: "DROP", Object: "TABLE", Targets: []engine.Name{n("", "a"), n("s", "b")}, Cascade: true, IfExists: true}},
		{"drop materialized view m", engine.Statement{Kind: engine.KindDDL, Verb: "DROP", Object: "MATERIALIZED VIEW", Targets: []engine.Name{n("", "m")}}},
		{"drop function s.f(int, text)", engine.Statement{Kind: engine.KindDDL, Verb: "DROP", Object: "FUNCTION", Targets: []engine.Name{n("s", "f")}}},
		{"drop trigger tr on s.t", engine.Statement{Kind: engine.KindDDL, Verb: "DROP", Object: "TRIGGER", Targets: []engine.Name{n("s", "tr"), n("s", "t")}}},
		{"drop schema x cascade", engine.Statement{Kind: engine.KindDDL, Verb: "DROP", Object: "SCHEMA", Targets: []engine.Name{n("", "x")}, Cascade: true}},
		{"drop owned by r", engine.Statement{Kind: engine.KindDDL, Verb: "DROP"}},
		{"truncate only a, s.b restart identity cascade", engine.Statement{Kind: engine.KindDDL, Verb: "TRUNCATE", Object: "TABLE", Targets: []engine.Name{n("", "a"), n("s", "b")}, Cascade: true}},
		{"comment on column s.t.a is 'x'", engine.Statement{Kind: engine.KindDDL, Verb: "COMMENT", Object: "COLUMN", Targets: []engine.Name{n("s", "t")}}},
		{"comment on table t is 'x'", engine.Statement{Kind: engine.KindDDL, Verb: "COMMENT", Object: "TABLE", Targets: []engine.Name{n("", "t")}}},
		{"vacuum t", engine.Statement{Kind: engine.KindOther, Verb: "VACUUM"}},
		{"analyze t", engine.Statement{Kind: engine.KindOther, Verb: "ANALYZE"}},
		{"set search_path = x", engine.Statement{Kind: engine.KindOther, Verb: "SET"}},
		{"do $$ begin end $$", engine.Statement{Kind: engine.KindOther, Verb: "DO"}},
		{"call p()", engine.Statement{Kind: engine.KindOther, Verb: "CALL"}},
		{"copy t from stdin", engine.Statement{Kind: engine.KindOther, Verb: "COPY"}},
		{"grant select on t to r", engine.Statement{Kind: engine.KindOther, Verb: "GRANT"}},
		{"alter system set work_mem = '1MB'", engine.Statement{Kind: engine.KindOther, Verb: "ALTER SYSTEM"}},
		{"lock table t", engine.Statement{Kind: engine.KindOther, Verb: "LOCK"}},
		{"/* lead */ -- more\n select 1", engine.Statement{Kind: engine.KindRead, Verb: "SELECT"}},
	} {
		got, err := split(tc.sql)
		if err != nil {
			t.Errorf("%q: %v", tc.sql, err)
			continue
		}
		if len(got) != 1 {
			t.Errorf("%q: %d statements", tc.sql, len(got))
			continue
		}
		g := got[0]
		g.Text, g.Offset, g.Index = "", 0, 0
		if !reflect.DeepEqual(g, tc.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.sql, g, tc.want)
		}
	}
}

// FuzzSplit checks that split never panics and that every statement's
// text is found in the input at its offset, in order, without overlap.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{
		"select 1; select 2",
		"select $$a;b$$; update t set x=';'",
		"insert into \"a;b\" values (E'\\';'); -- c\n/* d; */ delete from x",
		"create function f() returns int as $body$ select 1; $body$ language sql; select f()",
		"select 'é'; select 'unterminated",
		"/* nested /* comment */ ; */ select 1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		stmts, err := split(in)
		if err != nil {
			var se *engine.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error is not a SyntaxError: %v", err)
			}
			if se.Offset < 0 || se.Offset > len(in) {
				t.Fatalf("error offset %d outside the input (len %d)", se.Offset, len(in))
			}
			return
		}
		end := 0
		for i, st := range stmts {
			if st.Index != i {
				t.Fatalf("statement %d has index %d", i, st.Index)
			}
			if st.Offset < end || st.Offset+len(st.Text) > len(in) || in[st.Offset:st.Offset+len(st.Text)] != st.Text {
				t.Fatalf("statement %d (%q at %d) is not the input's text after byte %d", i, st.Text, st.Offset, end)
			}
			if st.Text == "" {
				t.Fatalf("statement %d is empty", i)
			}
			end = st.Offset + len(st.Text)
		}
	})
}

// ALTER TABLE ... DROP COLUMN destroys the column's values: it needs the
// confirmation naming the database; other DROPs inside ALTER TABLE do not.
func TestSplitDropColumnDestructive(t *testing.T) {
	for in, want := range map[string]bool{
		`ALTER TABLE t DROP COLUMN b`:                               true,
		`ALTER TABLE IF EXISTS ONLY t ADD c int, DROP "drop"`:       true,
		`ALTER TABLE t ALTER b DROP DEFAULT, DROP CONSTRAINT k`:     false,
		`ALTER TABLE t ALTER COLUMN b DROP NOT NULL`:                false,
		`ALTER TABLE t RENAME COLUMN "drop" TO x`:                   false,
		`ALTER TABLE t ALTER COLUMN b DROP IDENTITY IF EXISTS`:      false,
		`ALTER TABLE t DROP CONSTRAINT k, ALTER b SET STATISTICS 1`: false,
	} {
		sts, err := split(in)
		if err != nil || len(sts) != 1 {
			t.Fatalf("%s: %v %v", in, sts, err)
		}
		if got := sts[0].Destructive(); got != want {
			t.Errorf("%s: Destructive() = %v, want %v", in, got, want)
		}
	}
}
