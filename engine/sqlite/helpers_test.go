package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lifebelt/engine"
)

// recSink records everything a statement images.
type recSink struct {
	tables  []engine.TableInfo // handle h is tables[h-1]
	rows    []rec
	objects []engine.ObjectImage
	warns   []string
	failAt  int // Row returns an error on this call (1-based), 0 never
	calls   int
}

type rec struct {
	table  string
	level  int
	op     engine.Op
	before []engine.Value
	after  []engine.Value
}

func (s *recSink) Table(t engine.TableInfo) (int64, error) {
	s.tables = append(s.tables, t)
	return int64(len(s.tables)), nil
}

func (s *recSink) Row(h int64, op engine.Op, before, after []engine.Value) error {
	s.calls++
	if s.failAt > 0 && s.calls == s.failAt {
		return errors.New("journal full")
	}
	t := s.tables[h-1]
	s.rows = append(s.rows, rec{table: t.Name, level: t.Level, op: op,
		before: append([]engine.Value(nil), before...), after: append([]engine.Value(nil), after...)})
	return nil
}

func (s *recSink) Object(o engine.ObjectImage) error {
	s.objects = append(s.objects, o)
	return nil
}

func (s *recSink) Warn(msg string) { s.warns = append(s.warns, msg) }

// rowsOf returns the images of one table as compact strings, in order.
func (s *recSink) rowsOf(table string) []string {
	var out []string
	for _, r := range s.rows {
		if r.table == table {
			out = append(out, r.String())
		}
	}
	return out
}

func (r rec) String() string {
	return fmt.Sprintf("%c%d %s -> %s", r.op, r.level, rowString(r.before), rowString(r.after))
}

func rowString(row []engine.Value) string {
	if row == nil {
		return "-"
	}
	parts := make([]string, len(row))
	for i, v := range row {
		parts[i] = valString(v)
	}
	return "(" + strings.Join(parts, ",") + ")"
}

func valString(v engine.Value) string {
	switch v.K {
	case kNull:
		return "NULL"
	case kInt:
		return fmt.Sprint(v.I)
	case kFloat:
		return fmt.Sprintf("%gf", v.F)
	case kText:
		return fmt.Sprintf("%q", v.S)
	case kBytes:
		return fmt.Sprintf("x%x", v.B)
	}
	return "?"
}

// newFile creates a database file holding schema, using a plain
// database/sql connection (not the package under test).
func newFile(t testing.TB, schema string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "target.db")
	db, err := sql.Open("sqlite3", "file:"+path+"?_foreign_keys=1")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if schema != "" {
		if _, err := db.Exec(schema); err != nil {
			t.Fatalf("creating schema: %v", err)
		}
	} else if _, err := db.Exec("PRAGMA user_version = 0"); err != nil {
		t.Fatal(err)
	}
	return path
}

func openConn(t testing.TB, path string) *conn {
	t.Helper()
	c, err := Driver{}.Open(context.Background(), engine.Target{Dialect: "sqlite", Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*conn)
}

// session opens a new database with schema and begins a transaction.
func session(t testing.TB, schema string) (*conn, *tx) {
	t.Helper()
	c := openConn(t, newFile(t, schema))
	return c, begin(t, c)
}

func begin(t testing.TB, c *conn) *tx {
	t.Helper()
	x, err := c.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return x.(*tx)
}

// run executes one statement and fails the test on error.
func run(t testing.TB, x *tx, text string) (engine.Result, *recSink) {
	t.Helper()
	sink := &recSink{}
	res, err := x.Exec(context.Background(), engine.Statement{Text: text}, sink, engine.ExecOptions{})
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	return res, sink
}

// query returns rows of a query as compact strings, through the package's
// own exact reader.
func query(t testing.TB, c *conn, q string) []string {
	t.Helper()
	var out []string
	err := c.cc.query(context.Background(), q, nil, func(r []engine.Value) error {
		out = append(out, rowString(r))
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
