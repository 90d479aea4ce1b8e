package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Ext is the file name extension of journals.
const Ext = ".lifebelt"

// DefaultDir is where journals go unless the user says otherwise:
// $LIFEBELT_JOURNAL_DIR if set, else the platform's per-user data directory
// ($XDG_DATA_HOME/lifebelt/journals or ~/.local/share/lifebelt/journals;
// ~/Library/Application Support/Lifebelt/journals on macOS;
// %LocalAppData%\Lifebelt\journals on Windows). It does not create it.
func DefaultDir() (string, error) {
	if d := os.Getenv("LIFEBELT_JOURNAL_DIR"); d != "" {
		return d, nil
	}
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "Lifebelt", "journals"), nil
		}
		return "", errors.New("journal: %LocalAppData% is not set; set LIFEBELT_JOURNAL_DIR")
	case "darwin", "ios":
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("journal: no home directory; set LIFEBELT_JOURNAL_DIR: %w", err)
		}
		return filepath.Join(home, "Library", "Application Support", "Lifebelt", "journals"), nil
	}
	// The XDG spec says to ignore a relative XDG_DATA_HOME.
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "lifebelt", "journals"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("journal: no home directory; set LIFEBELT_JOURNAL_DIR: %w", err)
	}
	return filepath.Join(home, ".local", "share", "lifebelt", "journals"), nil
}

// NewPath names a new journal in dir:
// <created, UTC>-<database>-<first 8 of session id>.lifebelt, e.g.
// 2026-11-21T180900Z-app.db-1f3a9c0e.lifebelt. Names sort by creation time.
// Pass h.WithDefaults() so the name matches what Create stores; a missing
// time or id is filled from the clock and randomness here.
func NewPath(dir string, h Header) string {
	at := h.CreatedAt
	if at.IsZero() {
		at = time.Now()
	}
	id := h.SessionID
	if id == "" {
		id = NewSessionID()
	}
	id = sanitize(id, 8)
	if id == "" {
		id = "session"
	}
	name := fmt.Sprintf("%s-%s-%s%s", at.UTC().Format("2006-01-02T150405Z"), dbLabel(h.Database), id, Ext)
	return filepath.Join(dir, name)
}

// dbLabel is a short, file-name-safe label for a database: the last path
// element for SQLite files (whichever separator the path uses), the name
// otherwise.
func dbLabel(db string) string {
	if i := strings.LastIndexAny(db, `/\`); i >= 0 {
		db = db[i+1:]
	}
	if s := sanitize(db, 40); s != "" {
		return s
	}
	return "db"
}

// sanitize keeps ASCII letters, digits, '.', '_' and '-', replaces runs of
// anything else by '_', trims leading dots and separators, and cuts at max
// bytes. The result is safe on every file system Lifebelt runs on.
func sanitize(s string, max int) string {
	var b strings.Builder
	under := false
	for i := 0; i < len(s) && b.Len() < max; i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if ok {
			b.WriteByte(c)
			under = false
		} else if !under {
			b.WriteByte('_')
			under = true
		}
	}
	return strings.Trim(b.String(), "._-")
}
