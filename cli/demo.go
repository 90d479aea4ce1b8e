package cli

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	"lifebelt/assets"
	"lifebelt/engine"
	"lifebelt/journal"
)

// DemoTarget returns the bundled demo database as a target, creating it
// beside the journals on first use. LIFEBELT_TARGET overrides it.
func DemoTarget() (string, error) {
	if t := os.Getenv("LIFEBELT_TARGET"); t != "" {
		return t, nil
	}
	dir, err := journal.DefaultDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(filepath.Dir(dir), "demo.db")
	if _, err := os.Stat(path); err == nil {
		return "sqlite:" + path, nil
	}
	if err := CreateSQLite(path, assets.DemoSQL); err != nil {
		return "", fmt.Errorf("creating the demo database: %w", err)
	}
	return "sqlite:" + path, nil
}

// CreateSQLite creates a new SQLite database file from a script, all or
// nothing: the file appears only when the script ran completely.
func CreateSQLite(path, script string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	os.Remove(tmp)
	db, err := sql.Open("sqlite3", "file:"+tmp+"?_foreign_keys=on")
	if err != nil {
		return err
	}
	_, err = db.Exec(script)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// OpenForGUI opens a session for the window: password from the URL,
// LIFEBELT_PASSWORD or the keyring, else from ask when the server wants one.
func OpenForGUI(ctx context.Context, target string, ask func() (string, bool)) (*engine.Session, error) {
	t, err := engine.ParseTarget(target)
	if err != nil {
		return nil, err
	}
	t = withPassword(t)
	opt := engine.Options{AppVersion: Version}
	s, err := engine.Open(ctx, t, opt)
	if err == nil || ask == nil || t.Password != "" || !needsPassword(err) {
		return s, err
	}
	pw, ok := ask()
	if !ok {
		return nil, err
	}
	t.Password = pw
	return engine.Open(ctx, t, opt)
}
