package journal

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Writer is one journal transaction. Images, tables and objects of an
// entry are added first, under the seq NextSeq reports, then Append writes
// the entry itself and moves on to the next seq. Nothing is visible to
// readers, or durable, until Commit returns. A Writer is used by one
// goroutine at a time.
type Writer struct {
	j    *Journal
	ctx  context.Context
	conn *sql.Conn // pinned: the image INSERTs bypass database/sql on it
	tx   *sql.Tx
	// relaxed: this write commits without fsync (BeginUnsynced).
	relaxed bool
	err     error // a failed write: only Rollback is possible
	done    bool

	next      int64  // seq of the next entry
	prev      string // hash of the last entry (or the header)
	nextTable int64  // id of the next image_tables row

	// What has been added for seq next.
	pending bool
	ord     int64 // images so far
	objOrd  int64 // objects so far
	tables  map[int64]tableShape
	defs    map[string]int64 // table definition → id, to reuse a re-declared table
	dig     *digestSet

	// Images waiting for a multi-row INSERT. Encoded values live in buf;
	// spans index into it.
	buf   []byte
	spans []imageSpan
	args  []driver.NamedValue

	// Prepared on first use: 64 images of one table and op, 64 of any, one.
	insImagesU, insImagesN, insImage1 driver.Stmt
}

type tableShape struct{ cols, key int }

// imageSpan locates one buffered image; a span with start < 0 is NULL.
type imageSpan struct {
	ord, table         int64
	op                 byte
	key, before, after [2]int
}

// imagesPerInsert is how many images one INSERT carries: enough to amortise
// the per-statement cost, well under SQLite's 32766 parameter limit.
const imagesPerInsert = 64

// maxBuffered bounds the encoded bytes held before a flush, so an entry
// with huge rows never sits in memory.
const maxBuffered = 4 << 20

// opText holds the stored op values already boxed, so binding them does
// not allocate.
var opText = [256]any{'I': "I", 'U': "U", 'D': "D"}

// Begin starts the journal's single write transaction. It takes SQLite's
// write lock at once (BEGIN IMMEDIATE), so a second writer, even in another
// process, waits or fails here rather than interleaving entries.
func (j *Journal) Begin() (*Writer, error) { return j.begin(false) }

// BeginUnsynced starts a write whose Commit does not wait for the disk.
// Use it only for records a reopening session can reconstruct: a batch's
// outcome is settled from the server (txid_status) or by comparing rows
// with the images when it is missing. A crash of the process loses nothing
// committed this way (WAL); a power cut may, and then the batch shows as
// pending until the session is reopened. Never use it for images.
func (j *Journal) BeginUnsynced() (*Writer, error) { return j.begin(true) }

func (j *Journal) begin(relaxed bool) (*Writer, error) {
	if j.readOnly {
		return nil, fmt.Errorf("journal: %s is open read-only", j.path)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.writer != nil {
		return nil, fmt.Errorf("journal: %s already has an open writer", j.path)
	}
	ctx := context.Background()
	conn, err := j.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("journal: beginning a write on %s: %w", j.path, err)
	}
	// Set on every write, not only restored after relaxed ones: a pooled
	// connection must never carry a relaxed setting into an image commit.
	level := "FULL"
	if relaxed {
		level = "NORMAL"
	}
	{
		if _, err := conn.ExecContext(ctx, "PRAGMA synchronous="+level); err != nil {
			conn.Close()
			return nil, fmt.Errorf("journal: beginning a write on %s: %w", j.path, err)
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		w := &Writer{conn: conn, relaxed: relaxed}
		w.restoreSync()
		conn.Close()
		return nil, fmt.Errorf("journal: beginning a write on %s: %w", j.path, err)
	}
	w := &Writer{j: j, ctx: ctx, conn: conn, tx: tx, relaxed: relaxed, next: 1, prev: j.hhash, dig: newDigestSet(),
		tables: map[int64]tableShape{}, defs: map[string]int64{}}
	var seq sql.NullInt64
	var hash sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		_ = tx.Rollback()
		conn.Close()
		return nil, fmt.Errorf("journal: reading the last entry of %s: %w", j.path, err)
	}
	if seq.Valid {
		w.next, w.prev = seq.Int64+1, hash.String
	}
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) + 1 FROM image_tables`).Scan(&w.nextTable); err != nil {
		_ = tx.Rollback()
		conn.Close()
		return nil, fmt.Errorf("journal: reading table ids of %s: %w", j.path, err)
	}
	j.writer = w
	return w, nil
}

// NextSeq is the seq the next Append assigns. Tables, images and objects
// of that entry are added under it before Append.
func (w *Writer) NextSeq() int64 { return w.next }

func (w *Writer) usable(seq int64) error {
	switch {
	case w.done:
		return errors.New("journal: writer already committed or rolled back")
	case w.err != nil:
		return fmt.Errorf("journal: writer failed earlier; roll it back: %w", w.err)
	case seq != w.next:
		return fmt.Errorf("journal: data for entry %d, but the next entry is %d", seq, w.next)
	}
	return nil
}

// fail records a write error; the transaction can then only be rolled back.
func (w *Writer) fail(what string, err error) error {
	w.err = fmt.Errorf("journal: %s in %s: %w", what, w.j.path, err)
	return w.err
}

// AddTable records the description of a table whose images follow and
// returns its journal table id. Adding an identical table twice for the
// same entry returns the same id.
func (w *Writer) AddTable(seq int64, t Table) (int64, error) {
	if err := w.usable(seq); err != nil {
		return 0, err
	}
	if t.Name == "" || len(t.Columns) == 0 {
		return 0, fmt.Errorf("journal: table %q needs a name and columns", t.QualifiedName())
	}
	for _, k := range t.Key {
		if k < 0 || k >= len(t.Columns) {
			return 0, fmt.Errorf("journal: table %s: key column %d out of range", t.QualifiedName(), k)
		}
	}
	key := t.Key
	if key == nil {
		key = []int{}
	}
	cols, err := json.Marshal(t.Columns)
	if err != nil {
		return 0, fmt.Errorf("journal: table %s: encoding columns: %w", t.QualifiedName(), err)
	}
	keyJSON, _ := json.Marshal(key) // []int always encodes
	r := tableRow{ID: w.nextTable, Seq: seq, Schema: t.Schema, Name: t.Name,
		Columns: cols, Key: keyJSON, KeyKind: t.KeyKind, Level: int64(t.Level)}
	def := fmt.Sprintf("%q.%q|%s|%s|%q|%d", r.Schema, r.Name, r.Columns, r.Key, r.KeyKind, r.Level)
	if id, ok := w.defs[def]; ok {
		return id, nil
	}
	_, err = w.tx.ExecContext(w.ctx, `INSERT INTO image_tables (id, seq, schema_name, name, columns_json,
		key_json, key_kind, level) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.Seq, r.Schema, r.Name, string(r.Columns), string(r.Key), r.KeyKind, r.Level)
	if err != nil {
		return 0, w.fail("writing table "+t.QualifiedName(), err)
	}
	r.frame(w.dig.tables)
	w.nextTable++
	w.tables[r.ID] = tableShape{cols: len(t.Columns), key: len(t.Key)}
	w.defs[def] = r.ID
	w.pending = true
	return r.ID, nil
}

// AddImage records one row change of table (an id from AddTable for the
// same entry). op is 'I' (after only), 'U' (before and after) or 'D'
// (before only); rows hold every column of the table. The slices may be
// reused once AddImage returns.
func (w *Writer) AddImage(seq, table int64, op byte, key, before, after []Value) error {
	if err := w.usable(seq); err != nil {
		return err
	}
	shape, ok := w.tables[table]
	if !ok {
		return fmt.Errorf("journal: image of entry %d names table %d, which was not added for it", seq, table)
	}
	switch {
	case op != 'I' && op != 'U' && op != 'D':
		return fmt.Errorf("journal: image op %q is not I, U or D", op)
	case (op == 'I') != (before == nil) || (op == 'D') != (after == nil):
		return fmt.Errorf("journal: image op %c: before-image needed exactly for U and D, after-image for I and U", op)
	case before != nil && len(before) != shape.cols, after != nil && len(after) != shape.cols:
		return fmt.Errorf("journal: image of table %d has a row of the wrong width (table has %d columns)", table, shape.cols)
	case key != nil && len(key) != shape.key:
		return fmt.Errorf("journal: image of table %d has %d key values, table key has %d", table, len(key), shape.key)
	}
	mark := len(w.buf)
	sp := imageSpan{ord: w.ord + 1, table: table, op: op}
	var okK, okB, okA bool
	sp.key, okK = w.encode(key)
	sp.before, okB = w.encode(before)
	sp.after, okA = w.encode(after)
	if !okK || !okB || !okA {
		w.buf = w.buf[:mark]
		return fmt.Errorf("journal: image of table %d holds a value of unknown kind", table)
	}
	frameImage(w.dig.images, seq, sp.ord, table, op, w.span(sp.key), w.span(sp.before), w.span(sp.after))
	w.spans = append(w.spans, sp)
	w.ord++
	w.pending = true
	if len(w.spans) == imagesPerInsert || len(w.buf) >= maxBuffered {
		return w.flush()
	}
	return nil
}

// encode appends row to the buffer and returns its span ({-1,-1} for nil).
func (w *Writer) encode(row []Value) ([2]int, bool) {
	if row == nil {
		return [2]int{-1, -1}, true
	}
	start := len(w.buf)
	var ok bool
	w.buf, ok = appendRow(w.buf, row)
	return [2]int{start, len(w.buf)}, ok
}

func (w *Writer) span(s [2]int) []byte {
	if s[0] < 0 {
		return nil
	}
	return w.buf[s[0]:s[1]]
}

// flush writes the buffered images: one multi-row INSERT for a full
// buffer, single-row INSERTs for a remainder. It goes to the driver
// directly (sql.Conn.Raw): database/sql's per-argument checks and
// conversions cost as much as SQLite's own work at this volume.
func (w *Writer) flush() error {
	if len(w.spans) == 0 {
		return nil
	}
	// One string conversion for the whole buffer; the arguments are
	// substrings of it, so binding copies nothing more.
	s := string(w.buf)
	text := func(sp [2]int) any {
		if sp[0] < 0 {
			return nil
		}
		return s[sp[0]:sp[1]]
	}
	add := func(v any) {
		w.args = append(w.args, driver.NamedValue{Ordinal: len(w.args) + 1, Value: v})
	}
	full := len(w.spans) == imagesPerInsert
	uniform := full
	for _, sp := range w.spans {
		uniform = uniform && sp.table == w.spans[0].table && sp.op == w.spans[0].op
	}
	err := w.conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return errors.New("unexpected driver connection")
		}
		st := &w.insImage1
		switch {
		case uniform:
			st = &w.insImagesU
		case full:
			st = &w.insImagesN
		}
		if *st == nil {
			var err error
			if *st, err = c.Prepare(imageInsert(len(w.spans), uniform)); err != nil {
				return err
			}
		}
		ex, ok := (*st).(driver.StmtExecContext)
		if !ok {
			return errors.New("driver statement cannot execute with a context")
		}
		n := 1
		if full {
			n = imagesPerInsert
		}
		for i := 0; i < len(w.spans); i += n {
			w.args = w.args[:0]
			add(w.next)
			add(w.spans[i].ord)
			if uniform {
				add(w.spans[i].table)
				add(opText[w.spans[i].op])
			}
			for _, sp := range w.spans[i : i+n] {
				if !uniform {
					add(sp.table)
					add(opText[sp.op])
				}
				add(text(sp.key))
				add(text(sp.before))
				add(text(sp.after))
			}
			if _, err := ex.ExecContext(w.ctx, w.args); err != nil {
				return err
			}
		}
		return nil
	})
	clear(w.args) // drop references to s
	if err != nil {
		return w.fail(fmt.Sprintf("writing images of entry %d", w.next), err)
	}
	w.buf, w.spans = w.buf[:0], w.spans[:0]
	return nil
}

// imageInsert is an INSERT of n images (imagesPerInsert or 1). ?1 is the
// seq and ?2 the ord of the first image; the ords of the others count up
// from it. Each image then takes five parameters (tbl, op, key, before,
// after), or, when uniform, shares tbl and op (?3, ?4) and takes three.
// Fewer parameters matter: each one is a cgo call.
func imageInsert(n int, uniform bool) string {
	if n != imagesPerInsert {
		n, uniform = 1, false
	}
	var b strings.Builder
	b.WriteString("INSERT INTO images (seq, ord, tbl, op, key_json, before_json, after_json) VALUES ")
	for k := 0; k < n; k++ {
		if k > 0 {
			b.WriteByte(',')
		}
		if uniform {
			p := 5 + 3*k
			fmt.Fprintf(&b, "(?1,?2+%d,?3,?4,?%d,?%d,?%d)", k, p, p+1, p+2)
		} else {
			p := 3 + 5*k
			fmt.Fprintf(&b, "(?1,?2+%d,?%d,?%d,?%d,?%d,?%d)", k, p, p+1, p+2, p+3, p+4)
		}
	}
	return b.String()
}

// AddObject records the definition of an object a DDL statement affects.
// o.Table is 0 or a table id added for the same entry.
func (w *Writer) AddObject(seq int64, o Object) error {
	if err := w.usable(seq); err != nil {
		return err
	}
	if o.Table != 0 {
		if _, ok := w.tables[o.Table]; !ok {
			return fmt.Errorf("journal: object %s names table %d, which was not added for entry %d", o.Name, o.Table, seq)
		}
	}
	r := objectRow{Seq: seq, Ord: w.objOrd + 1, Kind: o.Kind, Schema: o.Schema, Name: o.Name,
		Action: o.Action, Table: o.Table}
	for _, d := range []struct {
		def *Definition
		dst *[]byte
	}{{o.Before, &r.Before}, {o.After, &r.After}} {
		if d.def != nil {
			b, err := json.Marshal(d.def)
			if err != nil {
				return fmt.Errorf("journal: object %s: encoding definition: %w", o.Name, err)
			}
			*d.dst = b
		}
	}
	_, err := w.tx.ExecContext(w.ctx, `INSERT INTO objects (seq, ord, kind, schema_name, name, action,
		before_json, after_json, tbl) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Seq, r.Ord, r.Kind, r.Schema, r.Name, r.Action, nullString(r.Before), nullString(r.After), r.Table)
	if err != nil {
		return w.fail("writing object "+o.Name, err)
	}
	r.frame(w.dig.objects)
	w.objOrd++
	w.pending = true
	return nil
}

func nullString(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// Append writes entry e under NextSeq (e.Seq must be 0 or NextSeq). It
// fills At (now, if zero), ImageCount, ImagesSHA256, PrevHash and Hash,
// truncates At and Duration to the microsecond as stored, and returns the
// entry as written.
func (w *Writer) Append(e Entry) (Entry, error) {
	if e.Seq == 0 {
		e.Seq = w.next
	}
	if err := w.usable(e.Seq); err != nil {
		return Entry{}, err
	}
	if e.Kind == "" {
		return Entry{}, errors.New("journal: entry has no kind")
	}
	for _, r := range e.Refs {
		if r <= 0 || r >= e.Seq {
			return Entry{}, fmt.Errorf("journal: entry %d refers to entry %d; references must point to earlier entries", e.Seq, r)
		}
	}
	var detail []byte
	if len(e.Detail) > 0 {
		var err error
		if detail, err = json.Marshal(e.Detail); err != nil {
			return Entry{}, fmt.Errorf("journal: entry %d detail: %w", e.Seq, err)
		}
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	if y := e.At.Year(); y < 1 || y > 9999 {
		return Entry{}, fmt.Errorf("journal: entry %d time %v is outside years 1 to 9999", e.Seq, e.At)
	}
	if err := w.flush(); err != nil {
		return Entry{}, err
	}
	us := int64(e.Duration / time.Microsecond)
	e.Duration = time.Duration(us) * time.Microsecond
	e.ImageCount = w.ord
	e.ImagesSHA256 = w.dig.finish()
	e.PrevHash = w.prev
	r := entryRow{Seq: e.Seq, At: formatTime(e.At), Kind: e.Kind, Batch: e.Batch, Idx: int64(e.Index),
		SQL: e.SQL, Class: e.Class, Status: e.Status, RowCount: e.Rows, DurationUS: us, Error: e.Error,
		Refs: refsJSON(e.Refs), Detail: detail, ImageCount: e.ImageCount,
		ImagesSHA256: e.ImagesSHA256, PrevHash: e.PrevHash}
	e.Hash = r.hash()
	_, err := w.tx.ExecContext(w.ctx, `INSERT INTO entries (seq, at, kind, batch, idx, sql_text, class,
		status, row_count, duration_us, error, refs_json, detail_json, image_count, images_sha256,
		prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Seq, r.At, r.Kind, r.Batch, r.Idx, r.SQL, r.Class, r.Status, r.RowCount, r.DurationUS, r.Error,
		nullString(r.Refs), nullString(r.Detail), r.ImageCount, r.ImagesSHA256, r.PrevHash, e.Hash)
	if err == nil {
		_, err = w.tx.ExecContext(w.ctx, `UPDATE tail SET seq = ?, hash = ? WHERE id = 1`, e.Seq, e.Hash)
	}
	if err != nil {
		return Entry{}, w.fail(fmt.Sprintf("writing entry %d", e.Seq), err)
	}
	w.prev = e.Hash
	w.next++
	w.pending, w.ord, w.objOrd = false, 0, 0
	clear(w.tables)
	clear(w.defs)
	e.State = ""
	return e, nil
}

// refsJSON encodes refs as a JSON array of integers, nil when empty.
func refsJSON(refs []int64) []byte {
	if len(refs) == 0 {
		return nil
	}
	b := []byte{'['}
	for i, r := range refs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, r, 10)
	}
	return append(b, ']')
}

// Commit makes everything appended durable: when it returns nil, the
// entries are fsynced to disk. It fails, leaving the transaction open for
// Rollback, if tables, images or objects were added without the entry
// they belong to.
func (w *Writer) Commit() error {
	if w.done {
		return errors.New("journal: writer already committed or rolled back")
	}
	if w.err != nil {
		return fmt.Errorf("journal: cannot commit after a failed write; roll back: %w", w.err)
	}
	if w.pending {
		return fmt.Errorf("journal: data was added for entry %d but the entry was not appended; append it or roll back", w.next)
	}
	w.closeStmts()
	if err := w.tx.Commit(); err != nil {
		w.finish()
		return fmt.Errorf("journal: committing %s: %w", w.j.path, err)
	}
	w.finish()
	return nil
}

// Rollback discards everything since Begin. It is a no-op after Commit or
// an earlier Rollback, so it is safe to defer.
func (w *Writer) Rollback() error {
	if w.done {
		return nil
	}
	w.closeStmts()
	err := w.tx.Rollback()
	w.finish()
	if err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("journal: rolling back %s: %w", w.j.path, err)
	}
	return nil
}

func (w *Writer) closeStmts() {
	if w.insImagesU == nil && w.insImagesN == nil && w.insImage1 == nil {
		return
	}
	_ = w.conn.Raw(func(any) error {
		for _, s := range []driver.Stmt{w.insImagesU, w.insImagesN, w.insImage1} {
			if s != nil {
				_ = s.Close()
			}
		}
		return nil
	})
	w.insImagesU, w.insImagesN, w.insImage1 = nil, nil, nil
}

func (w *Writer) finish() {
	w.done = true
	w.restoreSync()
	_ = w.conn.Close() // back to the pool
	w.buf, w.spans, w.args = nil, nil, nil
	w.j.mu.Lock()
	if w.j.writer == w {
		w.j.writer = nil
	}
	w.j.mu.Unlock()
}

// restoreSync puts a relaxed connection back to the file's durable setting
// before it returns to the pool.
func (w *Writer) restoreSync() {
	if w.relaxed {
		_, _ = w.conn.ExecContext(context.Background(), "PRAGMA synchronous=FULL")
		w.relaxed = false
	}
}
