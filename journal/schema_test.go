package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func TestMigrationsEndAtFormatVersion(t *testing.T) {
	for i, m := range migrations {
		if m.to != i+1 {
			t.Errorf("migration %d goes to version %d, want %d", i, m.to, i+1)
		}
	}
	if got := migrations[len(migrations)-1].to; got != FormatVersion {
		t.Errorf("last migration reaches version %d, FormatVersion is %d", got, FormatVersion)
	}
}

// sqliteFile makes a plain SQLite file with the given pragmas.
func sqliteFile(t *testing.T, appID, version int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f"+Ext)
	db := rawDB(t, path)
	for _, q := range []string{"CREATE TABLE t (x)", fmt.Sprintf("PRAGMA application_id = %d", appID),
		fmt.Sprintf("PRAGMA user_version = %d", version)} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	return path
}

func TestOpenRefusesForeignAndNewerFiles(t *testing.T) {
	tests := []struct {
		name      string
		app, ver  int
		wantError string
	}{
		{"plain sqlite file", 0, 0, "not a Lifebelt journal"},
		{"other application", 0x12345678, 1, "not a Lifebelt journal"},
		{"version 0", applicationID, 0, "no journal format version"},
		{"newer version", applicationID, FormatVersion + 1, fmt.Sprintf("format version %d, newer than this Lifebelt understands", FormatVersion+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := sqliteFile(t, tt.app, tt.ver)
			for name, open := range map[string]func(string) (*Journal, error){"Open": Open, "OpenReadOnly": OpenReadOnly} {
				if _, err := open(path); err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Errorf("%s: %v, want error containing %q", name, err, tt.wantError)
				}
			}
			if _, err := Verify(path); err == nil || !strings.Contains(err.Error(), tt.wantError) {
				t.Errorf("Verify: %v, want error containing %q", err, tt.wantError)
			}
			// Open must not have touched it.
			var v int
			var mode string
			db := rawDB(t, path)
			db.QueryRow("PRAGMA user_version").Scan(&v)
			db.QueryRow("PRAGMA journal_mode").Scan(&mode)
			if v != tt.ver || mode != "delete" {
				t.Errorf("user_version %d → %d, journal_mode delete → %s", tt.ver, v, mode)
			}
		})
	}
}

func TestOpenRefusesNonSQLiteAndMissing(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing"+Ext)); err == nil {
		t.Error("Open of a missing file succeeded")
	}
	path := filepath.Join(dir, "text"+Ext)
	writeFile(t, path, strings.Repeat("not sqlite\n", 100))
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Open of a text file: %v, want an error naming the file", err)
	}
}

func TestMigrateAppliesStepsInOrder(t *testing.T) {
	j := newJournal(t)
	ctx := context.Background()
	var order []int
	step := func(v int, fail bool) migration {
		return migration{to: v, up: func(ctx context.Context, tx *sql.Tx) error {
			order = append(order, v)
			if fail {
				return errors.New("boom")
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf("CREATE TABLE m%d (x)", v))
			return err
		}}
	}
	list := append(append([]migration(nil), migrations...), step(3, false), step(4, false))
	tx, _ := j.db.BeginTx(ctx, nil)
	v, err := migrate(ctx, tx, 2, list)
	if err != nil || v != 4 {
		t.Fatalf("migrate = %d, %v; want 4", v, err)
	}
	tx.Commit()
	if fmt.Sprint(order) != "[3 4]" {
		t.Errorf("applied steps %v, want [3 4]", order)
	}
	var uv int
	j.db.QueryRow("PRAGMA user_version").Scan(&uv)
	if uv != 4 {
		t.Errorf("user_version = %d, want 4", uv)
	}

	// A failing step leaves everything as it was.
	order = nil
	tx, _ = j.db.BeginTx(ctx, nil)
	_, err = migrate(ctx, tx, 4, append(list, step(5, false), step(6, true)))
	tx.Rollback()
	if err == nil || !strings.Contains(err.Error(), "from format version 5 to 6") {
		t.Errorf("failing migration: %v", err)
	}
	var n int
	j.db.QueryRow("SELECT count(*) FROM sqlite_master WHERE name = 'm5'").Scan(&n)
	j.db.QueryRow("PRAGMA user_version").Scan(&uv)
	if n != 0 || uv != 4 {
		t.Errorf("after a failed migration: table m5 exists=%d, user_version=%d; want 0, 4", n, uv)
	}

	// A gap in the list is an error, not a silent skip.
	tx, _ = j.db.BeginTx(ctx, nil)
	defer tx.Rollback()
	if _, err := migrate(ctx, tx, 4, []migration{step(6, false)}); err == nil {
		t.Error("migrate skipped version 5 silently")
	}
}

// downgradeToV1 turns a journal into format version 1, where each image is
// one row of the images table, as Lifebelt 1 wrote it.
func downgradeToV1(t *testing.T, path string) {
	t.Helper()
	db := rawDB(t, path)
	defer db.Close()
	execSQL(`CREATE TABLE images (seq INTEGER NOT NULL, ord INTEGER NOT NULL, tbl INTEGER NOT NULL,
		op TEXT NOT NULL, key_json TEXT, before_json TEXT, after_json TEXT, PRIMARY KEY (seq, ord)) WITHOUT ROWID`)(t, db)
	var seqs []int64
	rows, err := db.Query(`SELECT DISTINCT seq FROM image_chunks`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s int64
		rows.Scan(&s)
		seqs = append(seqs, s)
	}
	rows.Close()
	text := func(b []byte) any {
		if b == nil {
			return nil
		}
		return string(b)
	}
	for _, seq := range seqs {
		for _, im := range readStored(t, db, seq) {
			if _, err := db.Exec(`INSERT INTO images VALUES (?, ?, ?, ?, ?, ?, ?)`, seq, im.ord, im.tbl,
				string(im.op), text(im.key), text(im.before), text(im.after)); err != nil {
				t.Fatal(err)
			}
		}
	}
	execSQL(`DROP TABLE image_chunks`, `PRAGMA user_version = 1`)(t, db)
}

func TestMigrateV1ChunksImages(t *testing.T) {
	j := newJournal(t)
	w, _ := j.Begin()
	writeStatement(t, w, 1, 3*chunkBytes/100) // several chunks
	w.Append(Entry{Kind: KindOutcome, Batch: 1, Status: StatusCommitted, Refs: []int64{1}})
	writeStatement(t, w, 2, 3)
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	var want []Image
	j.Images(1, func(im Image) error { want = append(want, im); return nil })
	path := j.Path()
	j.Close()
	downgradeToV1(t, path)

	// Version 1 verifies as it is, and read-only opening refuses to
	// migrate it.
	if rep, err := Verify(path); err != nil || !rep.OK || rep.Images != int64(len(want)+3) {
		t.Fatalf("Verify of the version 1 file: %+v, %v", rep, err)
	}
	if _, err := OpenReadOnly(path); err == nil || !strings.Contains(err.Error(), "open it once read-write") {
		t.Fatalf("OpenReadOnly of a version 1 file: %v", err)
	}
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []Image
	if err := j.Images(1, func(im Image) error { got = append(got, im); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d images after migration, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Ord != want[i].Ord || got[i].Op != want[i].Op || got[i].Table != want[i].Table ||
			!RowsEqual(got[i].Key, want[i].Key) || !RowsEqual(got[i].Before, want[i].Before) || !RowsEqual(got[i].After, want[i].After) {
			t.Fatalf("image %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	var chunks, v int
	j.db.QueryRow(`SELECT count(*) FROM image_chunks WHERE seq = 1`).Scan(&chunks)
	j.db.QueryRow(`PRAGMA user_version`).Scan(&v)
	if chunks < 3 || v != FormatVersion {
		t.Errorf("after migration: %d chunks for entry 1, user_version %d", chunks, v)
	}
	j.Close()
	if rep, err := Verify(path); err != nil || !rep.OK || rep.Images != int64(len(want)+3) {
		t.Errorf("Verify after migration: %+v, %v", rep, err)
	}
}
