package journal

import (
	"database/sql"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func testHeader() Header {
	return Header{Dialect: "postgres", Target: "postgres://alice@db.example:5432/shop?sslmode=disable",
		ServerVersion: "15.4", Database: "shop", DatabaseID: "7300/16384",
		Identity: map[string]string{"system_identifier": "7300"}, Operator: "alice",
		Hostname: "laptop", Reason: "fix order 42", AppVersion: "0.1.0"}
}

// newJournal creates a journal in a fresh temporary directory.
func newJournal(t *testing.T) *Journal {
	t.Helper()
	j, err := Create(filepath.Join(t.TempDir(), "j"+Ext), testHeader())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// rawDB opens a journal file with plain SQL, as a tamperer would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestCreateFileModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX permissions")
	}
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "s"+Ext)
	j, err := Create(path, testHeader())
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700 | os.ModeDir, filepath.Dir(dir): 0o700 | os.ModeDir} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
	// SQLite gives the WAL the database file's mode.
	w, _ := j.Begin()
	w.Append(Entry{Kind: KindNote})
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, side := range []string{"-wal", "-shm"} {
		if fi, err := os.Stat(path + side); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s file: %v, %v; want mode 0600", side, fi, err)
		}
	}
}

func TestCreateRefusesExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x"+Ext)
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Create(path, testHeader())
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("Create over an existing file: %v, want 'already exists'", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Errorf("existing file changed to %q", b)
	}
}

func TestCreateRefusesPasswordInTarget(t *testing.T) {
	for _, target := range []string{
		"postgres://alice:s3cret@db:5432/shop",
		"postgresql://alice:@db/shop",
		"postgres://db/shop?sslmode=disable&password=s3cret",
		"postgres://db/shop?PASSWORD=s3cret",
	} {
		h := testHeader()
		h.Target = target
		path := filepath.Join(t.TempDir(), "p"+Ext)
		if _, err := Create(path, h); err == nil || !strings.Contains(err.Error(), "password") {
			t.Errorf("Create with target %q: %v, want a password error", target, err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("target %q: file left behind (%v)", target, err)
		}
	}
	for _, target := range []string{
		"postgres://alice@db:5432/shop", "postgres://alice:xxxxx@db/shop", "sqlite:/tmp/a:b@c.db", "",
	} {
		if err := checkTarget(target); err != nil {
			t.Errorf("checkTarget(%q) = %v, want nil", target, err)
		}
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h"+Ext)
	in := testHeader()
	in.CreatedAt = time.Date(2026, 11, 21, 19, 9, 0, 123456789, time.FixedZone("CET", 3600))
	j, err := Create(path, in)
	if err != nil {
		t.Fatal(err)
	}
	want := j.Header()
	if len(want.SessionID) != 32 {
		t.Errorf("generated session id %q, want 32 hex digits", want.SessionID)
	}
	if !want.CreatedAt.Equal(time.Date(2026, 11, 21, 18, 9, 0, 123456000, time.UTC)) || want.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want 18:09:00.123456 UTC", want.CreatedAt)
	}
	j.Close()
	for name, open := range map[string]func(string) (*Journal, error){"Open": Open, "OpenReadOnly": OpenReadOnly} {
		j, err := open(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := j.Header()
		j.Close()
		if got.SessionID != want.SessionID || !got.CreatedAt.Equal(want.CreatedAt) || got.Target != in.Target ||
			got.Identity["system_identifier"] != "7300" || got.Reason != in.Reason || got.DatabaseID != in.DatabaseID {
			t.Errorf("%s: header %+v, want %+v", name, got, want)
		}
	}
}

func TestPragmas(t *testing.T) {
	j := newJournal(t)
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "busy_timeout": "10000",
		"user_version": strconv.Itoa(FormatVersion), "application_id": "1281770090", "page_size": "4096", "cache_size": "-65536"} {
		var got string
		if err := j.db.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}

func TestOpenReadOnlyDoesNotWrite(t *testing.T) {
	j := newJournal(t)
	path := j.Path()
	j.Close()
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Begin(); err == nil {
		t.Error("Begin on a read-only journal succeeded")
	}
	if _, err := r.db.Exec(`DELETE FROM header`); err == nil {
		t.Error("a write through the read-only connection succeeded")
	}
}

func TestNewPathAndDefaultDir(t *testing.T) {
	h := Header{SessionID: "1f3a9c0e55aa", CreatedAt: time.Date(2026, 11, 21, 18, 9, 0, 0, time.UTC)}
	for db, want := range map[string]string{
		"/var/db/app.db":         "2026-11-21T180900Z-app.db-1f3a9c0e.lifebelt",
		`C:\data\My Shop.sqlite`: "2026-11-21T180900Z-My_Shop.sqlite-1f3a9c0e.lifebelt",
		"shop":                   "2026-11-21T180900Z-shop-1f3a9c0e.lifebelt",
		"../../etc/passwd":       "2026-11-21T180900Z-passwd-1f3a9c0e.lifebelt",
		"日本語":                    "2026-11-21T180900Z-db-1f3a9c0e.lifebelt",
		"..":                     "2026-11-21T180900Z-db-1f3a9c0e.lifebelt",
		"a:b*c?d<e>f|g\"h":       "2026-11-21T180900Z-a_b_c_d_e_f_g_h-1f3a9c0e.lifebelt",
		strings.Repeat("x", 100): "2026-11-21T180900Z-" + strings.Repeat("x", 40) + "-1f3a9c0e.lifebelt",
	} {
		h.Database = db
		if got := NewPath("/d", h); got != filepath.Join("/d", want) {
			t.Errorf("NewPath(%q) = %q, want %q", db, got, want)
		}
	}
	t.Setenv("LIFEBELT_JOURNAL_DIR", "/custom/dir")
	if d, err := DefaultDir(); err != nil || d != "/custom/dir" {
		t.Errorf("DefaultDir with LIFEBELT_JOURNAL_DIR = %q, %v", d, err)
	}
	if runtime.GOOS == "linux" {
		t.Setenv("LIFEBELT_JOURNAL_DIR", "")
		t.Setenv("XDG_DATA_HOME", "/xdg")
		if d, _ := DefaultDir(); d != "/xdg/lifebelt/journals" {
			t.Errorf("DefaultDir with XDG_DATA_HOME = %q", d)
		}
		t.Setenv("XDG_DATA_HOME", "relative")
		t.Setenv("HOME", "/home/u")
		if d, _ := DefaultDir(); d != "/home/u/.local/share/lifebelt/journals" {
			t.Errorf("DefaultDir with relative XDG_DATA_HOME = %q", d)
		}
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestPathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "odd dir#1")
	path := filepath.Join(dir, "a b?c#d%20e&mode=ro"+Ext)
	j, err := Create(path, testHeader())
	if err != nil {
		t.Fatal(err)
	}
	w, _ := j.Begin()
	w.Append(Entry{Kind: KindNote})
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("journal not at its path: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d files, want just the journal", len(entries))
	}
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if es, err := r.Entries(); err != nil || len(es) != 1 {
		t.Errorf("entries %v, %v", es, err)
	}
}

func TestBeginUnsyncedKeepsDurableDefault(t *testing.T) {
	dir := t.TempDir()
	j, err := Create(filepath.Join(dir, "u.lifebelt"), Header{Dialect: "sqlite", Target: "sqlite:/x"})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	w, err := j.BeginUnsynced()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append(Entry{Kind: KindOutcome, Status: "committed"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	es, err := j.Entries()
	if err != nil || len(es) != 1 {
		t.Fatalf("entries after BeginUnsynced: %v %v", es, err)
	}
	// Every pooled connection must be back at synchronous=FULL.
	for i := 0; i < 3; i++ {
		var sync int
		if err := j.db.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
			t.Fatalf("synchronous = %d (%v) after an unsynced commit, want 2", sync, err)
		}
	}
}
