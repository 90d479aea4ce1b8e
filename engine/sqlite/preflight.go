package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"lifebelt/engine"
	"lifebelt/journal"
)

var _ engine.Preflighter = Driver{}

// Preflight checks the target file: its size, journal mode, whether
// another process holds a lock on it or writes to it, the free space
// beside it and where snapshots go, and the age of the newest backup
// Lifebelt took. It changes nothing.
func (Driver) Preflight(ctx context.Context, t engine.Target, opt engine.PreflightOptions) ([]engine.Finding, error) {
	path, err := resolveTarget(t)
	if err != nil {
		return nil, err
	}
	var fs []engine.Finding
	add := func(f ...engine.Finding) { fs = append(fs, f...) }
	failed := func(check, what string, err error) engine.Finding {
		return engine.Finding{Level: engine.LevelWarning, Check: check, Message: fmt.Sprintf("Could not check %s: %v.", what, err)}
	}

	ro, err := openFile(path, "ro", 1000)
	if err != nil {
		return nil, err
	}
	defer ro.Close()
	notDB := func(doing string, err error) error {
		if isNotADB(err) {
			return fmt.Errorf("sqlite: %s is not a SQLite database or is damaged", path)
		}
		return fmt.Errorf("sqlite: %s %s: %w", doing, path, err)
	}
	c, err := ro.Conn(ctx)
	if err != nil {
		return nil, notDB("opening", err)
	}
	defer c.Close()
	var version, mode string
	if err := c.QueryRowContext(ctx, `SELECT sqlite_version()`).Scan(&version); err != nil {
		return nil, notDB("reading", err)
	}
	if err := c.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return nil, notDB("reading the journal mode of", err)
	}
	add(engine.Finding{Check: "version", Message: fmt.Sprintf("Lifebelt uses SQLite %s for this file.", version),
		Data: map[string]any{"version": version}})

	size := fileSize(path)
	wal := fileSize(path + "-wal")
	msg := fmt.Sprintf("%s takes %s.", path, engine.HumanBytes(size))
	if wal > 0 {
		msg = fmt.Sprintf("%s takes %s, plus %s of write-ahead log.", path, engine.HumanBytes(size), engine.HumanBytes(wal))
	}
	add(engine.Finding{Check: "size", Message: msg, Data: map[string]any{"bytes": size, "wal_bytes": wal}})

	add(journalModeFinding(path, mode))
	add(lockFindings(ctx, path, mode)...)

	if opt.WriteSample >= 0 {
		iv := opt.WriteSample
		if iv == 0 {
			iv = engine.DefaultWriteSample
		}
		f, err := writeActivity(ctx, c, path, iv)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			add(failed("write-activity", "write activity", err))
		} else {
			add(f)
		}
	}

	add(spaceFinding("free-space", filepath.Dir(path), "beside the database", size+wal))
	dir := opt.CatalogDir
	if dir == "" {
		dir, err = journal.DefaultDir()
	}
	if err == nil && !sameDir(dir, filepath.Dir(path)) {
		// Snapshots and kept copies go to the journal directory.
		add(spaceFinding("free-space-snapshots", existingParent(dir), "in the journal directory, where snapshots go", size+wal))
	}
	add(engine.CatalogFindings(opt.CatalogDir, path, time.Now())...)
	return fs, nil
}

func isNotADB(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrNotADB || se.Code == sqlite3.ErrCorrupt)
}

func fileSize(path string) int64 {
	if fi, err := os.Stat(path); err == nil {
		return fi.Size()
	}
	return 0
}

func sameDir(a, b string) bool {
	a, _ = filepath.Abs(a)
	b, _ = filepath.Abs(b)
	return filepath.Clean(a) == filepath.Clean(b)
}

// existingParent is dir, or its nearest existing ancestor (the journal
// directory may not exist yet).
func existingParent(dir string) string {
	for {
		if _, err := os.Stat(dir); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			return dir
		}
		dir = up
	}
}

func journalModeFinding(path, mode string) engine.Finding {
	f := engine.Finding{Check: "journal-mode", Data: map[string]any{"journal_mode": mode}}
	switch strings.ToLower(mode) {
	case "wal":
		f.Message = fmt.Sprintf("%s is in WAL mode: readers in other processes do not block Lifebelt's changes, nor they them.", filepath.Base(path))
	case "delete", "truncate", "persist":
		f.Message = fmt.Sprintf("%s uses a rollback journal (%s mode): while Lifebelt commits, readers in other processes wait, and a long reader delays the commit.", filepath.Base(path), mode)
	default:
		f.Level = engine.LevelWarning
		f.Message = fmt.Sprintf("%s reports journal mode %q; a crash during a change may damage it.", filepath.Base(path), mode)
	}
	return f
}

// lockFindings tries to take the write lock with no waiting on a separate
// connection (and rolls back at once): failure means another process holds
// it. With a rollback journal it also tries the exclusive lock, which
// fails while another process reads.
func lockFindings(ctx context.Context, path, mode string) []engine.Finding {
	db, err := openFile(path, "rw", 0)
	if err != nil {
		return []engine.Finding{{Level: engine.LevelWarning, Check: "lock", Message: fmt.Sprintf("Could not open %s for writing: %v.", path, err)}}
	}
	defer db.Close()
	c, err := db.Conn(ctx)
	if err != nil {
		return []engine.Finding{{Level: engine.LevelWarning, Check: "lock", Message: fmt.Sprintf("Could not open %s for writing: %v.", path, err)}}
	}
	defer c.Close()
	try := func(begin string) (busy bool, err error) {
		_, err = c.ExecContext(ctx, begin)
		if err == nil {
			_, err = c.ExecContext(ctx, "ROLLBACK")
			return false, err
		}
		var se sqlite3.Error
		if errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked) {
			return true, nil
		}
		return false, err
	}
	busy, err := try("BEGIN IMMEDIATE")
	switch {
	case err != nil:
		return []engine.Finding{{Level: engine.LevelWarning, Check: "lock", Message: fmt.Sprintf("Could not try the write lock on %s: %v.", path, err)}}
	case busy:
		return []engine.Finding{{Level: engine.LevelDanger, Check: "lock",
			Message: fmt.Sprintf("Another process holds the write lock on %s right now; Lifebelt's changes, snapshot and revert would wait for it.", path)}}
	}
	fs := []engine.Finding{{Check: "lock", Message: fmt.Sprintf("No other process holds the write lock on %s.", path)}}
	if strings.EqualFold(mode, "wal") {
		return fs
	}
	if busy, err := try("BEGIN EXCLUSIVE"); err == nil && busy {
		fs = append(fs, engine.Finding{Level: engine.LevelWarning, Check: "readers",
			Message: fmt.Sprintf("Another process is reading %s right now; in rollback-journal mode Lifebelt's commits wait until it stops.", path)})
	}
	return fs
}

// writeActivity samples PRAGMA data_version twice, interval apart: it
// moves exactly when another connection commits a change.
func writeActivity(ctx context.Context, c *sql.Conn, path string, interval time.Duration) (engine.Finding, error) {
	v1, err := dataVersion(ctx, c)
	if err != nil {
		return engine.Finding{}, err
	}
	select {
	case <-ctx.Done():
		return engine.Finding{}, ctx.Err()
	case <-time.After(interval):
	}
	v2, err := dataVersion(ctx, c)
	if err != nil {
		return engine.Finding{}, err
	}
	iv := interval.Round(100 * time.Millisecond)
	f := engine.Finding{Check: "write-activity", Data: map[string]any{"changed": v1 != v2, "seconds": interval.Seconds()}}
	if v1 == v2 {
		f.Message = fmt.Sprintf("Nothing wrote to %s during %s of watching.", filepath.Base(path), iv)
	} else {
		f.Level = engine.LevelWarning
		f.Message = fmt.Sprintf("Another process wrote to %s during %s of watching; a revert or restore would take its writes away too.", filepath.Base(path), iv)
	}
	return f, nil
}

// spaceFinding grades the free space in dir against need bytes: a
// snapshot or kept copy needs about the database's size.
func spaceFinding(check, dir, where string, need int64) engine.Finding {
	free, ok := freeBytes(dir)
	if !ok {
		return engine.Finding{Level: engine.LevelWarning, Check: check, Message: fmt.Sprintf("Could not read the free disk space %s (%s).", where, dir)}
	}
	f := engine.Finding{Check: check, Data: map[string]any{"dir": dir, "free_bytes": free, "needed_bytes": need}}
	switch {
	case free < uint64(need):
		f.Level = engine.LevelDanger
		f.Message = fmt.Sprintf("Only %s is free %s (%s); a copy of the %s database does not fit.", engine.HumanBytes(int64(free)), where, dir, engine.HumanBytes(need))
	case free < 2*uint64(need):
		f.Level = engine.LevelWarning
		f.Message = fmt.Sprintf("%s is free %s (%s): room for one copy of the %s database, not two.", engine.HumanBytes(int64(free)), where, dir, engine.HumanBytes(need))
	default:
		f.Message = fmt.Sprintf("%s is free %s (%s).", engine.HumanBytes(int64(free)), where, dir)
	}
	return f
}
