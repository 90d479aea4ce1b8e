package gui

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"lifebelt/engine"
)

// fakeDriver is an in-memory dialect with one table, memo(id, note), so the
// window can be tested without linking a database driver into gui.
// "DELETE FROM memo WHERE id = N" and "UPDATE memo SET note = 'x' WHERE id = N"
// are the statements it understands.
type fakeDriver struct{}

type fakeDB struct {
	mu   sync.Mutex
	rows map[int64]string
}

var fakeStore = &fakeDB{rows: map[int64]string{}}

func init() { engine.Register(fakeDriver{}) }

func (fakeDriver) Name() string { return "fake" }

func (fakeDriver) Open(ctx context.Context, t engine.Target) (engine.Conn, error) {
	return &fakeConn{db: fakeStore}, nil
}

type fakeConn struct{ db *fakeDB }

func (c *fakeConn) Identity(context.Context) (engine.Identity, error) {
	return engine.Identity{Dialect: "fake", ServerVersion: "1", Database: "memo.db", ID: "fake:memo"}, nil
}
func (c *fakeConn) Split(sql string) ([]engine.Statement, error) {
	return engine.SplitSQL(sql, engine.SyntaxSQLite)
}
func (c *fakeConn) Begin(context.Context) (engine.Tx, error) {
	c.db.mu.Lock()
	snap := map[int64]string{}
	for k, v := range c.db.rows {
		snap[k] = v
	}
	c.db.mu.Unlock()
	return &fakeTx{db: c.db, snap: snap}, nil
}
func (c *fakeConn) Close() error { return nil }

type fakeTx struct {
	db   *fakeDB
	snap map[int64]string // rolled back to on Rollback
}

var memo = engine.TableInfo{Name: "memo", Columns: []engine.Column{{Name: "id", Type: "INTEGER"}, {Name: "note", Type: "TEXT"}}, Key: []int{0}, KeyKind: engine.KeyPrimary}

func row(id int64, note string) []engine.Value {
	return []engine.Value{{K: engine.IntKind, I: id}, {K: engine.TextKind, S: note}}
}

func (t *fakeTx) Exec(ctx context.Context, st engine.Statement, sink engine.Sink, opt engine.ExecOptions) (engine.Result, error) {
	t.db.mu.Lock()
	defer t.db.mu.Unlock()
	h, err := sink.Table(memo)
	if err != nil {
		return engine.Result{}, err
	}
	f := strings.Fields(st.Text)
	id, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
	old, ok := t.db.rows[id]
	if !ok {
		return engine.Result{}, nil
	}
	switch st.Verb {
	case "DELETE":
		sink.Row(h, engine.OpDelete, row(id, old), nil)
		delete(t.db.rows, id)
	case "UPDATE":
		note := strings.Trim(f[5], "'")
		sink.Row(h, engine.OpUpdate, row(id, old), row(id, note))
		t.db.rows[id] = note
	}
	return engine.Result{RowsAffected: 1}, nil
}

func (t *fakeTx) Commit(context.Context) error { return nil }
func (t *fakeTx) Rollback(context.Context) error {
	t.db.mu.Lock()
	t.db.rows = t.snap
	t.db.mu.Unlock()
	return nil
}

func (t *fakeTx) PrepareUndo(context.Context) ([]string, error) { return nil, nil }
func (t *fakeTx) Fetch(_ context.Context, _ engine.TableInfo, keys [][]engine.Value) ([]engine.Found, error) {
	t.db.mu.Lock()
	defer t.db.mu.Unlock()
	out := make([]engine.Found, len(keys))
	for i, k := range keys {
		if n, ok := t.db.rows[k[0].I]; ok {
			out[i] = engine.Found{Row: row(k[0].I, n), Count: 1}
		}
	}
	return out, nil
}
func (t *fakeTx) Insert(_ context.Context, _ engine.TableInfo, rows [][]engine.Value) error {
	t.db.mu.Lock()
	defer t.db.mu.Unlock()
	for _, r := range rows {
		t.db.rows[r[0].I] = r[1].S
	}
	return nil
}
func (t *fakeTx) Update(ctx context.Context, ti engine.TableInfo, keys, rows [][]engine.Value) error {
	return t.Insert(ctx, ti, rows)
}
func (t *fakeTx) Delete(_ context.Context, _ engine.TableInfo, keys [][]engine.Value) error {
	t.db.mu.Lock()
	defer t.db.mu.Unlock()
	for _, k := range keys {
		delete(t.db.rows, k[0].I)
	}
	return nil
}
func (t *fakeTx) ExecDDL(context.Context, []string) error { return nil }
func (t *fakeTx) ObjectExists(context.Context, string, string, string) (bool, error) {
	return false, nil
}
func (t *fakeTx) SyncSequences(context.Context, engine.TableInfo) error { return nil }

// DescribeDestruction lets the window's confirmation show what a
// destructive statement would destroy.
func (c *fakeConn) DescribeDestruction(_ context.Context, st engine.Statement) ([]string, error) {
	c.db.mu.Lock()
	defer c.db.mu.Unlock()
	return []string{fmt.Sprintf("table %s with %d row(s)", st.Targets[0].Name, len(c.db.rows))}, nil
}
