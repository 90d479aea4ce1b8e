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
	list := append(append([]migration(nil), migrations...), step(2, false), step(3, false))
	tx, _ := j.db.BeginTx(ctx, nil)
	v, err := migrate(ctx, tx, 1, list)
	if err != nil || v != 3 {
		t.Fatalf("migrate = %d, %v; want 3", v, err)
	}
	tx.Commit()
	if fmt.Sprint(order) != "[2 3]" {
		t.Errorf("applied steps %v, want [2 3]", order)
	}
	var uv int
	j.db.QueryRow("PRAGMA user_version").Scan(&uv)
	if uv != 3 {
		t.Errorf("user_version = %d, want 3", uv)
	}

	// A failing step leaves everything as it was.
	order = nil
	tx, _ = j.db.BeginTx(ctx, nil)
	_, err = migrate(ctx, tx, 3, append(list, step(4, false), step(5, true)))
	tx.Rollback()
	if err == nil || !strings.Contains(err.Error(), "from format version 4 to 5") {
		t.Errorf("failing migration: %v", err)
	}
	var n int
	j.db.QueryRow("SELECT count(*) FROM sqlite_master WHERE name = 'm4'").Scan(&n)
	j.db.QueryRow("PRAGMA user_version").Scan(&uv)
	if n != 0 || uv != 3 {
		t.Errorf("after a failed migration: table m4 exists=%d, user_version=%d; want 0, 3", n, uv)
	}

	// A gap in the list is an error, not a silent skip.
	tx, _ = j.db.BeginTx(ctx, nil)
	defer tx.Rollback()
	if _, err := migrate(ctx, tx, 3, []migration{step(5, false)}); err == nil {
		t.Error("migrate skipped version 4 silently")
	}
}
