package sqlite

/*
#include "bridge.h"
*/
import "C"

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	_ "github.com/mattn/go-sqlite3" // registers "sqlite3" with database/sql

	"lifebelt/engine"
)

func init() { engine.Register(Driver{}) }

// Driver opens SQLite database files. It also implements engine.Scripter.
type Driver struct{}

var _ engine.Driver = Driver{}

// Name is "sqlite".
func (Driver) Name() string { return "sqlite" }

// Open opens an existing database file (a mistyped path must not create
// an empty database) on one pinned connection with foreign keys enforced
// and a 5 s busy timeout, and installs the authorizer and pre-update hook
// that classify statements and image their changes.
func (Driver) Open(ctx context.Context, t engine.Target) (engine.Conn, error) {
	if t.Dialect != "" && t.Dialect != "sqlite" {
		return nil, fmt.Errorf("sqlite: cannot open a %s target", t.Dialect)
	}
	if t.Path == "" {
		return nil, errors.New("sqlite: the target names no file")
	}
	path, err := filepath.Abs(t.Path)
	if err == nil {
		path, err = filepath.EvalSymlinks(path)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("sqlite: %s does not exist; Lifebelt only opens existing databases, so check the path", t.Path)
		}
		return nil, fmt.Errorf("sqlite: resolving %s: %w", t.Path, err)
	}
	if fi, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("sqlite: %s is not a regular file", path)
	}
	// mode=rw: never create the file, even if it vanished since Stat.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?mode=rw&_txlock=immediate&_busy_timeout=5000&_foreign_keys=1&_synchronous=FULL"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	c := &conn{db: db, path: path}
	if err := c.init(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *conn) init(ctx context.Context) error {
	var err error
	if c.sc, err = c.db.Conn(ctx); err != nil {
		return fmt.Errorf("sqlite: cannot open %s as a SQLite database: %w", c.path, err)
	}
	var handle int64
	if err := c.sc.QueryRowContext(ctx, "SELECT lifebelt_connection_handle()").Scan(&handle); err != nil {
		return fmt.Errorf("sqlite: cannot open %s as a SQLite database: %w", c.path, err)
	}
	if c.cc, err = newCConn(handle); err != nil {
		return err
	}
	if err := installPreupdate(c.cc); err != nil {
		return err
	}
	var fk int64
	err = c.cc.query(ctx, "SELECT count(*) FROM main.sqlite_schema", nil, func([]engine.Value) error { return nil })
	if err == nil {
		err = c.cc.query(ctx, "PRAGMA foreign_keys", nil, func(r []engine.Value) error { fk = r[0].I; return nil })
	}
	if err == nil {
		err = c.cc.query(ctx, "PRAGMA encoding", nil, func(r []engine.Value) error {
			if r[0].S == "UTF-8" {
				c.cc.p.utf8 = 1
			}
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("sqlite: cannot open %s as a SQLite database: %w", c.path, err)
	}
	if fk != 1 {
		return errors.New("sqlite: this SQLite build cannot enforce foreign keys")
	}
	return nil
}

// conn is one pinned connection to a database file.
type conn struct {
	db   *sql.DB
	sc   *sql.Conn
	cc   *cconn
	path string
	tx   *tx
	meta *schemaInfo // cached metadata, nil when it must be reloaded
	// fkOff is set while foreign-key enforcement is off for an undo
	// (BeginUndo), and stays set if it could not be turned back on.
	fkOff bool
}

var _ engine.Conn = (*conn)(nil)

// Identity names the file: the absolute path with symlinks resolved is
// both the database name and the ID.
func (c *conn) Identity(ctx context.Context) (engine.Identity, error) {
	id := engine.Identity{Dialect: "sqlite", Database: c.path, ID: c.path}
	err := c.cc.query(ctx, "SELECT sqlite_version()", nil, func(r []engine.Value) error {
		id.ServerVersion = r[0].S
		return nil
	})
	if err != nil {
		return id, fmt.Errorf("sqlite: reading the SQLite version: %w", err)
	}
	return id, nil
}

// Begin starts a BEGIN IMMEDIATE transaction: the write lock is taken at
// once, so no other connection can change a row between its image and
// the commit.
func (c *conn) Begin(ctx context.Context) (engine.Tx, error) {
	if err := c.restoreForeignKeys(ctx); err != nil {
		return nil, err
	}
	return c.begin(ctx)
}

func (c *conn) begin(ctx context.Context) (engine.Tx, error) {
	if c.tx != nil && !c.tx.done {
		return nil, errors.New("sqlite: a transaction is already open on this connection")
	}
	if err := c.cc.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		return nil, fmt.Errorf("sqlite: beginning a transaction on %s: %w", c.path, err)
	}
	c.tx = &tx{c: c}
	return c.tx, nil
}

// Close rolls back an open transaction and closes the connection. It may
// be called more than once.
func (c *conn) Close() error {
	if c.tx != nil && !c.tx.done {
		c.tx.Rollback(context.Background())
	}
	if c.cc != nil {
		c.cc.close()
		c.cc = nil
	}
	var err error
	if c.sc != nil {
		err = c.sc.Close()
		c.sc = nil
	}
	if cerr := c.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// tx is the open transaction of a conn.
type tx struct {
	c    *conn
	done bool
	// undo is set by PrepareUndo: rows are written with triggers
	// suspended (see suspendTriggers).
	undo bool
	// suspended holds the triggers dropped while undo writes rows, in
	// creation order; nil when they are not suspended (empty when there
	// were none to drop).
	suspended []savedTrigger
	// fkOff: an undo's transaction, begun with foreign-key enforcement
	// off (BeginUndo); it is turned back on when the transaction ends.
	fkOff bool
}

// ended turns foreign-key enforcement back on after an undo's
// transaction. A failure is not the transaction's: it is remembered, and
// the connection refuses to begin anything else (restoreForeignKeys).
func (t *tx) ended(ctx context.Context) {
	if t.fkOff && t.done {
		t.c.restoreForeignKeys(context.WithoutCancel(ctx))
	}
}

var _ engine.Tx = (*tx)(nil)

func (t *tx) usable() error {
	if t.done || t.c.cc == nil {
		return errNotActive
	}
	if C.sqlite3_get_autocommit(t.c.cc.db) != 0 {
		// SQLite ended it (an interrupt or ON CONFLICT ROLLBACK);
		// running on would autocommit unguarded statements.
		t.done = true
		t.c.meta = nil
		return errNotActive
	}
	return nil
}

// Commit commits. If SQLite reports busy, the transaction stays open.
func (t *tx) Commit(ctx context.Context) error {
	defer t.ended(ctx)
	if err := t.usable(); err != nil {
		return err
	}
	if err := t.c.cc.exec(ctx, "COMMIT"); err != nil {
		if C.sqlite3_get_autocommit(t.c.cc.db) != 0 {
			t.done = true
			t.c.meta = nil
		}
		return fmt.Errorf("sqlite: committing on %s: %w", t.c.path, err)
	}
	t.done = true
	return nil
}

// Rollback rolls back; it is a no-op when SQLite already did.
func (t *tx) Rollback(ctx context.Context) error {
	defer t.ended(ctx)
	if t.done || t.c.cc == nil {
		return nil
	}
	t.done = true
	t.c.meta = nil // rolled-back DDL may reuse a schema version number
	if C.sqlite3_get_autocommit(t.c.cc.db) != 0 {
		return nil
	}
	if err := t.c.cc.exec(context.WithoutCancel(ctx), "ROLLBACK"); err != nil {
		return fmt.Errorf("sqlite: rolling back on %s: %w", t.c.path, err)
	}
	return nil
}

var _ engine.Autocommitter = (*conn)(nil)

// NeedsAutocommit reports statements SQLite refuses inside a transaction.
func (c *conn) NeedsAutocommit(st engine.Statement) bool {
	switch st.Verb {
	case "VACUUM", "ATTACH", "DETACH":
		return true
	}
	return false
}

// ExecAutocommit runs such a statement on the session's connection, outside
// any transaction.
func (c *conn) ExecAutocommit(ctx context.Context, st engine.Statement) (engine.Result, error) {
	if c.tx != nil && !c.tx.done {
		return engine.Result{}, errors.New("sqlite: a transaction is open on this connection")
	}
	c.meta = nil // the statement may change what the schema cache describes
	if err := c.cc.exec(ctx, st.Text); err != nil {
		return engine.Result{}, fmt.Errorf("sqlite: %s on %s: %w", st.Verb, c.path, err)
	}
	return engine.Result{}, nil
}
