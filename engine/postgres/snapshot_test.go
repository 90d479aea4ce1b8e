package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"lifebelt/engine"
)

// snAdmin connects to the test server's maintenance database. An
// unreachable server skips, except under CI=true, where it fails.
func snAdmin(t testing.TB) (*pgx.Conn, *url.URL) {
	t.Helper()
	dsn := os.Getenv("LIFEBELT_TEST_POSTGRES")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("LIFEBELT_TEST_POSTGRES: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m := *u
	m.Path = "/postgres"
	c, err := pgx.Connect(ctx, m.String())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL from LIFEBELT_TEST_POSTGRES is unreachable: %v", err)
		}
		t.Skipf("PostgreSQL is unreachable (set LIFEBELT_TEST_POSTGRES): %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c, u
}

// snDatabase creates a database with a random name (prefix + random hex)
// and a target for it; when the test ends it drops it and every database
// whose name starts with it (snapshots, kept and restored copies).
func snDatabase(t testing.TB, prefix string) (*pgx.Conn, engine.Target) {
	t.Helper()
	admin, u := snAdmin(t)
	var b [5]byte
	rand.Read(b[:])
	name := prefix + hex.EncodeToString(b[:])
	ctx := context.Background()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+quoteIdent(name)); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		// Copies whose names were shortened are found by their marker.
		rows, err := admin.Query(ctx, `SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database`)
		if err != nil {
			t.Errorf("listing test databases: %v", err)
			return
		}
		var names []string
		for rows.Next() {
			var n string
			var comment *string
			if err := rows.Scan(&n, &comment); err != nil {
				t.Error(err)
			}
			if m := parseCopyMarker(comment); strings.HasPrefix(n, name) || m != nil && m.Of == name {
				names = append(names, n)
			}
		}
		rows.Close()
		for _, n := range names {
			if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(n)+" WITH (FORCE)"); err != nil {
				t.Errorf("dropping %s: %v", n, err)
			}
		}
	})
	tu := *u
	tu.Path = "/" + name
	tgt, err := engine.ParseTarget(tu.String())
	if err != nil {
		t.Fatal(err)
	}
	return admin, tgt
}

// snConnect connects to database db of the target's server.
func snConnect(t testing.TB, tgt engine.Target, db string) *pgx.Conn {
	t.Helper()
	u := *tgt.URL
	u.Path = "/" + db
	c, err := pgx.Connect(context.Background(), u.String())
	if err != nil {
		t.Fatalf("connecting to %s: %v", db, err)
	}
	return c
}

// snClose closes c and waits until its server process has gone: a
// restore refuses to run while another session is connected, and a
// backend outlives its client's Terminate message by a moment.
func snClose(t testing.TB, tgt engine.Target, c *pgx.Conn) {
	t.Helper()
	pid := c.PgConn().PID()
	c.Close(context.Background())
	admin := snConnect(t, tgt, "postgres")
	defer admin.Close(context.Background())
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var n int
		if err := admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server process %d still there 15 s after its client closed", pid)
		}
	}
}

// snExec runs statements on database db.
func snExec(t testing.TB, tgt engine.Target, db string, stmts ...string) {
	t.Helper()
	c := snConnect(t, tgt, db)
	defer snClose(t, tgt, c)
	for _, s := range stmts {
		if _, err := c.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// snChecksums returns md5 of all rows (sorted text forms) of every user
// table in database db, by qualified name.
func snChecksums(t testing.TB, tgt engine.Target, db string) map[string]string {
	t.Helper()
	c := snConnect(t, tgt, db)
	defer snClose(t, tgt, c)
	ctx := context.Background()
	rows, err := c.Query(ctx, `SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables
		WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, tb := range tables {
		var sum string
		err := c.QueryRow(ctx, `SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, E'\n' ORDER BY x::text)), '') FROM `+tb+` x`).Scan(&sum)
		if err != nil {
			t.Fatalf("checksum of %s: %v", tb, err)
		}
		out[tb] = sum
	}
	return out
}

func snSame(a, b map[string]string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// snDatabases lists databases whose name starts with prefix.
func snDatabases(t testing.TB, admin *pgx.Conn, prefix string) []string {
	t.Helper()
	rows, err := admin.Query(context.Background(), `SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1`, prefix)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// snFill creates a few tables with varied types and data.
func snFill(t testing.TB, tgt engine.Target) {
	snExec(t, tgt, tgt.Database(),
		`CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric(12,2), opened timestamptz, tags text[], doc jsonb)`,
		`INSERT INTO accounts SELECT g, 'owner ' || g, g * 1.25, '2026-01-01'::timestamptz + g * interval '1 hour',
			ARRAY['a' || g, 'b'], jsonb_build_object('n', g) FROM generate_series(1, 500) g`,
		`CREATE SCHEMA "Billing"`,
		`CREATE TABLE "Billing"."Invoice Lines" (account int REFERENCES accounts, amount float8, note text, raw bytea)`,
		`INSERT INTO "Billing"."Invoice Lines" SELECT g % 500 + 1, g / 7.0, CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || g END,
			decode(md5(g::text), 'hex') FROM generate_series(1, 2000) g`,
		`CREATE TABLE nokey (a int, b text)`,
		`INSERT INTO nokey VALUES (1, 'x'), (1, 'x'), (2, NULL)`,
	)
}

// snChange changes data and schema in many ways.
func snChange(t testing.TB, tgt engine.Target) {
	snExec(t, tgt, tgt.Database(),
		`UPDATE accounts SET balance = balance * 2 WHERE id % 3 = 0`,
		`DELETE FROM "Billing"."Invoice Lines" WHERE account < 100`,
		`INSERT INTO accounts VALUES (1000, 'new', 1, now(), NULL, NULL)`,
		`DROP TABLE nokey`,
		`CREATE TABLE created_later (x int)`,
		`INSERT INTO created_later VALUES (42)`,
	)
}

func TestSnapshotRevertRoundTrip(t *testing.T) {
	admin, tgt := snDatabase(t, "lbsn_")
	ctx := context.Background()
	db := tgt.Database()
	snFill(t, tgt)
	snExec(t, tgt, "postgres",
		`COMMENT ON DATABASE `+quoteIdent(db)+` IS 'the app''s database'`,
		`ALTER DATABASE `+quoteIdent(db)+` SET search_path = "Billing", public`,
		`ALTER DATABASE `+quoteIdent(db)+` SET work_mem = '8MB'`,
		`REVOKE ALL ON DATABASE `+quoteIdent(db)+` FROM PUBLIC`,
		`ALTER DATABASE `+quoteIdent(db)+` CONNECTION LIMIT 50`)
	before := snChecksums(t, tgt, db)

	var progress []engine.Progress
	snap, err := Driver{}.CreateSnapshot(ctx, tgt, engine.SnapshotOptions{Progress: func(p engine.Progress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(snap.Name, db+"_lifebelt_") || snap.Of != db || snap.Size == 0 || snap.Duration <= 0 {
		t.Errorf("snapshot %+v", snap)
	}
	if len(progress) < 2 || progress[len(progress)-1].Done != progress[len(progress)-1].Total {
		t.Errorf("progress %+v", progress)
	}
	list, err := Driver{}.ListSnapshots(ctx, tgt, engine.SnapshotOptions{})
	if err != nil || len(list) != 1 || list[0].Name != snap.Name || list[0].Kind != "snapshot" {
		t.Fatalf("ListSnapshots = %+v, %v", list, err)
	}

	snChange(t, tgt)
	changed := snChecksums(t, tgt, db)
	if snSame(before, changed) {
		t.Fatal("the change changed nothing")
	}
	res, err := Driver{}.RevertToSnapshot(ctx, tgt, snap.Name, engine.RevertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Database != db || !strings.HasPrefix(res.Kept, db+"_failed_") || res.From != snap.Name || len(res.Notes) != 0 || res.NewID == "" {
		t.Errorf("revert result %+v", res)
	}
	if after := snChecksums(t, tgt, db); !snSame(before, after) {
		t.Errorf("after revert:\n%v\nwant\n%v", after, before)
	}
	if kept := snChecksums(t, tgt, res.Kept); !snSame(changed, kept) {
		t.Errorf("kept copy:\n%v\nwant the changed data\n%v", kept, changed)
	}
	// Only the content went back: the database kept its properties.
	d, ok, err := lookupDatabase(ctx, admin, db)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if d.Comment == nil || *d.Comment != "the app's database" || d.ConnLimit != 50 {
		t.Errorf("comment %v, connection limit %d", d.Comment, d.ConnLimit)
	}
	var acl, settings string
	if err := admin.QueryRow(ctx, `SELECT coalesce(datacl::text, ''), (SELECT string_agg(x, ' ' ORDER BY x) FROM pg_db_role_setting s, unnest(s.setconfig) x WHERE s.setdatabase = d.oid)
		FROM pg_database d WHERE datname = $1`, db).Scan(&acl, &settings); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(acl, "=c") || strings.Contains(acl, "=Tc") || acl == "" {
		t.Errorf("PUBLIC regained CONNECT: acl %q", acl)
	}
	if settings != `search_path="Billing", public work_mem=8MB` {
		t.Errorf("settings %q", settings)
	}
	// The snapshot became the database; the kept copy is listed and can
	// be reverted to or dropped.
	list, err = Driver{}.ListSnapshots(ctx, tgt, engine.SnapshotOptions{})
	if err != nil || len(list) != 1 || list[0].Name != res.Kept || list[0].Kind != "kept" {
		t.Fatalf("after revert ListSnapshots = %+v, %v", list, err)
	}
	if err := (Driver{}).DropSnapshot(ctx, tgt, res.Kept, engine.SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := snDatabases(t, admin, db); len(got) != 1 {
		t.Errorf("databases left: %v", got)
	}
}

func TestSnapshotSessions(t *testing.T) {
	admin, tgt := snDatabase(t, "lbsn_")
	ctx := context.Background()
	db := tgt.Database()
	snFill(t, tgt)
	other := snConnect(t, tgt, db)
	defer other.Close(ctx)
	var pid int64
	if err := other.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}

	// A snapshot needs the database to itself.
	_, err := Driver{}.CreateSnapshot(ctx, tgt, engine.SnapshotOptions{})
	var ose *engine.OtherSessionsError
	if !errors.As(err, &ose) || len(ose.Sessions) != 1 || ose.Sessions[0].PID != pid || !errors.Is(err, engine.ErrOtherSessions) {
		t.Fatalf("CreateSnapshot with another session: %v", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprint(pid)) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("message does not name the session: %v", err)
	}
	if got := snDatabases(t, admin, db); len(got) != 1 {
		t.Errorf("refused snapshot left databases: %v", got)
	}
	// Consent naming another pid is no consent; asking and being told no
	// neither.
	asked := 0
	_, err = Driver{}.CreateSnapshot(ctx, tgt, engine.SnapshotOptions{EndSessions: engine.EndSessions{PIDs: []int64{pid + 1},
		Ask: func(_ context.Context, ss []engine.OtherSession) bool { asked++; return false }}})
	if !errors.Is(err, engine.ErrOtherSessions) || asked != 1 {
		t.Fatalf("CreateSnapshot with consent for another pid: %v (asked %d)", err, asked)
	}
	// With consent the session is ended and the snapshot taken.
	snap, err := Driver{}.CreateSnapshot(ctx, tgt, engine.SnapshotOptions{EndSessions: engine.EndSessions{PIDs: []int64{pid}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Ping(ctx); err == nil {
		t.Error("the agreed session is still alive")
	}

	// Revert refuses while someone is connected and nobody agreed.
	snChange(t, tgt)
	changed := snChecksums(t, tgt, db)
	other2 := snConnect(t, tgt, db)
	defer other2.Close(ctx)
	_, err = Driver{}.RevertToSnapshot(ctx, tgt, snap.Name, engine.RevertOptions{})
	if !errors.As(err, &ose) || len(ose.Sessions) != 1 {
		t.Fatalf("revert with another session: %v", err)
	}
	if !strings.Contains(err.Error(), "cannot revert database") {
		t.Errorf("message: %v", err)
	}
	if got := snChecksums(t, tgt, db); !snSame(got, changed) {
		t.Error("a refused revert changed the database")
	}
	if err := other2.Ping(ctx); err != nil {
		t.Errorf("a refused revert ended a session: %v", err)
	}
	d, _, _ := lookupDatabase(ctx, admin, db)
	if !d.AllowConn {
		t.Error("a refused revert left connections blocked")
	}
	// Ask is shown the session; agreeing ends it and reverts.
	var shown []engine.OtherSession
	res, err := Driver{}.RevertToSnapshot(ctx, tgt, snap.Name, engine.RevertOptions{EndSessions: engine.EndSessions{
		Ask: func(_ context.Context, ss []engine.OtherSession) bool { shown = ss; return true }}})
	if err != nil {
		t.Fatal(err)
	}
	if len(shown) != 1 || len(res.Ended) != 1 || res.Ended[0].PID != shown[0].PID {
		t.Errorf("shown %+v, ended %+v", shown, res.Ended)
	}
	for _, n := range []string{db, res.Kept} {
		if d, _, _ := lookupDatabase(ctx, admin, n); !d.AllowConn {
			t.Errorf("%s does not allow connections after the revert", n)
		}
	}
}

func TestSnapshotBadInput(t *testing.T) {
	admin, tgt := snDatabase(t, "lbsn_")
	ctx := context.Background()
	db := tgt.Database()
	snFill(t, tgt)
	before := snChecksums(t, tgt, db)

	// A snapshot name that is taken.
	taken := db + "_other"
	snExec(t, tgt, "postgres", "CREATE DATABASE "+quoteIdent(taken))
	_, err := Driver{}.CreateSnapshot(ctx, tgt, engine.SnapshotOptions{Name: taken})
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("taken name: %v", err)
	}
	// Reverting to, or dropping, a database that is not a snapshot of it.
	if _, err := (Driver{}).RevertToSnapshot(ctx, tgt, taken, engine.RevertOptions{}); err == nil || !strings.Contains(err.Error(), "is not a copy Lifebelt took") {
		t.Errorf("revert to a foreign database: %v", err)
	}
	if err := (Driver{}).DropSnapshot(ctx, tgt, taken, engine.SnapshotOptions{}); err == nil || !strings.Contains(err.Error(), "is not a copy Lifebelt took") {
		t.Errorf("drop of a foreign database: %v", err)
	}
	if _, err := (Driver{}).RevertToSnapshot(ctx, tgt, db+"_nope", engine.RevertOptions{}); err == nil || !strings.Contains(err.Error(), "there is no snapshot") {
		t.Errorf("revert to a missing snapshot: %v", err)
	}
	// A snapshot of one database cannot revert another.
	_, tgt2 := snDatabase(t, "lbsn_")
	snap2, err := Driver{}.CreateSnapshot(ctx, tgt2, engine.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (Driver{}).RevertToSnapshot(ctx, tgt, snap2.Name, engine.RevertOptions{}); err == nil || !strings.Contains(err.Error(), "is not a copy") {
		t.Errorf("revert to another database's snapshot: %v", err)
	}
	if got := snDatabases(t, admin, db); fmt.Sprint(got) != fmt.Sprint([]string{db, taken}) {
		t.Errorf("databases after bad input: %v", got)
	}
	if got := snChecksums(t, tgt, db); !snSame(got, before) {
		t.Error("bad input changed the database")
	}
	// A target database that no longer exists.
	gone := tgt
	u := *tgt.URL
	u.Path = "/" + db + "_gone"
	gone.URL = &u
	_, err = Driver{}.CreateSnapshot(ctx, gone, engine.SnapshotOptions{})
	if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("snapshot of a missing database: %v", err)
	}
	if _, err := (Driver{}).RevertToSnapshot(ctx, gone, snap2.Name, engine.RevertOptions{}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("revert of a missing database: %v", err)
	}
}

func TestSnapshotLongName(t *testing.T) {
	ctx := context.Background()
	// 59 bytes, with a two-byte character across the cut at byte 38.
	_, tgt := snDatabase(t, "lbsn_"+strings.Repeat("é", 22))
	if n := len(tgt.Database()); n != 59 {
		t.Fatalf("test name is %d bytes", n)
	}
	snap, err := Driver{}.CreateSnapshot(ctx, tgt, engine.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Name) > 63 || !strings.Contains(snap.Name, "_lifebelt_") {
		t.Errorf("snapshot name %q (%d bytes)", snap.Name, len(snap.Name))
	}
	// Same second: the next name gets a suffix instead of colliding.
	snap2, err := Driver{}.CreateSnapshot(ctx, tgt, engine.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if snap2.Name == snap.Name || len(snap2.Name) > 63 {
		t.Errorf("second snapshot %q", snap2.Name)
	}
	list, err := Driver{}.ListSnapshots(ctx, tgt, engine.SnapshotOptions{})
	if err != nil || len(list) != 2 {
		t.Errorf("list %+v %v", list, err)
	}
}

func TestFitIdent(t *testing.T) {
	tests := []struct{ base, suffix, want string }{
		{"app", "_lifebelt_20260101_120000", "app_lifebelt_20260101_120000"},
		{strings.Repeat("a", 60), "_x", strings.Repeat("a", 60) + "_x"},
		{strings.Repeat("a", 62), "_x", strings.Repeat("a", 61) + "_x"},
		{strings.Repeat("a", 40) + "ééé", "_lifebelt_20260101_120000", strings.Repeat("a", 38) + "_lifebelt_20260101_120000"},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaé", "_lifebelt_20260101_120000", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_lifebelt_20260101_120000"},
	}
	for _, tt := range tests {
		got := fitIdent(tt.base, tt.suffix)
		if got != tt.want || len(got) > maxIdentLen {
			t.Errorf("fitIdent(%q, %q) = %q (%d bytes), want %q", tt.base, tt.suffix, got, len(got), tt.want)
		}
	}
}

func TestSplitGUCList(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"Billing", public`, `[Billing public]`},
		{`"$user", public`, `[$user public]`},
		{`"a""b", " spaced "`, `[a"b  spaced ]`},
		{``, `[]`},
		{`x`, `[x]`},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(splitGUCList(tt.in)); got != tt.want {
			t.Errorf("splitGUCList(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got := settingValue("search_path", `"Billing", public`); got != `'Billing', 'public'` {
		t.Errorf("settingValue = %s", got)
	}
	if got := settingValue("work_mem", `8MB`); got != `'8MB'` {
		t.Errorf("settingValue = %s", got)
	}
}

func TestCopyMarker(t *testing.T) {
	c := "own comment"
	m := copyMarker{Kind: "kept", Of: "app", At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Comment: &c}
	s := m.String()
	got := parseCopyMarker(&s)
	if got == nil || got.Kind != "kept" || got.Of != "app" || !got.At.Equal(m.At) || *got.Comment != c {
		t.Errorf("round trip of %s: %+v", s, got)
	}
	for _, s := range []string{"lifebelt:", "lifebelt:{}", "lifebelt:not json", "something else"} {
		if parseCopyMarker(&s) != nil {
			t.Errorf("%q parsed as a marker", s)
		}
	}
	if parseCopyMarker(nil) != nil {
		t.Error("nil parsed as a marker")
	}
}

// FuzzSplitGUCList checks that any list the server could store splits
// back into its elements, and that no input panics.
func FuzzSplitGUCList(f *testing.F) {
	f.Add("a", "b c")
	f.Add(`$user`, `"quoted"`)
	f.Add("", ",")
	f.Fuzz(func(t *testing.T, a, b string) {
		_ = splitGUCList(a + "," + b) // any text: no panic
		var elems []string
		for _, e := range []string{a, b} {
			if strings.ContainsAny(e, "\x00") {
				return
			}
			elems = append(elems, e)
		}
		// The server stores list elements double-quoted when needed.
		var parts []string
		for _, e := range elems {
			parts = append(parts, `"`+strings.ReplaceAll(e, `"`, `""`)+`"`)
		}
		got := splitGUCList(strings.Join(parts, ", "))
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", elems) {
			t.Errorf("split %q = %q, want %q", strings.Join(parts, ", "), got, elems)
		}
		_ = parseCopyMarker(&a)
	})
}

// TestSnapshotAsOwner runs snapshot, revert, backup and restore as a role
// that owns the database and may create databases, but is no superuser.
func TestSnapshotAsOwner(t *testing.T) {
	admin, tgt := snDatabase(t, "lbsn_")
	ctx := context.Background()
	db := tgt.Database()
	role := db + "_owner"
	if _, err := admin.Exec(ctx, "CREATE ROLE "+quoteIdent(role)+" LOGIN CREATEDB PASSWORD 'pw'"); err != nil {
		t.Fatal(err)
	}
	// Registered after snDatabase's cleanup, so it runs before it: the
	// role's databases must go first.
	t.Cleanup(func() {
		rows, _ := admin.Query(ctx, `SELECT datname FROM pg_database WHERE pg_get_userbyid(datdba) = $1`, role)
		names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, n := range names {
			admin.Exec(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(n)+" WITH (FORCE)")
		}
		if _, err := admin.Exec(ctx, "DROP ROLE "+quoteIdent(role)); err != nil {
			t.Errorf("dropping role: %v", err)
		}
	})
	snExec(t, tgt, "postgres", "ALTER DATABASE "+quoteIdent(db)+" OWNER TO "+quoteIdent(role))
	snExec(t, tgt, db, "ALTER SCHEMA public OWNER TO "+quoteIdent(role), "SET ROLE "+quoteIdent(role),
		"CREATE TABLE t (id int PRIMARY KEY, v text)", "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100) g")
	as := tgt
	u := *tgt.URL
	u.User = url.User(role)
	as.URL, as.Password = &u, "pw"

	before := snChecksums(t, tgt, db)
	snap, err := Driver{}.CreateSnapshot(ctx, as, engine.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/t.dump"
	if _, err := (Driver{}).Backup(ctx, as, path, engine.BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	snExec(t, tgt, db, "DELETE FROM t WHERE id > 50")
	res, err := Driver{}.RevertToSnapshot(ctx, as, snap.Name, engine.RevertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := snChecksums(t, tgt, db); !snSame(got, before) || len(res.Notes) != 0 {
		t.Errorf("after revert as owner: %v, notes %v", got, res.Notes)
	}
	snExec(t, tgt, db, "DELETE FROM t WHERE id > 10")
	if _, err := (Driver{}).Restore(ctx, as, path, engine.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := snChecksums(t, tgt, db); !snSame(got, before) {
		t.Errorf("after restore as owner: %v", got)
	}
	if d, _, _ := lookupDatabase(ctx, admin, db); d.Owner != role {
		t.Errorf("owner after restore: %s", d.Owner)
	}
	// Ending another user's session needs more than ownership: the
	// refusal is one sentence and nothing changes.
	other := snConnect(t, tgt, db)
	defer other.Close(ctx)
	var pid int64
	other.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid)
	_, err = Driver{}.CreateSnapshot(ctx, as, engine.SnapshotOptions{EndSessions: engine.EndSessions{PIDs: []int64{pid}}})
	if err == nil || !strings.Contains(err.Error(), "ending sessions") {
		t.Errorf("ending a superuser's session as owner: %v", err)
	}
	if d, _, _ := lookupDatabase(ctx, admin, db); !d.AllowConn {
		t.Error("connections left blocked")
	}
	if err := other.Ping(ctx); err != nil {
		t.Errorf("the session was ended: %v", err)
	}
}
