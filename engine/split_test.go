package engine

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

func splitTexts(sts []Statement) []string {
	var out []string
	for _, s := range sts {
		out = append(out, s.Text)
	}
	return out
}

func TestSplitSQL(t *testing.T) {
	const (
		lite = SyntaxSQLite
		pg   = SyntaxPostgres
		ms   = SyntaxTSQL
	)
	all := []Syntax{lite, pg, ms}
	tests := []struct {
		name string
		syns []Syntax
		in   string
		want []string
	}{
		{"plain", all, "select 1; select 2;", []string{"select 1", "select 2"}},
		{"no final semicolon", all, "select 1;\n\n  select 2  \n", []string{"select 1", "select 2"}},
		{"empty statements dropped", all, " ; ;;select 1;;\n;", []string{"select 1"}},
		{"empty input", all, "", nil},
		{"whitespace only", all, " \n\t ", nil},
		{"comment-only statements dropped", all, "-- a\n; /* b */ ; select 1; -- tail", []string{"select 1"}},
		{"comments around trimmed, inside kept", all,
			"-- lead;\n/* x; */ select /* in; */ 1 -- trail;\n; select 2",
			[]string{"select /* in; */ 1", "select 2"}},
		{"line comment at end without newline", all, "select 1 -- done", []string{"select 1"}},
		{"line comment ends at CR", []Syntax{pg, ms}, "select 1 --;\r+ 2; select 3", []string{"select 1 --;\r+ 2", "select 3"}},
		{"sqlite line comment ends at LF only", []Syntax{lite}, "select 1 --\r; select 2\n+ 2; select 3", []string{"select 1 --\r; select 2\n+ 2", "select 3"}},
		{"semicolon in string", all, "insert into t values (';'); select 'a'';b'", []string{"insert into t values (';')", "select 'a'';b'"}},
		{"semicolon in quoted identifier", all, `select "a;""b" from "t;"; select 2`, []string{`select "a;""b" from "t;"`, "select 2"}},
		{"semicolon in parentheses", all, "select (1; 2); select 3", []string{"select (1; 2)", "select 3"}},
		{"stray closing parenthesis", all, "select 1); select 2", []string{"select 1)", "select 2"}},
		{"dash and slash operators", all, "select 4-2; select 4/2; select -1", []string{"select 4-2", "select 4/2", "select -1"}},
		{"unicode", all, "select ünï;côdé from 表; select '→;←'", []string{"select ünï", "côdé from 表", "select '→;←'"}},
		{"comment markers in string", all, "select '--;', '/*;'; select 2", []string{"select '--;', '/*;'", "select 2"}},

		// SQLite
		{"sqlite backtick and bracket identifiers", []Syntax{lite}, "select `a;b`, [c;d] from `t``;`; select 2",
			[]string{"select `a;b`, [c;d] from `t``;`", "select 2"}},
		{"sqlite bracket has no escape", []Syntax{lite}, "select [a]]; select 2", []string{"select [a]]", "select 2"}},
		{"sqlite block comments do not nest", []Syntax{lite}, "select /* /* */ 1; select 2", []string{"select /* /* */ 1", "select 2"}},
		{"sqlite trigger body", []Syntax{lite},
			"CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE u SET n = n + 1; DELETE FROM v; END; SELECT 1",
			[]string{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE u SET n = n + 1; DELETE FROM v; END", "SELECT 1"}},
		{"sqlite trigger with CASE END inside", []Syntax{lite},
			"create temp trigger if not exists tr before update on t when case when new.a then 1 end begin\n" +
				"  update u set x = case when new.b > 0 then 'pos;' else 'neg' end;\n" +
				"  select case new.c when 1 then raise(abort, 'no;') end;\nend;\nbegin immediate; commit",
			[]string{"create temp trigger if not exists tr before update on t when case when new.a then 1 end begin\n" +
				"  update u set x = case when new.b > 0 then 'pos;' else 'neg' end;\n" +
				"  select case new.c when 1 then raise(abort, 'no;') end;\nend", "begin immediate", "commit"}},
		{"sqlite begin transaction is not a body", []Syntax{lite}, "BEGIN; UPDATE t SET a = 1; END; BEGIN TRANSACTION; COMMIT",
			[]string{"BEGIN", "UPDATE t SET a = 1", "END", "BEGIN TRANSACTION", "COMMIT"}},
		{"sqlite dollar is not a quote", []Syntax{lite}, "select $a; select $$", []string{"select $a", "select $$"}},
		{"sqlite backslash is not an escape", []Syntax{lite}, `select 'a\'; select 2`, []string{`select 'a\'`, "select 2"}},

		// PostgreSQL
		{"pg dollar quotes", []Syntax{pg}, "select $$a;b$$; select $tag$ $$ ; $TAG$ $tag$; select 3",
			[]string{"select $$a;b$$", "select $tag$ $$ ; $TAG$ $tag$", "select 3"}},
		{"pg nested dollar tags", []Syntax{pg}, "select $a$x$b$;$b$y$a$; select 1", []string{"select $a$x$b$;$b$y$a$", "select 1"}},
		{"pg dollar parameter", []Syntax{pg}, "select $1; select $2$ ;", []string{"select $1", "select $2$"}},
		{"pg dollar in identifier", []Syntax{pg}, "select a$$b from t; select 1", []string{"select a$$b from t", "select 1"}},
		{"pg E string", []Syntax{pg}, `select E'it\'s; ok'; select e'\\'; select 3`, []string{`select E'it\'s; ok'`, `select e'\\'`, "select 3"}},
		{"pg E string continued", []Syntax{pg}, "select E'a'\n'b\\';c'; select 2", []string{"select E'a'\n'b\\';c'", "select 2"}},
		{"pg continuation only after newline", []Syntax{pg}, "select E'a' 'b'; select 2", []string{"select E'a' 'b'", "select 2"}},
		{"pg plain string backslash", []Syntax{pg}, `select 'a\'; select 2`, []string{`select 'a\'`, "select 2"}},
		{"pg identifier ending in e", []Syntax{pg}, `select type'\'; select 2`, []string{`select type'\'`, "select 2"}},
		{"pg U& string", []Syntax{pg}, `select U&'d\0061t\+000061;'; select 2`, []string{`select U&'d\0061t\+000061;'`, "select 2"}},
		{"pg nested comments", []Syntax{pg}, "select /* a /* b; */ c; */ 1; select 2", []string{"select /* a /* b; */ c; */ 1", "select 2"}},
		{"pg BEGIN ATOMIC body", []Syntax{pg},
			"create or replace function f() returns int language sql begin atomic select 1; select case when true then 2 end; end; select 4",
			[]string{"create or replace function f() returns int language sql begin atomic select 1; select case when true then 2 end; end", "select 4"}},
		{"pg plpgsql body in dollar quotes", []Syntax{pg},
			"create function f() returns void as $$ begin perform 1; end; $$ language plpgsql; begin; commit",
			[]string{"create function f() returns void as $$ begin perform 1; end; $$ language plpgsql", "begin", "commit"}},
		{"pg rule with parenthesised actions", []Syntax{pg},
			"create rule r as on insert to t do instead (insert into u values (1); insert into v values (2)); select 1",
			[]string{"create rule r as on insert to t do instead (insert into u values (1); insert into v values (2))", "select 1"}},
		{"pg brackets are arrays", []Syntax{pg}, "select a[1]; select 2", []string{"select a[1]", "select 2"}},

		// T-SQL
		{"tsql bracket identifiers", []Syntax{ms}, "select [a;]]b] from [dbo].[t]; select 2", []string{"select [a;]]b] from [dbo].[t]", "select 2"}},
		{"tsql N strings", []Syntax{ms}, "select N'a;''b'; select 2", []string{"select N'a;''b'", "select 2"}},
		{"tsql nested comments", []Syntax{ms}, "select /* a /* ; */ ; */ 1; select 2", []string{"select /* a /* ; */ ; */ 1", "select 2"}},
		{"tsql begin end block", []Syntax{ms},
			"IF @x = 1 BEGIN UPDATE t SET a = 1; DELETE FROM u; END ELSE BEGIN SELECT CASE WHEN 1=1 THEN 1 END; END; BEGIN TRAN; COMMIT",
			[]string{"IF @x = 1 BEGIN UPDATE t SET a = 1; DELETE FROM u; END ELSE BEGIN SELECT CASE WHEN 1=1 THEN 1 END; END", "BEGIN TRAN", "COMMIT"}},
		{"tsql try catch", []Syntax{ms}, "BEGIN TRY SELECT 1; END TRY BEGIN CATCH THROW; END CATCH; SELECT 2",
			[]string{"BEGIN TRY SELECT 1; END TRY BEGIN CATCH THROW; END CATCH", "SELECT 2"}},
		{"tsql procedure runs to the end", []Syntax{ms}, "CREATE OR ALTER PROCEDURE p AS SELECT 1; SELECT 2;",
			[]string{"CREATE OR ALTER PROCEDURE p AS SELECT 1; SELECT 2"}},
		{"tsql end conversation", []Syntax{ms}, "END CONVERSATION @h; SELECT 1", []string{"END CONVERSATION @h", "SELECT 1"}},
		{"tsql temp tables and variables", []Syntax{ms}, "insert into #t select @a; select 1", []string{"insert into #t select @a", "select 1"}},
	}
	for _, tt := range tests {
		for _, syn := range tt.syns {
			t.Run(tt.name+"/"+syn.String(), func(t *testing.T) {
				sts, err := SplitSQL(tt.in, syn)
				if err != nil {
					t.Fatalf("SplitSQL: %v", err)
				}
				if got := splitTexts(sts); !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("got  %q\nwant %q", got, tt.want)
				}
				for i, s := range sts {
					if s.Index != i || tt.in[s.Offset:s.Offset+len(s.Text)] != s.Text {
						t.Errorf("statement %d: Index %d, Offset %d does not locate %q", i, s.Index, s.Offset, s.Text)
					}
				}
			})
		}
	}
}

func TestSplitSQLErrors(t *testing.T) {
	tests := []struct {
		syn    Syntax
		in     string
		offset int
		msg    string
	}{
		{SyntaxSQLite, "select 1; select 'abc", 17, "string literal is never closed"},
		{SyntaxPostgres, `select "abc`, 7, "quoted identifier is never closed"},
		{SyntaxSQLite, "select `abc", 7, "quoted identifier is never closed"},
		{SyntaxSQLite, "select [abc", 7, "quoted identifier is never closed (missing ])"},
		{SyntaxTSQL, "select [a]]bc", 7, "quoted identifier is never closed (missing ])"},
		{SyntaxPostgres, "select 1 /* a", 9, "block comment is never closed"},
		{SyntaxPostgres, "select 1 /* a /* b */", 9, "block comment is never closed"},
		{SyntaxTSQL, "select 1 /* a /* b */", 9, "block comment is never closed"},
		{SyntaxPostgres, "select $x$ abc $y$", 7, "dollar-quoted string is never closed (missing $x$)"},
		{SyntaxPostgres, "select $$ abc", 7, "dollar-quoted string is never closed (missing $$)"},
		{SyntaxPostgres, `select E'it\'s`, 7, "string literal is never closed"},
		{SyntaxPostgres, "select E'a'\n'b", 7, "string literal is never closed"},
		{SyntaxPostgres, "select (1; select 2", 7, "parenthesis is never closed"},
		{SyntaxSQLite, "create trigger tr after insert on t begin delete from u; select 1", 36, "trigger body BEGIN has no matching END"},
		{SyntaxPostgres, "create function f() returns int language sql begin atomic select 1;", 45, "BEGIN ATOMIC has no matching END"},
		{SyntaxTSQL, "if 1=1 begin select 1;", 7, "BEGIN has no matching END"},
	}
	for _, tt := range tests {
		_, err := SplitSQL(tt.in, tt.syn)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%s %q: got %v, want a *SyntaxError", tt.syn, tt.in, err)
			continue
		}
		if se.Offset != tt.offset || !strings.Contains(se.Msg, tt.msg) {
			t.Errorf("%s %q: got offset %d %q, want %d %q", tt.syn, tt.in, se.Offset, se.Msg, tt.offset, tt.msg)
		}
	}
}

// pgScripts are valid PostgreSQL scripts that are hard to split.
var pgScripts = []string{
	"select 1; select 2",
	"select ';' as a; select ''';''' ;",
	"select $$a;b$$; select $tag$ $$ ; $tag$",
	"select $a$x$b$;$b$y$a$; select 1",
	`select E'it\'s; fine'; select e'\\'; select 1`,
	`select U&'d\0061t\+000061;'; select 1`,
	"/* outer /* inner; */ still; */ select 1; select 2",
	"-- c;\nselect 1 -- x;\n; select 2",
	`select "we;ird" from "a""b;"; select 1`,
	"create function f(a int) returns int as $$ begin return a; end; $$ language plpgsql; select f(1)",
	"create function g() returns int language sql begin atomic select 1; select case when true then 2 else 3 end; end; select 4",
	"create procedure p() language sql begin atomic insert into t values (1); end; call p()",
	"do $body$ begin perform 1; end $body$; select 2",
	"select $1; select 2",
	"create rule r as on insert to t do instead (insert into u values (1); insert into v values (2)); select 1",
	"select 1;;;  ; select 2;",
	"with d as (delete from t where a = 1 returning *) select * from d; select 1",
	"select E'a'\n'b\\'c;'; select 1",
	"begin; update t set a = 1 where b = ';'; commit;",
	"select 'a' -- comment ' ;\n ; select 2",
	"select 1 /* ; */ + 2; select 3",
	"select x$$ from t; select 1",
	`select 1 as "é;"; select ünïcode from t`,
	"create table t (a text default ';', b int check (b > 0)); insert into t values (';', 1)",
	"select (array[1,2])[1]; select '{1;2}'::text[]",
	"select $q$it's$q$; select 'x'",
	"prepare s as select $1; execute s(1)",
	"create function h() returns trigger as 'begin return new; end;' language plpgsql; select 1",
	"alter table t add column c int; comment on column t.c is 'a;b'",
	"select 1 -- no trailing newline",
	"select 1 --\r+ 2; select 3",
	"explain analyze select 1; select 2",
	"create or replace function f2() returns int language sql return 1; select 2",
	"select B'1010'; select X'1F'; select N'abc;'",
	"create function k() returns int language sql begin atomic select case when x then (select case when y then 1 end) end; end; select 9",
}

// TestSplitPostgresMatchesParser checks SyntaxPostgres against
// PostgreSQL's own parser (pg_query_go) on scripts that are hard to split.
func TestSplitPostgresMatchesParser(t *testing.T) {
	if !commentsOnly(" -- a\n /* b /* c */ */ ") || commentsOnly("-- a\n x") {
		t.Fatal("commentsOnly does not tell comments from SQL")
	}
	for _, script := range pgScripts {
		if _, err := pg_query.Parse(script); err != nil {
			t.Fatalf("pg_query rejects test script %q: %v", script, err)
		}
		if msg := diffPostgres(script); msg != "" {
			t.Error(msg)
		}
	}
}

// diffPostgres compares SplitSQL's statements with those of PostgreSQL's
// parser and describes the first difference, or returns "" when they agree
// or the parser rejects the script. The parser's statements keep the
// comments around them; SplitSQL's must be the same spans less comments
// and whitespace at either end.
func diffPostgres(script string) string {
	want, err := pg_query.SplitWithParser(script, true)
	if err != nil {
		return ""
	}
	tree, err := pg_query.Parse(script)
	if err != nil || len(tree.Stmts) != len(want) {
		return fmt.Sprintf("%q: pg_query.Parse disagrees with SplitWithParser: %v", script, err)
	}
	got, err := SplitSQL(script, SyntaxPostgres)
	if err != nil {
		return fmt.Sprintf("%q: %v; pg_query splits it into %q", script, err, want)
	}
	if len(got) != len(want) {
		return fmt.Sprintf("%q: got %d statements %q, pg_query %d %q", script, len(got), splitTexts(got), len(want), want)
	}
	for i, w := range want {
		start, end := int(tree.Stmts[i].StmtLocation), len(script)
		if n := int(tree.Stmts[i].StmtLen); n > 0 {
			end = start + n
		}
		g := got[i]
		if g.Offset < start || g.Offset+len(g.Text) > end ||
			!commentsOnly(script[start:g.Offset]) || !commentsOnly(script[g.Offset+len(g.Text):end]) {
			return fmt.Sprintf("%q statement %d: got %q, pg_query %q", script, i, g.Text, w)
		}
	}
	return ""
}

// commentsOnly reports whether s holds only comments and whitespace,
// according to PostgreSQL's own scanner.
func commentsOnly(s string) bool {
	res, err := pg_query.Scan(s)
	return err == nil && len(res.GetTokens()) == len(commentTokens(res.GetTokens()))
}

func commentTokens[T interface{ GetToken() pg_query.Token }](toks []T) []T {
	var out []T
	for _, t := range toks {
		if k := t.GetToken(); k == pg_query.Token_SQL_COMMENT || k == pg_query.Token_C_COMMENT {
			out = append(out, t)
		}
	}
	return out
}

// BenchmarkSplitSQL splits a 2 MB script of 50,000 statements.
func BenchmarkSplitSQL(b *testing.B) {
	in := strings.Repeat("update t set a = 'x;y' where id = 1; -- note\n", 50000)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := SplitSQL(in, SyntaxPostgres); err != nil {
			b.Fatal(err)
		}
	}
}
