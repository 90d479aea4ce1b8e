package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mattn/go-sqlite3"
)

// CatalogName is the file name of the backup catalogue inside a journal
// directory. PostgreSQL and SQLite keep no record of the copies Lifebelt
// takes, so this small SQLite file does: preflight reads the age of the
// newest backup from it.
const CatalogName = "catalog.sqlite"

// Kinds of catalogue records besides KindBackup and KindSnapshot.
const (
	// CatalogReplaced records that a revert or restore replaced a database
	// by a copy with another identity (PostgreSQL: a renamed database has
	// another oid). Backups of the replaced one count for the new one.
	CatalogReplaced = "replaced"
)

// CatalogEntry is one backup or snapshot Lifebelt took, one restore or
// revert it ran (their durations estimate the next one), or one identity
// change (CatalogReplaced).
type CatalogEntry struct {
	ID         int64
	Kind       string    // KindBackup, KindSnapshot, KindRestore, KindRevert or CatalogReplaced
	At         time.Time // when the copy started (UTC, microseconds)
	Dialect    string
	DatabaseID string // Identity.ID of the database copied (or, for CatalogReplaced, the new one)
	Database   string
	Target     string // the target URL without password
	Name       string // snapshot name (a database or a file)
	Path       string // backup file
	Size       int64
	Duration   time.Duration
	Journal    string // the session journal that recorded it, if any
	ReplacedID string // CatalogReplaced: the identity ID of the database it replaced
}

// catalogSchema is version 1 of the catalogue; PRAGMA user_version holds it.
var catalogSchema = []string{
	fmt.Sprintf("PRAGMA application_id = %d", catalogAppID),
	`CREATE TABLE copies (
		id          INTEGER PRIMARY KEY,
		kind        TEXT NOT NULL,
		at          TEXT NOT NULL,
		dialect     TEXT NOT NULL,
		database_id TEXT NOT NULL,
		database    TEXT NOT NULL,
		target      TEXT NOT NULL,
		name        TEXT NOT NULL,
		path        TEXT NOT NULL,
		size        INTEGER NOT NULL,
		duration_us INTEGER NOT NULL,
		journal     TEXT NOT NULL,
		replaced_id TEXT NOT NULL
	)`,
	`CREATE INDEX copies_by_database ON copies (database_id, kind, at)`,
	`PRAGMA user_version = 1`,
}

// catalogAppID marks the catalogue file ("LfBc").
const catalogAppID = 0x4C664263

// CatalogPath is the catalogue file in dir.
func CatalogPath(dir string) string { return filepath.Join(dir, CatalogName) }

// RecordCatalog appends e to the catalogue in dir (created with mode 0600,
// its directory with 0700, when missing) and returns it with ID set.
// Concurrent recorders, even in other processes, are serialised by SQLite.
func RecordCatalog(dir string, e CatalogEntry) (CatalogEntry, error) {
	if e.Kind == "" || e.DatabaseID == "" {
		return e, errors.New("journal: a catalogue record needs a kind and a database id")
	}
	db, err := openCatalog(dir, true)
	if err != nil {
		return e, err
	}
	defer db.Close()
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	res, err := db.ExecContext(context.Background(), `INSERT INTO copies (kind, at, dialect, database_id, database,
		target, name, path, size, duration_us, journal, replaced_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Kind, formatTime(e.At), e.Dialect, e.DatabaseID, e.Database, e.Target, e.Name, e.Path, e.Size,
		e.Duration.Microseconds(), e.Journal, e.ReplacedID)
	if err != nil {
		return e, fmt.Errorf("journal: recording in the catalogue %s: %w", CatalogPath(dir), err)
	}
	e.ID, _ = res.LastInsertId()
	return e, nil
}

// ReadCatalog returns the catalogue records of databaseID (all records
// when empty) in time order. A directory without a catalogue has none.
func ReadCatalog(dir, databaseID string) ([]CatalogEntry, error) {
	db, err := openCatalog(dir, false)
	if db == nil || err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(context.Background(), `SELECT id, kind, at, dialect, database_id, database,
		target, name, path, size, duration_us, journal, replaced_id FROM copies
		WHERE ? = '' OR database_id = ? ORDER BY at, id`, databaseID, databaseID)
	if err != nil {
		return nil, fmt.Errorf("journal: reading the catalogue %s: %w", CatalogPath(dir), err)
	}
	defer rows.Close()
	var out []CatalogEntry
	for rows.Next() {
		var e CatalogEntry
		var at string
		var us int64
		if err := rows.Scan(&e.ID, &e.Kind, &at, &e.Dialect, &e.DatabaseID, &e.Database, &e.Target, &e.Name,
			&e.Path, &e.Size, &us, &e.Journal, &e.ReplacedID); err != nil {
			return nil, fmt.Errorf("journal: reading the catalogue %s: %w", CatalogPath(dir), err)
		}
		if e.At, err = parseTime(at); err != nil {
			return nil, err
		}
		e.Duration = time.Duration(us) * time.Microsecond
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: reading the catalogue %s: %w", CatalogPath(dir), err)
	}
	return out, nil
}

// NewestBackup returns the newest backup recorded for databaseID,
// following CatalogReplaced records back to the databases it replaced (a
// backup taken before a revert still brings this database back). found is
// false when there is none.
func NewestBackup(dir, databaseID string) (e CatalogEntry, found bool, err error) {
	return NewestOf(dir, databaseID, KindBackup)
}

// NewestOf is NewestBackup for records of any kind (KindRestore records
// time restores, say).
func NewestOf(dir, databaseID, kind string) (e CatalogEntry, found bool, err error) {
	all, err := ReadCatalog(dir, "")
	if err != nil {
		return CatalogEntry{}, false, err
	}
	ids := map[string]bool{databaseID: true}
	for grew := true; grew; { // transitive closure; the catalogue is small
		grew = false
		for _, c := range all {
			if c.Kind == CatalogReplaced && ids[c.DatabaseID] && !ids[c.ReplacedID] {
				ids[c.ReplacedID], grew = true, true
			}
		}
	}
	for _, c := range all { // time order: the last match is the newest
		if c.Kind == kind && ids[c.DatabaseID] {
			e, found = c, true
		}
	}
	return e, found, nil
}

// openCatalog opens the catalogue in dir. Without create, a missing file
// yields (nil, nil).
func openCatalog(dir string, create bool) (*sql.DB, error) {
	path := CatalogPath(dir)
	if _, err := os.Stat(path); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("journal: catalogue %s: %w", path, err)
		}
		if !create {
			return nil, nil
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("journal: creating %s: %w", dir, err)
		}
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("journal: creating the catalogue %s: %w", path, err)
		}
		err = f.Chmod(0o600)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("journal: creating the catalogue %s: %w", path, err)
		}
	}
	db, err := openDB(path, false)
	if err != nil {
		return nil, err
	}
	// Processes opening a new catalogue at once race to switch it to WAL
	// and create the schema; SQLite answers some of them "locked" at once,
	// without waiting (a lock upgrade it cannot wait for without risking a
	// deadlock). They try again after a moment.
	err = migrateCatalog(db, path)
	for try := 1; isBusy(err) && try <= 20; try++ {
		time.Sleep(time.Duration(try) * 10 * time.Millisecond)
		err = migrateCatalog(db, path)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// isBusy reports a SQLite "database is locked" or "busy" error.
func isBusy(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked)
}

// migrateCatalog creates the schema of an empty file (two processes may
// race here: the immediate transaction makes the second see version 1).
func migrateCatalog(db *sql.DB, path string) error {
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("journal: opening the catalogue %s: %w", path, err)
	}
	defer tx.Rollback()
	var ver, app int64
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&ver); err != nil {
		return fmt.Errorf("journal: reading the catalogue %s: %w", path, err)
	}
	if err := tx.QueryRowContext(ctx, `PRAGMA application_id`).Scan(&app); err != nil {
		return fmt.Errorf("journal: reading the catalogue %s: %w", path, err)
	}
	switch {
	case ver == 1 && app == catalogAppID:
		return nil
	case ver != 0 || app != 0:
		return fmt.Errorf("journal: %s is not a Lifebelt catalogue of a format this version reads", path)
	}
	for _, s := range catalogSchema {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("journal: creating the catalogue %s: %w", path, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("journal: creating the catalogue %s: %w", path, err)
	}
	return nil
}

// markReverted lets a committed revert or restore entry mark the entries it
// refers to as undone, exactly as a committed undo does: computeStates
// calls it for every entry while walking from the last one, right after
// setting e.State, so an undo that a revert took away no longer counts
// (its own references become committed again, as the database says).
// Revert and restore entries are written final ("committed" or "failed").
func markReverted(e *Entry, i int, idx map[int64]int, undone map[int64]bool) {
	if (e.Kind != KindRevert && e.Kind != KindRestore) || e.Status != StatusCommitted {
		return
	}
	for _, r := range e.Refs {
		if j, ok := idx[r]; ok && j < i {
			undone[r] = true
		}
	}
}
