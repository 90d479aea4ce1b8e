package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"lifebelt/engine"
)

var (
	_ engine.Backuper = Driver{}
	_ engine.Restorer = Driver{}
)

// Backup copies the target file to path (a new file, mode 0600) with the
// online backup API; progress is in pages.
func (Driver) Backup(ctx context.Context, t engine.Target, path string, opt engine.BackupOptions) (engine.BackupInfo, error) {
	start := time.Now()
	src, err := resolveTarget(t)
	if err != nil {
		return engine.BackupInfo{}, err
	}
	dst, err := filepath.Abs(path)
	if err != nil {
		return engine.BackupInfo{}, fmt.Errorf("sqlite: backup path %q: %w", path, err)
	}
	if _, err := os.Lstat(dst); err == nil {
		return engine.BackupInfo{}, fmt.Errorf("sqlite: %s already exists; choose another backup file (nothing was written)", dst)
	}
	if dst == src {
		return engine.BackupInfo{}, fmt.Errorf("sqlite: %s is the database itself; choose another backup file (nothing was written)", dst)
	}
	var tables int64
	var version string
	size, err := withConn(ctx, src, "ro", func(c *sql.Conn) (int64, error) {
		if err := c.QueryRowContext(ctx, `SELECT sqlite_version(), (SELECT count(*) FROM sqlite_schema WHERE type = 'table')`).Scan(&version, &tables); err != nil {
			return 0, err
		}
		return copyFile(ctx, c, dst, opt.Progress, "copying "+filepath.Base(src))
	})
	if err != nil {
		return engine.BackupInfo{}, backupError(src, err)
	}
	return engine.BackupInfo{Path: dst, Size: size, Duration: time.Since(start), Format: "sqlite",
		Tool: "SQLite " + version + " online backup", Tables: int(tables)}, nil
}

func backupError(src string, err error) error {
	err = copyError("backing up", src, err)
	return errors.New(strings.Replace(err.Error(), "nothing was changed", "nothing was written", 1))
}

// checkBackupFile opens a backup read-only and runs PRAGMA quick_check, so
// a truncated or damaged file is refused before anything is touched.
func checkBackupFile(ctx context.Context, from string) error {
	fi, err := os.Stat(from)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("sqlite: backup file %s does not exist; nothing was changed", from)
	case err != nil:
		return fmt.Errorf("sqlite: cannot read backup file %s: %v; nothing was changed", from, err)
	case fi.IsDir():
		return fmt.Errorf("sqlite: %s is a directory, not a backup file; nothing was changed", from)
	case fi.Size() == 0:
		return fmt.Errorf("sqlite: backup file %s is empty; nothing was changed", from)
	}
	_, err = withConn(ctx, from, "ro", func(c *sql.Conn) (int64, error) {
		rows, err := c.QueryContext(ctx, "PRAGMA quick_check")
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		var problems []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				return 0, err
			}
			if s != "ok" {
				problems = append(problems, s)
			}
		}
		if err := rows.Err(); err != nil {
			return 0, err
		}
		if len(problems) > 0 {
			return 0, fmt.Errorf("damaged: %s", problems[0])
		}
		return 0, nil
	})
	if err != nil {
		var se sqlite3.Error
		if errors.As(err, &se) && (se.Code == sqlite3.ErrNotADB || se.Code == sqlite3.ErrCorrupt) || strings.HasPrefix(err.Error(), "damaged") {
			return fmt.Errorf("sqlite: %s is not a SQLite database or is damaged (%v); nothing was changed", from, err)
		}
		return fmt.Errorf("sqlite: cannot read backup file %s: %v; nothing was changed", from, err)
	}
	return nil
}

// Restore copies a backup back into the live file, keeping its current
// content as a _failed_ copy in opt.Dir (default: the journal directory),
// or, with opt.As, into a new file: a bare name goes beside the target.
func (Driver) Restore(ctx context.Context, t engine.Target, from string, opt engine.RestoreOptions) (engine.RevertResult, error) {
	start := time.Now()
	path, err := resolveTarget(t)
	if err != nil {
		return engine.RevertResult{}, err
	}
	if from, err = filepath.Abs(from); err != nil {
		return engine.RevertResult{}, fmt.Errorf("sqlite: backup path: %w", err)
	}
	if err := checkBackupFile(ctx, from); err != nil {
		return engine.RevertResult{}, err
	}
	if opt.As == "" {
		dir := opt.Dir
		if dir == "" {
			dir, err = snapshotDir("")
			if err != nil {
				return engine.RevertResult{}, err
			}
		}
		return putBack(ctx, path, from, dir, opt.Progress, "restoring")
	}
	dst := opt.As
	if !strings.ContainsAny(dst, `/\`) {
		dst = filepath.Join(filepath.Dir(path), dst)
	}
	if dst, err = filepath.Abs(dst); err != nil {
		return engine.RevertResult{}, fmt.Errorf("sqlite: %q: %w", opt.As, err)
	}
	if _, err := os.Lstat(dst); err == nil {
		return engine.RevertResult{}, fmt.Errorf("sqlite: %s already exists; choose another name for the restored copy (nothing was changed)", dst)
	}
	size, err := withConn(ctx, from, "ro", func(c *sql.Conn) (int64, error) {
		return copyFile(ctx, c, dst, opt.Progress, "restoring to "+filepath.Base(dst))
	})
	if err != nil {
		return engine.RevertResult{}, copyError("restoring", dst, err)
	}
	return engine.RevertResult{Database: dst, From: from, Size: size, Duration: time.Since(start)}, nil
}
