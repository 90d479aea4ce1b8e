package engine

import (
	"reflect"
	"strings"
	"testing"
)

// tname builds a Name from "schema.name" or "name" (test names hold no dots).
func tname(s string) Name {
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		return Name{Schema: s[:i], Name: s[i+1:]}
	}
	return Name{Name: s}
}

func tnames(ss ...string) []Name {
	var out []Name
	for _, s := range ss {
		out = append(out, tname(s))
	}
	return out
}

// classFields is the classification part of a Statement.
type classFields struct {
	Kind      Kind
	Verb      string
	Object    string
	Targets   []Name
	HasWhere  bool
	Cascade   bool
	OrReplace bool
	IfExists  bool
}

func classOfStmt(s Statement) classFields {
	return classFields{s.Kind, s.Verb, s.Object, s.Targets, s.HasWhere, s.Cascade, s.OrReplace, s.IfExists}
}

func TestClassify(t *testing.T) {
	const (
		lite = SyntaxSQLite
		pg   = SyntaxPostgres
		ms   = SyntaxTSQL
	)
	all := []Syntax{lite, pg, ms}
	read := func(verb string) classFields { return classFields{Kind: KindRead, Verb: verb} }
	other := func(verb string) classFields { return classFields{Kind: KindOther, Verb: verb} }
	tx := func(verb string) classFields { return classFields{Kind: KindTxControl, Verb: verb} }
	dml := func(verb string, where bool, targets ...string) classFields {
		return classFields{Kind: KindDML, Verb: verb, Targets: tnames(targets...), HasWhere: where}
	}
	ddl := func(verb, object string, targets ...string) classFields {
		return classFields{Kind: KindDDL, Verb: verb, Object: object, Targets: tnames(targets...)}
	}
	with := func(c classFields, f func(*classFields)) classFields { f(&c); return c }
	cascade := func(c *classFields) { c.Cascade = true }
	ifExists := func(c *classFields) { c.IfExists = true }
	orReplace := func(c *classFields) { c.OrReplace = true }

	tests := []struct {
		syns []Syntax
		in   string
		want classFields
	}{
		// Reads.
		{all, "SELECT 1", read("SELECT")},
		{all, "  -- why;\n /* c */ SeLeCt a FROM t WHERE b = 1", read("SELECT")},
		{all, "select * from t for update", read("SELECT")},
		{all, "(select 1) union (select 2)", read("SELECT")},
		{all, "with x as (select 1) select * from x", read("SELECT")},
		{all, "with recursive r(n) as (select 1 union all select n+1 from r where n < 3) select * from r", read("SELECT")},
		{[]Syntax{pg}, "WITH update AS (SELECT 1) SELECT * FROM update", read("SELECT")},
		{[]Syntax{lite, pg}, "values (1), (2)", read("VALUES")},
		{[]Syntax{pg}, "table t", read("TABLE")},
		{[]Syntax{pg}, "show search_path", read("SHOW")},
		{[]Syntax{lite, pg}, "explain select 1", read("EXPLAIN")},
		{[]Syntax{pg}, "explain delete from t", read("EXPLAIN")},
		{[]Syntax{pg}, "explain (analyze false) delete from t", read("EXPLAIN")},
		{[]Syntax{pg}, "explain analyze select 1", read("EXPLAIN")},
		{[]Syntax{lite}, "explain query plan delete from t", read("EXPLAIN")},
		{[]Syntax{lite}, "pragma table_info(t)", read("PRAGMA")},
		{[]Syntax{lite}, "PRAGMA main.foreign_keys", read("PRAGMA")},
		{[]Syntax{lite}, "pragma integrity_check", read("PRAGMA")},

		// EXPLAIN ANALYZE runs its statement.
		{[]Syntax{pg}, "explain (costs off, analyze) delete from t where a = 1", dml("DELETE", true, "t")},
		{[]Syntax{pg}, "EXPLAIN ANALYZE VERBOSE update t set a = 1", dml("UPDATE", false, "t")},
		{[]Syntax{pg}, "explain analyze create table t2 as select 1", ddl("CREATE", "TABLE", "t2")},

		// PRAGMA that sets.
		{[]Syntax{lite}, "pragma foreign_keys = on", other("PRAGMA")},
		{[]Syntax{lite}, "pragma journal_mode(wal)", other("PRAGMA")},
		{[]Syntax{lite}, "pragma optimize", other("PRAGMA")},

		// SELECT INTO creates a table.
		{[]Syntax{pg}, "select * into temp new_t from t", ddl("SELECT", "TABLE", "new_t")},
		{[]Syntax{ms}, "select a into #tmp from t", ddl("SELECT", "TABLE", "#tmp")},

		// DML.
		{all, "insert into t values (1)", dml("INSERT", false, "t")},
		{[]Syntax{pg}, `INSERT INTO "S"."T" AS x VALUES (1) ON CONFLICT (id) DO UPDATE SET a = excluded.a WHERE x.a <> 1`, dml("UPSERT", false, "S.T")},
		{[]Syntax{lite, pg}, "insert into t select * from u where true on conflict do nothing", dml("UPSERT", false, "t")},
		{[]Syntax{lite}, "INSERT OR REPLACE INTO t VALUES (1)", dml("REPLACE", false, "t")},
		{[]Syntax{lite}, "insert or ignore into main.t values (1)", dml("INSERT", false, "main.t")},
		{[]Syntax{lite}, "replace into t values (1)", dml("REPLACE", false, "t")},
		{all, "update t set a = 1", dml("UPDATE", false, "t")},
		{all, "update t set a = 1 where id = 2", dml("UPDATE", true, "t")},
		{[]Syntax{lite}, "update or ignore t set a = 1", dml("UPDATE", false, "t")},
		{[]Syntax{pg}, "update only s.t set a = (select b from u where u.id = t.id)", dml("UPDATE", false, "s.t")},
		{[]Syntax{pg}, "UPDATE t SET a = 1 WHERE CURRENT OF c", dml("UPDATE", true, "t")},
		{all, "delete from t", dml("DELETE", false, "t")},
		{all, "delete from t where a in (select 1)", dml("DELETE", true, "t")},
		{all, "delete from t where (a = 1)", dml("DELETE", true, "t")},
		{[]Syntax{pg}, "delete from only t using u where t.id = u.id returning *", dml("DELETE", true, "t")},
		{[]Syntax{pg}, "delete from t returning (select 1 where true)", dml("DELETE", false, "t")},
		{[]Syntax{pg}, "with x as (select id from u where a = 1) delete from t where id in (select id from x)", dml("DELETE", true, "t")},
		{[]Syntax{lite, pg}, "with x as (select id from u where a = 1) delete from t", dml("DELETE", false, "t")},
		{[]Syntax{pg}, "with x as (select 1) insert into t select * from x", dml("INSERT", false, "t")},
		{[]Syntax{pg, ms}, "merge into t using s on t.id = s.id when matched then delete", dml("MERGE", false, "t")},
		{[]Syntax{ms}, "MERGE dbo.t AS tgt USING s ON 1=1 WHEN MATCHED THEN DELETE", dml("MERGE", false, "dbo.t")},

		// Data-modifying CTEs make the statement DML.
		{[]Syntax{pg}, "with d as (delete from a where x = 1 returning *) select * from d", dml("DELETE", true, "a")},
		{[]Syntax{pg}, "with d as materialized (delete from a returning *) insert into b select * from d", dml("INSERT", false, "b", "a")},
		{[]Syntax{pg}, "with u as (update a set x = 1 where id = 1 returning *), d as (delete from b where true returning *) select 1", dml("UPDATE", true, "a", "b")},
		{[]Syntax{pg}, "with u as (update a set x = 1 where id = 1 returning *), d as (delete from b returning *) select 1", dml("UPDATE", false, "a", "b")},
		{[]Syntax{pg}, "with d as (delete from a returning *) update b set x = 1 where y = 2", dml("UPDATE", false, "b", "a")},
		{[]Syntax{pg}, "explain analyze with d as (delete from a returning *) select 1", dml("DELETE", false, "a")},

		// Names: quoting, case, schemas, unicode.
		{[]Syntax{pg}, `update "We.ird"."x""y" set a = 1`, classFields{Kind: KindDML, Verb: "UPDATE", Targets: []Name{{Schema: "We.ird", Name: `x"y`}}}},
		{[]Syntax{pg}, `insert into Foo.BAR values (1)`, dml("INSERT", false, "foo.bar")},
		{[]Syntax{lite, ms}, `insert into Foo.BAR values (1)`, dml("INSERT", false, "Foo.BAR")},
		{[]Syntax{pg}, `delete from ÄRGER where a = 1`, dml("DELETE", true, "Ärger")},
		{[]Syntax{pg}, `delete from "ÄRGER"`, dml("DELETE", false, "ÄRGER")},
		{[]Syntax{lite}, "delete from `a``b`.[c d]", dml("DELETE", false, "a`b.c d")},
		{[]Syntax{ms}, "update top (10) [dbo].[t]]x] set a = 1", dml("UPDATE", false, "dbo.t]x")},
		{[]Syntax{ms}, "delete [t] where a = 1", dml("DELETE", true, "t")},
		{[]Syntax{ms}, "DELETE TOP (5) FROM @tv", dml("DELETE", false, "@tv")},
		{[]Syntax{ms}, "insert #tmp (a) values (1)", dml("INSERT", false, "#tmp")},
		{[]Syntax{ms}, "insert into db..t values (1)", dml("INSERT", false, "t")},
		{[]Syntax{ms}, "insert into srv.db.dbo.t values (1)", dml("INSERT", false, "dbo.t")},

		// DDL.
		{all, "create table t (a int)", ddl("CREATE", "TABLE", "t")},
		{[]Syntax{lite, pg}, "CREATE TEMP TABLE IF NOT EXISTS t (a int)", ddl("CREATE", "TABLE", "t")},
		{[]Syntax{pg}, "create unlogged table s.t as select 1", ddl("CREATE", "TABLE", "s.t")},
		{[]Syntax{pg}, "create global temporary table t (a int)", ddl("CREATE", "TABLE", "t")},
		{[]Syntax{pg}, "create or replace view v as select 1", with(ddl("CREATE", "VIEW", "v"), orReplace)},
		{[]Syntax{pg}, "create materialized view mv as select 1", ddl("CREATE", "MATERIALIZED VIEW", "mv")},
		{[]Syntax{pg}, "create unique index concurrently if not exists ix on only s.t (a)", ddl("CREATE", "INDEX", "s.ix", "s.t")},
		{[]Syntax{pg}, "create index on t (a)", ddl("CREATE", "INDEX", "t")},
		{[]Syntax{lite}, "create index aux.ix on t(a)", ddl("CREATE", "INDEX", "aux.ix", "aux.t")},
		{[]Syntax{ms}, "create nonclustered index ix on dbo.t (a)", ddl("CREATE", "INDEX", "ix", "dbo.t")},
		{[]Syntax{pg}, "create or replace function s.f(a int) returns int as $$ select 1 $$ language sql", with(ddl("CREATE", "FUNCTION", "s.f"), orReplace)},
		{[]Syntax{ms}, "CREATE OR ALTER PROC dbo.p AS SELECT 1", with(ddl("CREATE", "PROCEDURE", "dbo.p"), orReplace)},
		{[]Syntax{lite}, "create trigger tr after update of a on t begin select 1; end", ddl("CREATE", "TRIGGER", "tr", "t")},
		{[]Syntax{pg}, "create constraint trigger tr after insert on s.t for each row execute function f()", ddl("CREATE", "TRIGGER", "tr", "s.t")},
		{[]Syntax{ms}, "create trigger tr on database for create_table as select 1", ddl("CREATE", "TRIGGER", "tr")},
		{[]Syntax{pg}, "create sequence seq", ddl("CREATE", "SEQUENCE", "seq")},
		{[]Syntax{pg}, "create schema if not exists s", ddl("CREATE", "SCHEMA", "s")},
		{[]Syntax{pg}, "create schema authorization joe", ddl("CREATE", "SCHEMA", "joe")},
		{[]Syntax{pg}, "create database d", ddl("CREATE", "DATABASE", "d")},
		{[]Syntax{pg}, "create type mood as enum ('a')", ddl("CREATE", "TYPE", "mood")},
		{[]Syntax{pg}, "create extension if not exists pgcrypto", ddl("CREATE", "EXTENSION", "pgcrypto")},
		{[]Syntax{lite}, "create virtual table ft using fts5(a)", ddl("CREATE", "TABLE", "ft")},
		{[]Syntax{pg}, "create policy p on t using (true)", ddl("CREATE", "POLICY", "p", "t")},
		{[]Syntax{pg}, "create rule r as on insert to t do nothing", ddl("CREATE", "RULE", "r", "t")},
		{[]Syntax{pg}, "create foreign table ft (a int) server s", ddl("CREATE", "FOREIGN TABLE", "ft")},
		{[]Syntax{pg}, "alter table if exists only s.t add column c int", with(ddl("ALTER", "TABLE", "s.t"), ifExists)},
		{[]Syntax{pg}, "alter table t add constraint fk foreign key (a) references u on delete cascade", ddl("ALTER", "TABLE", "t")},
		{[]Syntax{pg}, "alter table t drop column c cascade", with(ddl("ALTER", "TABLE", "t"), cascade)},
		{[]Syntax{lite}, "alter table t rename to u", ddl("ALTER", "TABLE", "t")},
		{[]Syntax{pg}, "alter system set work_mem = '1MB'", ddl("ALTER", "SYSTEM")},
		{[]Syntax{pg}, "alter table all in tablespace a set tablespace b", ddl("ALTER", "TABLE")},
		{[]Syntax{pg}, "alter default privileges grant select on tables to joe", ddl("ALTER", "DEFAULT PRIVILEGES")},
		{[]Syntax{pg}, `drop table a, s.b, "C"`, ddl("DROP", "TABLE", "a", "s.b", "C")},
		{all, "DROP TABLE IF EXISTS a CASCADE", with(with(ddl("DROP", "TABLE", "a"), ifExists), cascade)},
		{[]Syntax{pg}, "drop index concurrently if exists ix", with(ddl("DROP", "INDEX", "ix"), ifExists)},
		{[]Syntax{pg}, "drop function if exists f(int), s.g(text, int)", with(ddl("DROP", "FUNCTION", "f", "s.g"), ifExists)},
		{[]Syntax{pg}, "drop trigger tr on t", ddl("DROP", "TRIGGER", "tr", "t")},
		{[]Syntax{ms}, "DROP INDEX ix ON dbo.t", ddl("DROP", "INDEX", "ix", "dbo.t")},
		{[]Syntax{ms}, "DROP PROC dbo.p", ddl("DROP", "PROCEDURE", "dbo.p")},
		{[]Syntax{pg}, "drop schema s1, s2 cascade", with(ddl("DROP", "SCHEMA", "s1", "s2"), cascade)},
		{[]Syntax{pg}, "drop owned by joe", ddl("DROP", "OWNED")},
		{[]Syntax{pg}, "truncate a, only b *, s.c restart identity cascade", with(ddl("TRUNCATE", "TABLE", "a", "b", "s.c"), cascade)},
		{[]Syntax{pg, ms}, "truncate table t", ddl("TRUNCATE", "TABLE", "t")},
		{[]Syntax{pg}, "comment on table s.t is 'x'", ddl("COMMENT", "TABLE", "s.t")},
		{[]Syntax{pg}, "comment on column s.t.c is 'x'", ddl("COMMENT", "COLUMN", "s.t")},
		{[]Syntax{pg}, "comment on trigger tr on t is 'x'", ddl("COMMENT", "TRIGGER", "tr", "t")},
		{[]Syntax{pg}, "grant select, update (a) on t, s.u to joe", ddl("GRANT", "TABLE", "t", "s.u")},
		{[]Syntax{pg}, "revoke all on all tables in schema s from joe cascade", with(ddl("REVOKE", "SCHEMA", "s"), cascade)},
		{[]Syntax{pg}, "grant execute on function f(int) to joe", ddl("GRANT", "FUNCTION", "f")},
		{[]Syntax{pg}, "grant admin to joe", ddl("GRANT", "ROLE")},
		{[]Syntax{ms}, "GRANT SELECT ON OBJECT::dbo.t TO u", ddl("GRANT", "OBJECT", "dbo.t")},
		{[]Syntax{ms}, "rename object t to u", ddl("RENAME", "OBJECT", "t")},

		// Transaction control.
		{[]Syntax{lite, pg}, "begin", tx("BEGIN")},
		{[]Syntax{lite}, "BEGIN IMMEDIATE TRANSACTION", tx("BEGIN")},
		{[]Syntax{pg}, "begin isolation level serializable", tx("BEGIN")},
		{[]Syntax{pg}, "start transaction read only", tx("START")},
		{all, "commit", tx("COMMIT")},
		{[]Syntax{lite, pg}, "end transaction", tx("END")},
		{[]Syntax{lite, pg}, "rollback to savepoint s", tx("ROLLBACK")},
		{[]Syntax{lite, pg}, "savepoint s", tx("SAVEPOINT")},
		{[]Syntax{lite, pg}, "release s", tx("RELEASE")},
		{[]Syntax{pg}, "abort", tx("ABORT")},
		{[]Syntax{pg}, "prepare transaction 'x'", tx("PREPARE")},
		{[]Syntax{pg}, "commit prepared 'x'", tx("COMMIT")},
		{[]Syntax{ms}, "BEGIN DISTRIBUTED TRANSACTION", tx("BEGIN")},
		{[]Syntax{ms}, "begin tran t1", tx("BEGIN")},
		{[]Syntax{ms}, "SAVE TRAN s", tx("SAVE")},
		{[]Syntax{ms}, "ROLLBACK TRANSACTION s", tx("ROLLBACK")},

		// Everything else.
		{[]Syntax{ms}, "BEGIN TRY DELETE FROM t; END TRY BEGIN CATCH END CATCH", other("BEGIN")},
		{[]Syntax{ms}, "END CONVERSATION @h", other("END")},
		{[]Syntax{pg}, "prepare q as delete from t", other("PREPARE")},
		{[]Syntax{pg}, "do $$ begin delete from t; end $$", other("DO")},
		{[]Syntax{lite, pg}, "vacuum", other("VACUUM")},
		{[]Syntax{pg}, "analyze t", other("ANALYZE")},
		{[]Syntax{pg}, "set search_path = s", other("SET")},
		{[]Syntax{pg}, "call p()", other("CALL")},
		{[]Syntax{pg}, "copy t from stdin", other("COPY")},
		{[]Syntax{lite}, "attach database 'x.db' as x", other("ATTACH")},
		{[]Syntax{pg}, "lock table t in exclusive mode", other("LOCK")},
		{[]Syntax{pg}, "refresh materialized view mv", other("REFRESH")},
		{[]Syntax{ms}, "EXEC sp_rename 'a', 'b'", other("EXEC")},
		{[]Syntax{ms}, "IF 1=1 BEGIN DELETE FROM t; END", other("IF")},
		{all, "42", other("")},
		{all, "'abc'", other("")},
	}
	for _, tt := range tests {
		for _, syn := range tt.syns {
			sts, err := SplitSQL(tt.in, syn)
			if err != nil {
				t.Errorf("%s %q: %v", syn, tt.in, err)
				continue
			}
			if len(sts) != 1 {
				t.Errorf("%s %q: %d statements, want 1", syn, tt.in, len(sts))
				continue
			}
			if got := classOfStmt(sts[0]); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s %q:\ngot  %+v\nwant %+v", syn, tt.in, got, tt.want)
			}
			if msg := classConsistent(sts[0]); msg != "" {
				t.Errorf("%s %q: %s", syn, tt.in, msg)
			}
		}
	}
}

func TestClassifyDeepNesting(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("explain analyze ", 40) + "delete from t",
		strings.Repeat("(", 40) + "delete from t" + strings.Repeat(")", 40),
		strings.Repeat("with x as (", 40) + "delete from t" + strings.Repeat(") select 1", 40),
	} {
		sts, err := SplitSQL(in, SyntaxPostgres)
		if err != nil || len(sts) != 1 {
			t.Fatalf("%.40q: %v %v", in, sts, err)
		}
		if s := sts[0]; s.Kind != KindOther || classConsistent(s) != "" {
			t.Errorf("%.40q: got %+v, want KindOther", in, classOfStmt(s))
		}
	}
}

func TestDestructive(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"delete from t", true},
		{"delete from t where a = 1", false},
		{"update t set a = (select b from u where u.id = 1)", true},
		{"with d as (delete from a returning *) select * from d", true},
		{"drop table t", true},
		{"truncate t", true},
		{"insert into t values (1)", false},
		{"explain analyze delete from t", true},
		{"explain delete from t", false},
		// DROP COLUMN destroys the column's values in every row.
		{"alter table t drop column b", true},
		{"alter table t drop b", true},
		{"alter table t add c int, drop \"c d\"", true},
		{"alter table t alter column b drop default", false},
		{"alter table t alter b drop not null, drop constraint k", false},
		{"alter table t drop constraint k, alter column b set not null", false},
		{"alter table t rename column drop to x", false},
		{"alter table t add column drop_it int", false},
	}
	for _, tt := range tests {
		sts, err := SplitSQL(tt.in, SyntaxPostgres)
		if err != nil || len(sts) != 1 {
			t.Fatalf("%q: %v %v", tt.in, sts, err)
		}
		if got := sts[0].Destructive(); got != tt.want {
			t.Errorf("%q: Destructive() = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// Verbs by the kind they may come with.
var (
	readVerbs = map[string]bool{"SELECT": true, "VALUES": true, "TABLE": true, "SHOW": true, "EXPLAIN": true, "PRAGMA": true}
	dmlVerbs  = map[string]bool{"INSERT": true, "UPSERT": true, "REPLACE": true, "UPDATE": true, "DELETE": true, "MERGE": true}
	ddlVerbs  = map[string]bool{"CREATE": true, "ALTER": true, "DROP": true, "TRUNCATE": true, "COMMENT": true,
		"RENAME": true, "GRANT": true, "REVOKE": true, "SELECT": true}
	txVerbs = map[string]bool{"BEGIN": true, "START": true, "COMMIT": true, "END": true, "ROLLBACK": true,
		"SAVEPOINT": true, "RELEASE": true, "ABORT": true, "PREPARE": true, "SAVE": true}
)

// classConsistent checks that a statement's classification fields agree with
// each other, and returns what is wrong, or "".
func classConsistent(s Statement) string {
	switch {
	case s.Verb != strings.ToUpper(s.Verb):
		return "verb " + s.Verb + " is not upper-case"
	case s.Kind == KindRead && !readVerbs[s.Verb],
		s.Kind == KindDML && !dmlVerbs[s.Verb],
		s.Kind == KindDDL && !ddlVerbs[s.Verb],
		s.Kind == KindTxControl && !txVerbs[s.Verb],
		s.Kind == KindOther && (dmlVerbs[s.Verb] || ddlVerbs[s.Verb] && s.Verb != "SELECT"):
		return "kind " + s.Kind.String() + " with verb " + s.Verb
	case s.Kind != KindDDL && (s.Object != "" || s.Cascade || s.OrReplace || s.IfExists):
		return "DDL fields set on a " + s.Kind.String() + " statement"
	case s.Kind != KindDML && s.HasWhere:
		return "HasWhere set on a " + s.Kind.String() + " statement"
	case s.Kind != KindDML && s.Kind != KindDDL && len(s.Targets) > 0:
		return "targets on a " + s.Kind.String() + " statement"
	case s.OrReplace && s.Verb != "CREATE":
		return "OrReplace on " + s.Verb
	}
	return ""
}
