package sqlite

/*
#cgo CFLAGS: -O2
#include "bridge.h"
*/
import "C"

import (
	"context"
	"fmt"
	"runtime/cgo"
	"strings"
	"unsafe"

	"lifebelt/engine"
	"lifebelt/journal"
)

// Storage classes of engine.Value.
const (
	kNull  = journal.Null
	kInt   = journal.Int
	kFloat = journal.Float
	kText  = journal.Text
	kBytes = journal.Bytes
)

// The package talks to SQLite's C API for everything after Open, because
// the driver's Go API loses what Lifebelt must keep exact:
//   - its pre-update Old()/New() return TEXT and BLOB alike as []byte;
//   - its row reader turns TEXT in DATE/DATETIME/TIMESTAMP columns into
//     time.Time and INTEGER in BOOLEAN columns into bool;
//   - its Stmt silently ignores text after the first statement.
// The C side is a thin layer (bridge.c); the SQLite library is the one the
// driver compiles in.

func init() {
	C.lb_register_handle_function()
}

// Error is an error reported by SQLite.
type Error struct {
	Code int // extended result code
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// authEvent is one authorizer call: SQLite's action code and its four
// string arguments (the third is the database, the fourth the trigger or
// view responsible, "" at top level).
type authEvent struct {
	code          int
	a1, a2        string
	hasA2         bool
	db, inTrigger string
}

// connState is the Go side of one connection's callbacks. Callbacks run on
// the goroutine that is inside sqlite3_prepare or sqlite3_step, so it
// needs no lock.
type connState struct {
	auth    []authEvent
	capture *capture // the statement being captured, nil when none
}

//export lbAuthorize
func lbAuthorize(h C.uintptr_t, code C.int, a1, a2, a3, a4 *C.char) {
	st := cgo.Handle(h).Value().(*connState)
	st.auth = append(st.auth, authEvent{
		code: int(code), a1: C.GoString(a1), a2: C.GoString(a2), hasA2: a2 != nil,
		db: C.GoString(a3), inTrigger: C.GoString(a4),
	})
}

//export lbPreupdateBatch
func lbPreupdateBatch(h C.uintptr_t, inStep C.int) {
	st := cgo.Handle(h).Value().(*connState)
	if st.capture == nil {
		return
	}
	// A panic must not unwind through SQLite's C frames: it becomes the
	// statement's error.
	defer func() {
		if r := recover(); r != nil {
			st.capture.fail(fmt.Errorf("sqlite: capturing row images: panic: %v", r), inStep != 0)
		}
	}()
	st.capture.batch(inStep != 0)
}

//export lbPreupdateOOM
func lbPreupdateOOM(h C.uintptr_t) {
	st := cgo.Handle(h).Value().(*connState)
	if st.capture != nil && st.capture.err == nil {
		st.capture.err = fmt.Errorf("sqlite: out of memory while capturing row images")
	}
}

// cconn is the C view of the pinned connection.
type cconn struct {
	db    *C.sqlite3
	p     *C.lb_conn
	h     cgo.Handle
	state *connState
}

func newCConn(handle int64) (*cconn, error) {
	st := &connState{}
	h := cgo.NewHandle(st)
	db := C.lb_db_from_handle(C.sqlite3_int64(handle))
	p := C.lb_conn_new(db, C.uintptr_t(h))
	if p == nil {
		h.Delete()
		return nil, fmt.Errorf("sqlite: cannot install the authorizer")
	}
	return &cconn{db: db, p: p, h: h, state: st}, nil
}

// close detaches the callbacks. The sqlite3 handle itself is closed by the
// driver afterwards.
func (c *cconn) close() {
	if c.p == nil {
		return
	}
	c.p.active = 0
	C.sqlite3_set_authorizer(c.db, nil, nil)
	uninstallPreupdate(c)
	C.lb_conn_free(c.p)
	c.p = nil
	c.h.Delete()
}

func (c *cconn) lastError() error {
	return &Error{Code: int(C.sqlite3_extended_errcode(c.db)), Msg: C.GoString(C.sqlite3_errmsg(c.db))}
}

// watch interrupts the running statement when ctx ends; call the returned
// function when the statement is done.
func (c *cconn) watch(ctx context.Context) (stop func() bool) {
	if ctx.Done() == nil {
		return func() bool { return true }
	}
	db := c.db
	return context.AfterFunc(ctx, func() { C.sqlite3_interrupt(db) })
}

// cstmt is one prepared statement with its own row buffer.
type cstmt struct {
	c    *cconn
	s    *C.sqlite3_stmt
	ncol int
	vals *C.lb_val
}

// prepare compiles the first statement of sql. rest is the text after
// it; s is nil when sql holds only whitespace and comments.
func (c *cconn) prepare(sql string, collect bool) (s *cstmt, rest string, err error) {
	if strings.IndexByte(sql, 0) >= 0 {
		return nil, "", fmt.Errorf("sqlite: statement text contains a NUL byte")
	}
	if len(sql) > 1<<30 {
		return nil, "", fmt.Errorf("sqlite: statement text is too long")
	}
	var stmt *C.sqlite3_stmt
	var tail C.int
	col := C.int(0)
	if collect {
		col = 1
	}
	p := (*C.char)(unsafe.Pointer(unsafe.StringData(sql)))
	if rc := C.lb_prepare(c.p, col, p, C.int(len(sql)), &stmt, &tail); rc != C.LB_SQLITE_OK {
		return nil, "", c.lastError()
	}
	rest = sql[int(tail):]
	if stmt == nil {
		return nil, rest, nil
	}
	s = &cstmt{c: c, s: stmt, ncol: int(C.sqlite3_column_count(stmt))}
	if s.ncol > 0 {
		s.vals = (*C.lb_val)(C.calloc(C.size_t(s.ncol), C.size_t(unsafe.Sizeof(C.lb_val{}))))
		if s.vals == nil {
			C.sqlite3_finalize(stmt)
			return nil, "", fmt.Errorf("sqlite: out of memory")
		}
	}
	return s, rest, nil
}

func (s *cstmt) close() {
	if s == nil || s.s == nil {
		return
	}
	C.sqlite3_finalize(s.s)
	s.s = nil
	if s.vals != nil {
		C.free(unsafe.Pointer(s.vals))
		s.vals = nil
	}
}

func (s *cstmt) readonly() bool { return C.sqlite3_stmt_readonly(s.s) != 0 }
func (s *cstmt) explain() bool  { return C.sqlite3_stmt_isexplain(s.s) != 0 }

func (s *cstmt) columns() []string {
	names := make([]string, s.ncol)
	for i := range names {
		names[i] = C.GoString(C.sqlite3_column_name(s.s, C.int(i)))
	}
	return names
}

func (s *cstmt) bind(args []engine.Value) error {
	for i, v := range args {
		var rc C.int
		n := C.int(i + 1)
		switch v.K {
		case kNull:
			rc = C.sqlite3_bind_null(s.s, n)
		case kInt:
			rc = C.sqlite3_bind_int64(s.s, n, C.sqlite3_int64(v.I))
		case kFloat:
			rc = C.sqlite3_bind_double(s.s, n, C.double(v.F))
		case kText:
			rc = C.lb_bind_text(s.s, n, (*C.char)(unsafe.Pointer(unsafe.StringData(v.S))), C.int(len(v.S)))
		case kBytes:
			var p unsafe.Pointer
			if len(v.B) > 0 {
				p = unsafe.Pointer(&v.B[0])
			}
			rc = C.lb_bind_blob(s.s, n, p, C.int(len(v.B)))
		default:
			return fmt.Errorf("sqlite: cannot bind a value of kind %d", v.K)
		}
		if rc != C.LB_SQLITE_OK {
			return s.c.lastError()
		}
	}
	return nil
}

// binder binds many values in one call into C: per value, a crossing
// costs as much as SQLite's own work for a small row.
type binder struct {
	vals  []C.lb_val
	arena []byte
}

// bindRows binds rows, one after the other, as parameters 1..n of s.
func (s *cstmt) bindRows(b *binder, rows [][]engine.Value) error {
	b.vals, b.arena = b.vals[:0], b.arena[:0]
	for _, row := range rows {
		for _, v := range row {
			cv := C.lb_val{_type: C.LB_SQLITE_NULL}
			switch v.K {
			case kNull:
			case kInt:
				cv._type, cv.i = C.LB_SQLITE_INTEGER, C.sqlite3_int64(v.I)
			case kFloat:
				cv._type, cv.f = C.LB_SQLITE_FLOAT, C.double(v.F)
			case kText:
				cv._type, cv.i, cv.n = C.LB_SQLITE_TEXT, C.sqlite3_int64(len(b.arena)), C.int(len(v.S))
				b.arena = append(b.arena, v.S...)
			case kBytes:
				cv._type, cv.i, cv.n = C.LB_SQLITE_BLOB, C.sqlite3_int64(len(b.arena)), C.int(len(v.B))
				b.arena = append(b.arena, v.B...)
			default:
				return fmt.Errorf("sqlite: cannot bind a value of kind %d", v.K)
			}
			if len(b.arena) > 1<<30 {
				return fmt.Errorf("sqlite: values too large to bind at once")
			}
			b.vals = append(b.vals, cv)
		}
	}
	if len(b.vals) == 0 {
		return nil
	}
	var arena *C.char
	if len(b.arena) > 0 {
		arena = (*C.char)(unsafe.Pointer(&b.arena[0]))
	}
	if rc := C.lb_bind_vals(s.s, C.int(len(b.vals)), &b.vals[0], arena); rc != C.LB_SQLITE_OK {
		return s.c.lastError()
	}
	return nil
}

// step advances to the next row; false at the end.
func (s *cstmt) step() (bool, error) {
	switch rc := C.lb_step(s.s, C.int(s.ncol), s.vals); rc {
	case C.LB_SQLITE_ROW:
		return true, nil
	case C.LB_SQLITE_DONE:
		return false, nil
	default:
		return false, s.c.lastError()
	}
}

func (s *cstmt) reset() {
	C.sqlite3_reset(s.s)
}

// row copies the current row into dst (reused when large enough).
func (s *cstmt) row(dst []engine.Value) []engine.Value {
	if cap(dst) < s.ncol {
		dst = make([]engine.Value, s.ncol)
	}
	dst = dst[:s.ncol]
	vals := unsafe.Slice(s.vals, s.ncol)
	for i := range vals {
		dst[i] = valueOf(&vals[i])
	}
	return dst
}

// valueOf copies one C value: the bytes SQLite lent are gone after the
// next step or when the pre-update callback returns.
func valueOf(v *C.lb_val) engine.Value {
	switch v._type {
	case C.LB_SQLITE_INTEGER:
		return engine.Value{K: kInt, I: int64(v.i)}
	case C.LB_SQLITE_FLOAT:
		return engine.Value{K: kFloat, F: float64(v.f)}
	case C.LB_SQLITE_TEXT:
		return engine.Value{K: kText, S: C.GoStringN((*C.char)(v.p), v.n)}
	case C.LB_SQLITE_BLOB:
		return engine.Value{K: kBytes, B: C.GoBytes(v.p, v.n)}
	}
	return engine.Value{}
}

// exec runs every statement in sql to completion.
func (c *cconn) exec(ctx context.Context, sql string, args ...engine.Value) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := c.watch(ctx)
	defer stop()
	for {
		s, rest, err := c.prepare(sql, false)
		if err != nil {
			return ctxErr(ctx, err)
		}
		if s == nil {
			return nil
		}
		err = s.bind(args)
		for err == nil {
			var more bool
			if more, err = s.step(); !more {
				break
			}
		}
		s.close()
		if err != nil {
			return ctxErr(ctx, err)
		}
		args = nil
		sql = rest
	}
}

// query runs one statement and calls fn for each row; the slice is reused.
func (c *cconn) query(ctx context.Context, sql string, args []engine.Value, fn func(row []engine.Value) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := c.watch(ctx)
	defer stop()
	s, _, err := c.prepare(sql, false)
	if err != nil {
		return ctxErr(ctx, err)
	}
	if s == nil {
		return nil
	}
	defer s.close()
	if err := s.bind(args); err != nil {
		return err
	}
	var row []engine.Value
	for {
		more, err := s.step()
		if err != nil {
			return ctxErr(ctx, err)
		}
		if !more {
			return nil
		}
		row = s.row(row)
		if err := fn(row); err != nil {
			return err
		}
	}
}

// ctxErr prefers the context's error over SQLite's "interrupted".
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
