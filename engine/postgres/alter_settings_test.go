package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// settingsOf lists, independently of the engine's own catalog reading,
// what ALTER TABLE's setting subcommands change on table $1: columns'
// NOT NULL, default, statistics, storage and compression; constraints
// with their validity, comments and indexes; every trigger's enabled
// state (internal ones by their constraint); indexes, clustering and
// comments; row security, storage parameters, replica identity, owner.
const settingsOf = `
WITH rel AS (SELECT $1::regclass::oid AS oid)
SELECT format('column %s %s collation=%s notnull=%s default=%s stat=%s storage=%s comp=%s', a.attname,
	format_type(a.atttypid, a.atttypmod), a.attcollation, a.attnotnull,
	coalesce(pg_get_expr(d.adbin, d.adrelid), '-'), a.attstattarget, a.attstorage, a.attcompression)
FROM rel JOIN pg_attribute a ON a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
UNION ALL SELECT format('constraint %s %s valid=%s comment=%s', k.conname, pg_get_constraintdef(k.oid), k.convalidated,
	coalesce(obj_description(k.oid, 'pg_constraint'), '-'))
FROM rel JOIN pg_constraint k ON k.conrelid = rel.oid
UNION ALL SELECT format('referenced by %s', k.conname) FROM rel JOIN pg_constraint k ON k.confrelid = rel.oid
UNION ALL SELECT format('trigger %s enabled=%s', coalesce(k.conname || ' ' || tg.tgtype, tg.tgname), tg.tgenabled)
FROM rel JOIN pg_trigger tg ON tg.tgrelid = rel.oid LEFT JOIN pg_constraint k ON k.oid = tg.tgconstraint AND tg.tgisinternal
UNION ALL SELECT format('index %s %s clustered=%s replident=%s comment=%s', ic.relname, pg_get_indexdef(i.indexrelid),
	i.indisclustered, i.indisreplident, coalesce(obj_description(i.indexrelid, 'pg_class'), '-'))
FROM rel JOIN pg_index i ON i.indrelid = rel.oid JOIN pg_class ic ON ic.oid = i.indexrelid
UNION ALL SELECT format('table rls=%s force=%s options=%s replident=%s owner=%s', c.relrowsecurity, c.relforcerowsecurity,
	coalesce(c.reloptions::text, '-'), c.relreplident, pg_get_userbyid(c.relowner))
FROM rel JOIN pg_class c ON c.oid = rel.oid
ORDER BY 1`

func settingsNow(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	return strings.Join(enginetest.FirstColumn(t, db, settingsOf, table), "\n")
}

// settingsRoundTrip undoes the whole session, which must give table the
// settings before, then undoes that undo, which must give it after ("":
// not checked).
func settingsRoundTrip(t *testing.T, s *engine.Session, db *sql.DB, table, before, after string) {
	t.Helper()
	rep := undoAll(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo: conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	if got := settingsNow(t, db, table); got != before {
		t.Fatalf("after undo:\n%s\nwant:\n%s", got, before)
	}
	if after == "" {
		return
	}
	rep = undoAll(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if !rep.Complete() {
		t.Fatalf("undo of the undo: conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	if got := settingsNow(t, db, table); got != after {
		t.Fatalf("after undoing the undo:\n%s\nwant:\n%s", got, after)
	}
}

// Every setting subcommand is undone one entry at a time, newest first,
// each giving back exactly the settings before it; undoing those undos
// sets them all again, and undoing that sets them back once more.
func TestUndoAlterSettings(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE ROLE lb_settings_owner`,
		`CREATE TABLE p (id int PRIMARY KEY)`, `INSERT INTO p VALUES (1), (2)`,
		`CREATE TABLE "T;x" (id int PRIMARY KEY, v text DEFAULT 'x', n int NOT NULL, r int,
			CONSTRAINT "n pos" CHECK (n > 0), CONSTRAINT "u ""v""" UNIQUE (v) DEFERRABLE)`,
		`COMMENT ON CONSTRAINT "n pos" ON "T;x" IS 'positive'`,
		`ALTER INDEX "u ""v""" RENAME TO "u idx"`, `COMMENT ON INDEX "u idx" IS 'by v'`, // renames the constraint too
		`CREATE INDEX t_r ON "T;x" (r)`,
		`CREATE FUNCTION keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
		`CREATE TRIGGER "keep it" BEFORE UPDATE ON "T;x" FOR EACH ROW EXECUTE FUNCTION keep()`,
		`ALTER TABLE "T;x" ADD CONSTRAINT r_p FOREIGN KEY (r) REFERENCES p (id)`,
		`ALTER TABLE "T;x" SET (fillfactor = 70, autovacuum_enabled = false)`,
		`INSERT INTO "T;x" VALUES (1, 'a', 1, 1), (2, 'b', 2, 2)`)
	t.Cleanup(func() { db.Exec(`DROP OWNED BY lb_settings_owner CASCADE`); db.Exec(`DROP ROLE lb_settings_owner`) })
	steps := []string{
		`ALTER TABLE "T;x" ALTER v SET DEFAULT 'y', ALTER n DROP NOT NULL, ALTER r SET NOT NULL`,
		`ALTER TABLE "T;x" DROP CONSTRAINT "n pos", DROP CONSTRAINT r_p, ADD CONSTRAINT "r q" FOREIGN KEY (r) REFERENCES p (id) NOT VALID`,
		`ALTER TABLE "T;x" DROP CONSTRAINT "T;x_pkey", DROP CONSTRAINT "u idx", ADD CONSTRAINT "odd ""k""" UNIQUE (id)`,
		`ALTER TABLE "T;x" ENABLE ALWAYS TRIGGER "keep it", ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY`,
		`ALTER TABLE "T;x" SET (fillfactor = 50), RESET (autovacuum_enabled)`,
		`ALTER TABLE "T;x" REPLICA IDENTITY USING INDEX "odd ""k""", CLUSTER ON t_r`,
		`ALTER TABLE "T;x" ALTER v SET STATISTICS 500, ALTER v SET STORAGE EXTERNAL, ALTER v SET COMPRESSION pglz`,
		`ALTER TABLE "T;x" ALTER v DROP DEFAULT, OWNER TO lb_settings_owner`,
		`ALTER TABLE "T;x" VALIDATE CONSTRAINT "r q", ADD PRIMARY KEY (n)`,
		`ALTER TABLE "T;x" DISABLE TRIGGER ALL`,
	}
	// ADD PRIMARY KEY (n) needs n NOT NULL values: they are.
	states := []string{settingsNow(t, db, `"T;x"`)}
	var seqs []int64
	for _, q := range steps {
		seqs = append(seqs, enginetest.CommitAll(t, s, q)...)
		states = append(states, settingsNow(t, db, `"T;x"`))
		if states[len(states)-1] == states[len(states)-2] {
			t.Fatalf("%s changed no setting the test sees", q)
		}
	}
	var undos []int64
	for i := len(seqs) - 1; i >= 0; i-- {
		rep := undoAll(t, s, engine.UndoOptions{Entries: seqs[i : i+1]})
		undos = append(undos, rep.Seq)
		if !rep.Complete() || strings.Contains(strings.Join(rep.Notes, " "), "differs") {
			t.Fatalf("undo of %s: conflicts %v, skipped %v, notes %v", steps[i], rep.Conflicts, rep.Skipped, rep.Notes)
		}
		if got := settingsNow(t, db, `"T;x"`); got != states[i] {
			t.Fatalf("after undoing %s:\n%s\nwant:\n%s", steps[i], got, states[i])
		}
	}
	if got := enginetest.Joined(t, db, `SELECT string_agg(id || '/' || v || '/' || n || '/' || r, ',' ORDER BY id) FROM "T;x"`); got != "1/a/1/1,2/b/2/2" {
		t.Errorf("rows after undo: %s", got)
	}
	// The undos, undone together: every setting again.
	rep := undoAll(t, s, engine.UndoOptions{Entries: undos})
	if !rep.Complete() {
		t.Fatalf("undo of the undos: conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	if got := settingsNow(t, db, `"T;x"`); got != states[len(states)-1] {
		t.Fatalf("after undoing the undos (entries %v, skipped %v):\n%s\nwant:\n%s", rep.Entries, rep.Skipped, got, states[len(states)-1])
	}
	rep = undoAll(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if !rep.Complete() {
		t.Fatalf("undo of that undo: conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	if got := settingsNow(t, db, `"T;x"`); got != states[0] {
		t.Fatalf("after undoing that undo:\n%s\nwant:\n%s", got, states[0])
	}
}

// A setting that others' data or objects no longer allow back is a
// conflict, and nothing of that ALTER changes: NULLs written since into a
// column NOT NULL again, duplicates under a key again, a table inheriting
// from it since, a definition changed since.
func TestUndoAlterSettingsConflicts(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL, w int DEFAULT 1)`, `INSERT INTO t VALUES (1, 1, 1)`)
	seqs := enginetest.CommitAll(t, s,
		`ALTER TABLE t ALTER v DROP NOT NULL, ALTER w SET DEFAULT 2`,
		`ALTER TABLE t DROP CONSTRAINT t_pkey`)
	enginetest.ExecAll(t, db, `INSERT INTO t VALUES (1, NULL, 5)`)
	after := settingsNow(t, db, "t")
	rep := undoAll(t, s, engine.UndoOptions{Entries: seqs[1:2]})
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "could not create unique index") {
		t.Fatalf("undo of the dropped key with duplicates since: conflicts %v", rep.Conflicts)
	}
	enginetest.ExecAll(t, db, `DELETE FROM t WHERE w = 5`, `INSERT INTO t VALUES (2, NULL, 5)`)
	rep = undoAll(t, s, engine.UndoOptions{})
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "contains null values") {
		t.Fatalf("undo with a NULL written since: conflicts %v", rep.Conflicts)
	}
	// The key came back; v's NOT NULL and w's default did not, together.
	if got := enginetest.Joined(t, db, `SELECT attnotnull || '/' || coalesce(pg_get_expr(adbin, adrelid), '-') FROM pg_attribute
		LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum WHERE attrelid = 't'::regclass AND attname IN ('v', 'w') ORDER BY attname`); got != "false/-,false/2" {
		t.Errorf("v and w after the refused undo: %s", got)
	}
	if strings.Count(settingsNow(t, db, "t"), "PRIMARY KEY") != 1 || after == settingsNow(t, db, "t") {
		t.Errorf("the key is not back:\n%s", settingsNow(t, db, "t"))
	}
	enginetest.ExecAll(t, db, `UPDATE t SET v = 0 WHERE v IS NULL`, `CREATE TABLE kid () INHERITS (t)`)
	rep = undoAll(t, s, engine.UndoOptions{Entries: seqs[:1], DryRun: true})
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "1 table(s) inherit from") {
		t.Fatalf("undo with a child since: conflicts %v", rep.Conflicts)
	}
	enginetest.ExecAll(t, db, `DROP TABLE kid`, `CREATE INDEX t_w ON t (w)`)
	rep = undoAll(t, s, engine.UndoOptions{Entries: seqs[:1], DryRun: true})
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "definition changed") || !strings.Contains(rep.Conflicts[0].Reason, "now there is: CREATE INDEX t_w") {
		t.Fatalf("undo with an index made since: conflicts %v, want one naming the index", rep.Conflicts)
	}
	enginetest.ExecAll(t, db, `DROP INDEX t_w`)
	rep = undoAll(t, s, engine.UndoOptions{Entries: seqs[:1]})
	if !rep.Complete() {
		t.Fatalf("undo once others' changes are gone: conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
}

// An ALTER of a table with children, one mixing a setting with a column
// change, and one dropping a foreign key whose triggers on the
// referenced table were disabled (made again, they would be enabled, and
// they have no name to disable them by) keep no revert: undo skips them
// with a note.
func TestUndoAlterSettingsNotReverted(t *testing.T) {
	s, _ := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v int)`, `CREATE TABLE kid () INHERITS (t)`,
		`CREATE TABLE u (id int PRIMARY KEY, v int)`,
		`CREATE TABLE w (id int PRIMARY KEY, u int REFERENCES u)`, `ALTER TABLE u DISABLE TRIGGER ALL`)
	enginetest.CommitAll(t, s, `ALTER TABLE t ALTER v SET DEFAULT 1`, `ALTER TABLE u ALTER v SET DEFAULT 1, ADD COLUMN w int`,
		`ALTER TABLE w DROP CONSTRAINT w_u_fkey`)
	rep := undoAll(t, s, engine.UndoOptions{DryRun: true})
	if len(rep.Skipped) != 3 || len(rep.Conflicts) != 0 {
		t.Fatalf("undo: skipped %q, conflicts %v", rep.Skipped, rep.Conflicts)
	}
}

// A foreign key dropped while its table's triggers were disabled comes
// back with them disabled, and a user trigger keeps its own state.
func TestUndoAlterSettingsDisabledKey(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE u (id int PRIMARY KEY)`, `CREATE TABLE w (id int PRIMARY KEY, u int REFERENCES u)`,
		`CREATE FUNCTION keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
		`CREATE TRIGGER k1 BEFORE UPDATE ON w FOR EACH ROW EXECUTE FUNCTION keep()`,
		`ALTER TABLE w DISABLE TRIGGER ALL`, `ALTER TABLE w ENABLE REPLICA TRIGGER k1`)
	before := settingsNow(t, db, "w")
	enginetest.CommitAll(t, s, `ALTER TABLE w DROP CONSTRAINT w_u_fkey`)
	settingsRoundTrip(t, s, db, "w", before, settingsNow(t, db, "w"))
}

// The revert statements are journaled and shown: a reader sees what undo
// will run.
func TestUndoAlterSettingsJournaled(t *testing.T) {
	s, _ := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v int)`)
	seqs := enginetest.CommitAll(t, s, `ALTER TABLE t ALTER v SET NOT NULL, ALTER v SET DEFAULT 3`)
	objs, err := s.Journal().Objects(seqs[0])
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, o := range objs {
		if o.After != nil && o.After.Revert != nil {
			found = true
			got := strings.Join(o.After.Revert.Statements, "; ")
			if !strings.Contains(got, `ALTER COLUMN "v" DROP NOT NULL`) || !strings.Contains(got, `ALTER COLUMN "v" DROP DEFAULT`) || !o.After.Revert.Exact {
				t.Errorf("revert statements: %s (exact %v)", got, o.After.Revert.Exact)
			}
		}
	}
	if !found {
		t.Fatal("no revert journaled")
	}
}

const rowsOfTypes = `SELECT string_agg(ROW(x.*)::text, ',' ORDER BY id) FROM ty AS x`

// A column type changed where every value converts there and back is
// changed back, values, default and index included; a value written
// since that the old type cannot hold exactly (or at all) is a conflict.
func TestUndoAlterColumnType(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE ty (id int PRIMARY KEY, v int DEFAULT 0, d numeric(10,2), s varchar(5), n int)`,
		`CREATE INDEX ty_v ON ty (v)`,
		`INSERT INTO ty VALUES (1, -5, 1.25, 'abc', 7), (2, NULL, NULL, NULL, NULL), (3, 2147483647, 99999999.99, 'abcde', -1)`)
	before, rows := settingsNow(t, db, "ty"), enginetest.Joined(t, db, rowsOfTypes)
	seqs := enginetest.CommitAll(t, s, `ALTER TABLE ty ALTER v TYPE bigint, ALTER d TYPE numeric(12,4)`,
		`ALTER TABLE ty ALTER s TYPE varchar(20), ALTER n TYPE text`)
	changed := settingsNow(t, db, "ty")
	rep := undoAll(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo: conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	if got := settingsNow(t, db, "ty"); got != before {
		t.Fatalf("after undo:\n%s\nwant:\n%s", got, before)
	}
	if got := enginetest.Joined(t, db, rowsOfTypes); got != rows {
		t.Fatalf("rows after undo: %s, want %s", got, rows)
	}
	redo := undoAll(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if !redo.Complete() || settingsNow(t, db, "ty") != changed {
		t.Fatalf("undo of the undo: conflicts %v, skipped %v; settings\n%s", redo.Conflicts, redo.Skipped, settingsNow(t, db, "ty"))
	}
	enginetest.ExecAll(t, db, `UPDATE ty SET d = 1.2345 WHERE id = 2`)
	rep = undoAll(t, s, engine.UndoOptions{Entries: []int64{redo.Seq}, DryRun: true})
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, `1 row(s) of "public"."ty" hold values in column d that type numeric(10,2) cannot hold exactly`) {
		t.Fatalf("undo with 1.2345 written since: conflicts %v", rep.Conflicts)
	}
	enginetest.ExecAll(t, db, `UPDATE ty SET d = 1.23, v = 1099511627776 WHERE id = 2`)
	rep = undoAll(t, s, engine.UndoOptions{Entries: []int64{redo.Seq}})
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "out of range") {
		t.Fatalf("undo with 2^40 written since: conflicts %v", rep.Conflicts)
	}
	// The other entry's ALTER (s and n) is undone; v and d stay.
	if got := enginetest.Joined(t, db, `SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ',' ORDER BY attnum)
		FROM pg_attribute WHERE attrelid = 'ty'::regclass AND attnum > 0`); got != "id integer,v bigint,d numeric(12,4),s character varying(5),n integer" {
		t.Errorf("types after the partly refused undo: %s", got)
	}
	if len(seqs) != 2 {
		t.Errorf("entries %v", seqs)
	}
}

// A type change that does not convert back exactly is left to people
// (journaled with its rows): one that rounds values, one with USING, and
// one whose conversion depends on the session's time zone.
func TestUndoAlterColumnTypeNotReverted(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE ty (id int PRIMARY KEY, d numeric(10,4), u text, z timestamptz)`,
		`INSERT INTO ty VALUES (1, 1.2345, '7', '2026-01-01 10:00+00')`)
	enginetest.CommitAll(t, s, `ALTER TABLE ty ALTER d TYPE numeric(10,2)`, `ALTER TABLE ty ALTER u TYPE int USING u::int`,
		`ALTER TABLE ty ALTER z TYPE timestamp`)
	rep := undoAll(t, s, engine.UndoOptions{DryRun: true})
	if len(rep.Skipped) != 3 || len(rep.Conflicts) != 0 {
		t.Fatalf("undo: skipped %q, conflicts %v", rep.Skipped, rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, `SELECT d::text FROM ty`); got != "1.23" {
		t.Fatalf("d = %s", got)
	}
}

// COMMENT ON a table, a column or a constraint is undone by setting the
// comment back (NULL where there was none), and undoing that sets it
// again.
func TestUndoComment(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE "c;t" (id int CONSTRAINT "k ey" PRIMARY KEY, "v""" text)`,
		`COMMENT ON COLUMN "c;t"."v""" IS 'was ''this'''`)
	before := settingsNow(t, db, `"c;t"`)
	enginetest.CommitAll(t, s, `COMMENT ON TABLE "c;t" IS 'orders'`, `COMMENT ON COLUMN "c;t"."v""" IS NULL`,
		`COMMENT ON CONSTRAINT "k ey" ON "c;t" IS 'the key'`)
	changed := settingsNow(t, db, `"c;t"`)
	if !strings.Contains(changed, "comment=the key") {
		t.Fatalf("the comments did not land:\n%s", changed)
	}
	rep := undoAll(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo: conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	if got := settingsNow(t, db, `"c;t"`); got != before {
		t.Fatalf("after undo:\n%s\nwant:\n%s", got, before)
	}
	if got := enginetest.Joined(t, db, `SELECT coalesce(obj_description('"c;t"'::regclass, 'pg_class'), '-') || '/' || col_description('"c;t"'::regclass, 2)`); got != "-/was 'this'" {
		t.Errorf("comments after undo: %s", got)
	}
	rep = undoAll(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if !rep.Complete() || settingsNow(t, db, `"c;t"`) != changed {
		t.Fatalf("undo of the undo: conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
}

// Statements Lifebelt cannot guard are refused with a reason that names
// them.
func TestUnguardedReasons(t *testing.T) {
	s, _ := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`, `CREATE SCHEMA other`)
	for q, want := range map[string]string{
		`ALTER TABLE t SET SCHEMA other`:                         "moving a table to another schema (SET SCHEMA) is not imaged",
		`CREATE INDEX CONCURRENTLY i ON t (v)`:                   "CREATE INDEX CONCURRENTLY cannot run inside a transaction",
		`REINDEX TABLE t`:                                        "REINDEX is not imaged",
		`ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO PUBLIC`: "",
	} {
		_, err := s.Execute(context.Background(), q, engine.ExecuteOptions{})
		var ue *engine.UnguardedError
		if !errors.As(err, &ue) {
			t.Errorf("%s: %v, want a refusal", q, err)
			continue
		}
		if want != "" && ue.Reason != want {
			t.Errorf("%s: reason %q, want %q", q, ue.Reason, want)
		}
		if strings.Contains(ue.Reason, "  ") {
			t.Errorf("%s: reason %q", q, ue.Reason)
		}
	}
}

// aclOf shows a table's privileges, in order (the order of an ACL's
// items is the order of the grants, and means nothing); a NULL ACL is the
// owner's default one (after GRANT and REVOKE back it is spelled out).
const aclOf = `SELECT (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(coalesce(relacl, acldefault('r', relowner))) x) || ' ' || coalesce((SELECT string_agg(attname || '=' || attacl::text, ',' ORDER BY attnum)
	FROM pg_attribute WHERE attrelid = $1::regclass AND attacl IS NOT NULL), '-') FROM pg_class WHERE oid = $1::regclass`

// GRANT and REVOKE on tables are journaled and undone exactly (table and
// column privileges, grant options, PUBLIC, several tables at once), and
// undoing the undo grants again; a grant made by someone else since is a
// conflict.
func TestUndoGrant(t *testing.T) {
	s, db := sessionOn(t, `CREATE ROLE lb_grant_a`, `CREATE ROLE "lb grant b"`,
		`CREATE TABLE t (id int PRIMARY KEY, v text)`, `CREATE TABLE "u;2" (id int PRIMARY KEY)`,
		`GRANT SELECT ON t TO lb_grant_a`, `GRANT UPDATE (v) ON t TO "lb grant b"`)
	t.Cleanup(func() {
		db.Exec(`DROP OWNED BY lb_grant_a CASCADE`)
		db.Exec(`DROP OWNED BY "lb grant b" CASCADE`)
		db.Exec(`DROP ROLE lb_grant_a`)
		db.Exec(`DROP ROLE "lb grant b"`)
	})
	before := enginetest.Joined(t, db, aclOf, "t") + " " + enginetest.Joined(t, db, aclOf, `"u;2"`)
	seqs := enginetest.CommitAll(t, s,
		`GRANT INSERT, DELETE ON t, "u;2" TO "lb grant b" WITH GRANT OPTION`,
		`REVOKE SELECT ON t FROM lb_grant_a`,
		`GRANT SELECT ON "u;2" TO PUBLIC`,
		`REVOKE UPDATE (v) ON t FROM "lb grant b"`)
	changed := enginetest.Joined(t, db, aclOf, "t") + " " + enginetest.Joined(t, db, aclOf, `"u;2"`)
	if changed == before {
		t.Fatal("the grants changed nothing")
	}
	rep := undoAll(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo: conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	if got := enginetest.Joined(t, db, aclOf, "t") + " " + enginetest.Joined(t, db, aclOf, `"u;2"`); got != before {
		t.Fatalf("privileges after undo: %s, want %s", got, before)
	}
	rep = undoAll(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if !rep.Complete() {
		t.Fatalf("undo of the undo: conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	if got := enginetest.Joined(t, db, aclOf, "t") + " " + enginetest.Joined(t, db, aclOf, `"u;2"`); got != changed {
		t.Fatalf("privileges after undoing the undo: %s, want %s", got, changed)
	}
	// Someone grants more since: undoing the last GRANT is a conflict.
	enginetest.ExecAll(t, db, `GRANT TRUNCATE ON "u;2" TO lb_grant_a`)
	rep = undoAll(t, s, engine.UndoOptions{Entries: []int64{seqs[2]}, DryRun: true})
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "definition changed") {
		t.Fatalf("undo after someone's grant: conflicts %v", rep.Conflicts)
	}
}

// Rows changed before and after a column type change, undone in one run:
// the undo reads the rows again after changing the type back (a statement
// prepared before failed: "cached plan must not change result type").
func TestUndoAroundTypeChange(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, a int, b text)`,
		`INSERT INTO t SELECT g, g, 'x' FROM generate_series(1, 5) g`)
	rows := enginetest.Joined(t, db, `SELECT string_agg(ROW(t.*)::text, ',' ORDER BY id) FROM t`)
	enginetest.CommitAll(t, s, `UPDATE t SET b = 'y' WHERE id = 1`, `ALTER TABLE t ALTER COLUMN a TYPE bigint`, `UPDATE t SET b = 'z' WHERE id = 2`)
	for _, dry := range []bool{true, false} {
		rep := undoAll(t, s, engine.UndoOptions{DryRun: dry})
		if !rep.Complete() {
			t.Fatalf("undo (dry run %v): conflicts %v, skipped %v", dry, rep.Conflicts, rep.Skipped)
		}
	}
	if got := enginetest.Joined(t, db, `SELECT string_agg(ROW(t.*)::text, ',' ORDER BY id) FROM t`); got != rows {
		t.Errorf("rows after undo: %s, want %s", got, rows)
	}
	if got := enginetest.Joined(t, db, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'a'`); got != "integer" {
		t.Errorf("a is %s", got)
	}
}

// OWNER TO a role that held grant options: undo gives the old owner its
// own privileges as they were, not the merged grant options.
func TestUndoOwnerToGrantOptionHolder(t *testing.T) {
	s, db := sessionOn(t, `CREATE ROLE lb_own_go`, `CREATE TABLE o (id int PRIMARY KEY)`, `GRANT ALL ON o TO lb_own_go WITH GRANT OPTION`)
	t.Cleanup(func() { db.Exec(`DROP OWNED BY lb_own_go CASCADE`); db.Exec(`DROP ROLE lb_own_go`) })
	before := enginetest.Joined(t, db, aclOf, "o") + " " + enginetest.Joined(t, db, `SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'o'::regclass`)
	enginetest.CommitAll(t, s, `ALTER TABLE o OWNER TO lb_own_go`)
	rep := undoAll(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo: conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	if got := enginetest.Joined(t, db, aclOf, "o") + " " + enginetest.Joined(t, db, `SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'o'::regclass`); got != before {
		t.Fatalf("privileges and owner after undo: %s, want %s", got, before)
	}
}
