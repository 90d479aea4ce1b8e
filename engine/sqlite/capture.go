package sqlite

/*
#include "bridge.h"
*/
import "C"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"lifebelt/engine"
)

// capture is the state of one statement whose changes are being imaged.
// The pre-update hook buffers row changes in C; batch hands them to the
// sink, from inside sqlite3_step when a batch is full (where no SQL may run
// on the connection) and after each step. It stays lean: the 100k-row
// DELETE budget is a small multiple of the bare statement.
type capture struct {
	sink   engine.Sink
	schema *schemaInfo
	cc     *cconn
	// skip holds lower-case tables whose rows are imaged another way (a
	// dropped or altered table) and are not imaged here.
	skip map[string]bool
	// fkReach are the tables a foreign-key action of the statement's
	// targets may change; trigWrites the tables trigger bodies write.
	fkReach    map[string]bool
	trigWrites map[string]bool

	targets       map[targetKey]*target
	before, after []engine.Value
	trigCount     map[string]int
	trigOrder     []string
	err           error
}

// maxIdleArena is the largest byte arena kept between batches.
const maxIdleArena = 8 << 20

type targetKey struct {
	db, table string
	level     int
}

type target struct {
	handle int64
	meta   *tableMeta
	skip   bool
	warn   bool
}

// batch images the buffered row changes and empties the buffer. inStep
// says it runs inside sqlite3_step, where an error must interrupt the
// statement.
func (cp *capture) batch(inStep bool) {
	c := cp.cc.p
	defer func() {
		c.nrows, c.nvals, c.nbytes = 0, 0, 0
		c.lastdb, c.lasttab = nil, nil
		if c.capbytes > maxIdleArena {
			// A huge value grew the arena; do not keep it for the session.
			C.free(unsafe.Pointer(c.bytes))
			c.bytes, c.capbytes = nil, 0
		}
	}()
	if cp.err != nil || c.nrows == 0 {
		return
	}
	rows := unsafe.Slice(c.rows, c.nrows)
	vals := unsafe.Slice(c.vals, c.nvals)
	arena := unsafe.Slice((*byte)(unsafe.Pointer(c.bytes)), c.nbytes)
	var slab []byte // Go copy of the arena, made when a value needs bytes
	var t *target
	lastName, lastLevel := C.int(-1), C.int(-1)
	for i := range rows {
		r := &rows[i]
		if r.name != lastName || r.depth != lastLevel {
			db, tab := names(arena, int(r.name))
			var err error
			if t, err = cp.resolve(db, tab, int(r.depth)); err != nil {
				cp.fail(err, inStep)
				return
			}
			lastName, lastLevel = r.name, r.depth
		}
		if t.skip {
			continue
		}
		n := int(r.ncol)
		if n != len(t.meta.info.Columns) {
			cp.fail(fmt.Errorf("sqlite: %s reported %d columns, expected %d", t.meta.info.Name, n, len(t.meta.info.Columns)), inStep)
			return
		}
		var before, after []engine.Value
		if r.old >= 0 {
			before = cp.fill(&cp.before, vals[r.old:int(r.old)+n], t.meta, arena, &slab)
		}
		if r.nw >= 0 {
			after = cp.fill(&cp.after, vals[r.nw:int(r.nw)+n], t.meta, arena, &slab)
		}
		op := engine.OpUpdate
		switch r.op {
		case C.LB_SQLITE_DELETE:
			op = engine.OpDelete
		case C.LB_SQLITE_INSERT:
			op = engine.OpInsert
		}
		if err := cp.sink.Row(t.handle, op, before, after); err != nil {
			cp.fail(err, inStep)
			return
		}
		if t.warn {
			name := t.meta.info.Name
			if cp.trigCount[name] == 0 {
				cp.trigOrder = append(cp.trigOrder, name)
			}
			cp.trigCount[name]++
		}
	}
}

// names reads the "db\0table\0" pair at off.
func names(arena []byte, off int) (db, table string) {
	rest := arena[off:]
	i := bytes.IndexByte(rest, 0)
	j := bytes.IndexByte(rest[i+1:], 0)
	return unsafe.String(&rest[0], i), unsafe.String(&rest[i+1], j)
}

// fill converts one row. TEXT and BLOB bytes are copied once per batch
// into slab and shared by the batch's values (nobody mutates them). A
// VIRTUAL generated column has no stored value for the hook to report: it
// is NULL in images, and Fetch and row streaming read it as NULL too.
func (cp *capture) fill(buf *[]engine.Value, src []C.lb_val, m *tableMeta, arena []byte, slab *[]byte) []engine.Value {
	n := len(src)
	if cap(*buf) < n {
		*buf = make([]engine.Value, n)
	}
	row := (*buf)[:n]
	for i := range src {
		v := &src[i]
		switch v._type {
		case C.LB_SQLITE_INTEGER:
			row[i] = engine.Value{K: kInt, I: int64(v.i)}
		case C.LB_SQLITE_FLOAT:
			row[i] = engine.Value{K: kFloat, F: float64(v.f)}
		case C.LB_SQLITE_TEXT, C.LB_SQLITE_BLOB:
			if *slab == nil {
				*slab = append(make([]byte, 0, len(arena)), arena...)
			}
			off, ln := int(v.i), int(v.n)
			b := (*slab)[off : off+ln : off+ln]
			if v._type == C.LB_SQLITE_BLOB {
				row[i] = engine.Value{K: kBytes, B: b}
			} else {
				row[i] = engine.Value{K: kText, S: unsafe.String(unsafe.SliceData(b), ln)}
			}
		default:
			row[i] = engine.Value{}
		}
	}
	return row
}

func (cp *capture) resolve(db, tab string, level int) (*target, error) {
	if t := cp.targets[targetKey{db, tab, level}]; t != nil {
		return t, nil
	}
	key := targetKey{strings.Clone(db), strings.Clone(tab), level}
	t := &target{}
	cp.targets[key] = t
	switch db {
	case "temp":
		// Temporary tables vanish with the session; nothing to undo.
		t.skip = true
		return t, nil
	case "main":
	default:
		return nil, fmt.Errorf("sqlite: a change in attached database %q cannot be imaged", db)
	}
	m := cp.schema.tables[key.table]
	lt := lowerASCII(key.table)
	if m == nil || m.virtual || cp.skip[lt] {
		// Not in the metadata loaded before the statement: the table
		// is new (CREATE TABLE AS, a virtual table's shadow tables) or
		// it is sqlite_schema itself. Undo drops new tables whole.
		t.skip = true
		return t, nil
	}
	info := m.info
	info.Level = level
	h, err := cp.sink.Table(info)
	if err != nil {
		return nil, err
	}
	t.handle, t.meta = h, m
	t.warn = level > 0 && (!cp.fkReach[lt] || cp.trigWrites[lt])
	return t, nil
}

// fail remembers the first error and stops the statement: the hook cannot
// return an error, so inside sqlite3_step it interrupts SQLite, and Exec
// reports the error.
func (cp *capture) fail(err error, inStep bool) {
	if cp.err == nil {
		cp.err = err
	}
	cp.cc.p.failed = 1
	if inStep {
		C.sqlite3_interrupt(cp.cc.db)
	}
}

func (cp *capture) warnings() {
	for _, name := range cp.trigOrder {
		n := cp.trigCount[name]
		rows := "rows"
		if n == 1 {
			rows = "row"
		}
		cp.sink.Warn(fmt.Sprintf("triggers changed %d %s in %s; they are imaged, and undo restores them without firing triggers", n, rows, name))
	}
}

// Exec runs one statement, imaging what it changes. See engine.Tx.
func (t *tx) Exec(ctx context.Context, st engine.Statement, sink engine.Sink, opt engine.ExecOptions) (engine.Result, error) {
	if err := t.usable(); err != nil {
		return engine.Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return engine.Result{}, err
	}
	res, err := t.exec(ctx, st, sink, opt)
	if err != nil {
		// A failed statement may have rolled back DDL (or SQLite may
		// have rolled back the whole transaction): drop cached metadata.
		t.c.meta = nil
		if C.sqlite3_get_autocommit(t.c.cc.db) != 0 {
			t.done = true
			err = fmt.Errorf("%w (SQLite rolled back the whole transaction)", err)
		}
	}
	return res, err
}

func (t *tx) exec(ctx context.Context, st engine.Statement, sink engine.Sink, opt engine.ExecOptions) (engine.Result, error) {
	cc := t.c.cc
	cc.state.auth = cc.state.auth[:0]
	s, rest, err := cc.prepare(st.Text, true)
	if err != nil {
		return engine.Result{}, fmt.Errorf("sqlite: %w", err)
	}
	if s == nil {
		return engine.Result{}, nil
	}
	defer s.close()
	events := append([]authEvent(nil), cc.state.auth...)
	if extra, _, err := cc.prepare(rest, false); err != nil || extra != nil {
		extra.close()
		return engine.Result{}, fmt.Errorf("sqlite: statement %d holds more than one statement; split the batch first", st.Index+1)
	}
	p, err := t.plan(ctx, s, st.Text, events)
	if err != nil {
		return engine.Result{}, err
	}
	if p.read {
		return t.read(ctx, s, opt)
	}
	if p.unguarded != "" {
		if !opt.AllowUnguarded {
			return engine.Result{}, &engine.UnguardedError{Statement: st.Text, Reason: p.unguarded}
		}
		t.c.meta = nil
		res, err := t.run(ctx, s, nil, p.dml, opt)
		res.Unguarded = true
		return res, err
	}
	return t.change(ctx, s, st.Text, p, sink, opt)
}

// read runs a statement that changes nothing and returns its first rows.
func (t *tx) read(ctx context.Context, s *cstmt, opt engine.ExecOptions) (engine.Result, error) {
	max := opt.MaxResultRows
	if max <= 0 {
		max = 1000
	}
	res := engine.Result{Columns: s.columns()}
	stop := t.c.cc.watch(ctx)
	defer stop()
	for {
		more, err := s.step()
		if err != nil {
			return res, fmt.Errorf("sqlite: %w", ctxErr(ctx, err))
		}
		if !more {
			return res, nil
		}
		if len(res.Rows) == max {
			res.Truncated = true
			return res, nil
		}
		res.Rows = append(res.Rows, s.row(nil))
	}
}

// run steps a changing statement to the end with cp (nil: no images)
// receiving its row changes, and collects RETURNING rows. dml says the
// statement itself inserts, updates or deletes, so SQLite's change count
// is its own.
func (t *tx) run(ctx context.Context, s *cstmt, cp *capture, dml bool, opt engine.ExecOptions) (engine.Result, error) {
	cc := t.c.cc
	max := opt.MaxResultRows
	if max <= 0 {
		max = 1000
	}
	var res engine.Result
	if s.ncol > 0 {
		res.Columns = s.columns()
	}
	if cp != nil {
		cc.state.capture = cp
		cc.p.failed = 0
		cc.p.active = 1
	}
	stop := cc.watch(ctx)
	var err error
	for {
		var more bool
		more, err = s.step()
		if cp != nil {
			if cp.batch(false); cp.err != nil {
				break
			}
		}
		if err != nil || !more {
			break
		}
		if len(res.Rows) < max {
			res.Rows = append(res.Rows, s.row(nil))
		} else {
			res.Truncated = true
		}
	}
	stop()
	cc.p.active = 0
	cc.state.capture = nil
	if cp != nil && cp.err != nil {
		return engine.Result{}, cp.err
	}
	if err != nil {
		return engine.Result{}, fmt.Errorf("sqlite: %w", ctxErr(ctx, err))
	}
	if dml {
		res.RowsAffected = int64(C.sqlite3_changes64(cc.db))
	}
	return res, nil
}

// errNotActive is returned once the transaction has ended.
var errNotActive = errors.New("sqlite: the transaction is no longer active")
