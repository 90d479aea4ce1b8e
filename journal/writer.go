package journal

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// Writer is one journal transaction. Images, tables and objects of an
// entry are added first, under the seq NextSeq reports, then Append writes
// the entry itself and moves on to the next seq. Nothing is visible to
// readers, or durable, until Commit returns. A Writer is used by one
// goroutine at a time.
type Writer struct {
	j           *Journal
	ctx         context.Context
	tx          *sql.Tx // on the journal's pinned write connection
	dataVersion int64   // PRAGMA data_version when the write began
	err         error   // a failed write: only Rollback is possible
	done        bool

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

	// The chunk being filled: encoded images of ord chunkFirst on (see
	// chunks.go).
	buf        []byte
	chunkFirst int64
	chunkCount int64

	// The storer goroutine (see handOff); only it uses zbuf, insChunk and
	// dig.images while jobs is open.
	jobs     chan chunkJob
	free     chan []byte // buffers the storer is done with
	stored   chan struct{}
	serr     atomic.Pointer[error]
	zbuf     []byte    // a chunk compressed
	insChunk *sql.Stmt // prepared on first use
}

type tableShape struct{ cols, key int }

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
	fail := func(what string, err error) (*Writer, error) {
		// A connection in an unknown state is not reused.
		if j.wconn != nil {
			_ = j.wconn.Close()
			j.wconn, j.wsync, j.tail = nil, "", tailCache{}
		}
		return nil, fmt.Errorf("journal: %s %s: %w", what, j.path, err)
	}
	if j.wconn == nil {
		conn, err := j.db.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("journal: beginning a write on %s: %w", j.path, err)
		}
		j.wconn, j.wsync, j.tail = conn, "", tailCache{}
	}
	// Durable (FULL) unless this write is relaxed; set whenever it differs
	// from what the connection has, so a relaxed setting never carries
	// over into an image commit.
	level := "FULL"
	if relaxed {
		level = "NORMAL"
	}
	if j.wsync != level {
		if _, err := j.wconn.ExecContext(ctx, "PRAGMA synchronous="+level); err != nil {
			return fail("beginning a write on", err)
		}
		j.wsync = level
	}
	tx, err := j.wconn.BeginTx(ctx, nil)
	if err != nil {
		return fail("beginning a write on", err)
	}
	w := &Writer{j: j, ctx: ctx, tx: tx, next: 1, prev: j.hhash, dig: newDigestSet(),
		tables: map[int64]tableShape{}, defs: map[string]int64{}}
	// The write lock is held from here on (BEGIN IMMEDIATE): nobody else
	// can commit until this transaction ends.
	var dv int64
	if err := tx.QueryRowContext(ctx, "PRAGMA data_version").Scan(&dv); err != nil {
		_ = tx.Rollback()
		return fail("reading the data version of", err)
	}
	if j.tail.valid && j.tail.dataVersion == dv {
		w.next, w.prev, w.nextTable = j.tail.next, j.tail.prev, j.tail.nextTable
	} else {
		var seq sql.NullInt64
		var hash sql.NullString
		err = tx.QueryRowContext(ctx, `SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			_ = tx.Rollback()
			return fail("reading the last entry of", err)
		}
		if seq.Valid {
			w.next, w.prev = seq.Int64+1, hash.String
		}
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) + 1 FROM image_tables`).Scan(&w.nextTable); err != nil {
			_ = tx.Rollback()
			return fail("reading table ids of", err)
		}
	}
	w.dataVersion = dv
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
	return w.addTable(seq, t, false)
}

// AddTableApart is AddTable under an id of its own, even when the entry
// has a table of that description: for images kept apart from the
// entry's row changes.
func (w *Writer) AddTableApart(seq int64, t Table) (int64, error) {
	return w.addTable(seq, t, true)
}

func (w *Writer) addTable(seq int64, t Table, apart bool) (int64, error) {
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
	if id, ok := w.defs[def]; ok && !apart {
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
	if !apart {
		w.defs[def] = r.ID
	}
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
	if w.chunkCount == 0 {
		w.chunkFirst = w.ord + 1
	}
	mark := len(w.buf)
	w.buf = append(w.buf, op)
	w.buf = binary.AppendUvarint(w.buf, uint64(table))
	var okK, okB, okA bool
	w.buf, okK = appendChunkRow(w.buf, key)
	w.buf, okB = appendChunkRow(w.buf, before)
	w.buf, okA = appendChunkRow(w.buf, after)
	if !okK || !okB || !okA {
		w.buf = w.buf[:mark]
		return fmt.Errorf("journal: image of table %d holds a value of unknown kind or a row over 4 GB", table)
	}
	w.chunkCount++
	w.ord++
	w.pending = true
	if len(w.buf) >= chunkBytes {
		return w.handOff()
	}
	return nil
}

// A full chunk is hashed, compressed and inserted on a second goroutine
// (the storer) while the caller goes on encoding the next one: a guarded
// statement's images are produced on one core and stored on the other.
// Chunks are stored in the order they were handed off, and the entry's
// digest is only read once the storer has drained (Append).

// chunkJob is one chunk for the storer.
type chunkJob struct {
	seq, first, count int64
	buf               []byte
}

// handOff passes the chunk being filled to the storer and starts a new one.
func (w *Writer) handOff() error {
	if w.jobs == nil {
		w.jobs = make(chan chunkJob, 1)
		w.free = make(chan []byte, 3)
		w.stored = make(chan struct{})
		go w.storer()
	}
	if err := w.storeErr(); err != nil {
		return err
	}
	w.jobs <- chunkJob{seq: w.next, first: w.chunkFirst, count: w.chunkCount, buf: w.buf}
	select {
	case b := <-w.free:
		w.buf = b[:0]
	default:
		w.buf = make([]byte, 0, chunkBytes+chunkBytes/4)
	}
	w.chunkCount = 0
	return nil
}

// storer stores handed-off chunks until jobs is closed; the first error
// stops it (later chunks are dropped, and the writer can only roll back).
func (w *Writer) storer() {
	defer close(w.stored)
	failed := false
	for job := range w.jobs {
		if !failed {
			if err := w.store(job); err != nil {
				w.serr.Store(&err)
				failed = true
			}
		}
		select {
		case w.free <- job.buf:
		default:
		}
	}
}

func (w *Writer) storeErr() error {
	if p := w.serr.Load(); p != nil {
		return w.fail(fmt.Sprintf("writing images of entry %d", w.next), *p)
	}
	return nil
}

// drain waits for the storer to store every chunk handed off so far.
func (w *Writer) drain() error {
	if w.jobs != nil {
		close(w.jobs)
		<-w.stored
		w.jobs = nil
	}
	return w.storeErr()
}

// store hashes one chunk's images into the entry's digest, compresses the
// chunk and inserts it.
func (w *Writer) store(job chunkJob) error {
	err := decodeChunk(job.buf, job.first, job.count, func(r *rawImage) error {
		frameImage(w.dig.images, job.seq, r.ord, r.tbl, r.op, r.key, r.before, r.after)
		return nil
	})
	if err != nil {
		return err
	}
	if w.insChunk == nil {
		st, err := w.tx.PrepareContext(w.ctx, `INSERT INTO image_chunks (seq, first_ord, count, data) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		w.insChunk = st
	}
	w.zbuf = compressChunk(w.zbuf, job.buf)
	_, err = w.insChunk.ExecContext(w.ctx, job.seq, job.first, job.count, w.zbuf)
	return err
}

// flush stores the chunk being filled, on this goroutine, after every
// chunk handed off before it.
func (w *Writer) flush() error {
	if err := w.drain(); err != nil {
		return err
	}
	if w.chunkCount == 0 {
		return nil
	}
	if err := w.store(chunkJob{seq: w.next, first: w.chunkFirst, count: w.chunkCount, buf: w.buf}); err != nil {
		return w.fail(fmt.Sprintf("writing images of entry %d", w.next), err)
	}
	w.buf, w.chunkCount = w.buf[:0], 0
	return nil
}

// ImageCount is how many images entry seq has so far.
func (w *Writer) ImageCount(seq int64) (int64, error) {
	if err := w.usable(seq); err != nil {
		return 0, err
	}
	return w.ord, nil
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
	if err := w.drain(); err != nil {
		return fmt.Errorf("journal: cannot commit after a failed write; roll back: %w", err)
	}
	w.closeStmts()
	if err := w.tx.Commit(); err != nil {
		w.j.mu.Lock()
		w.j.tail.valid = false
		w.j.mu.Unlock()
		w.finish()
		return fmt.Errorf("journal: committing %s: %w", w.j.path, err)
	}
	// This connection's own commit leaves its data_version as it was.
	w.j.mu.Lock()
	w.j.tail = tailCache{valid: true, dataVersion: w.dataVersion, next: w.next, prev: w.prev, nextTable: w.nextTable}
	w.j.mu.Unlock()
	w.finish()
	return nil
}

// Rollback discards everything since Begin. It is a no-op after Commit or
// an earlier Rollback, so it is safe to defer.
func (w *Writer) Rollback() error {
	if w.done {
		return nil
	}
	_ = w.drain() // the storer must be done with the transaction
	w.closeStmts()
	err := w.tx.Rollback()
	w.finish()
	if err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("journal: rolling back %s: %w", w.j.path, err)
	}
	return nil
}

func (w *Writer) closeStmts() {
	if w.insChunk != nil {
		_ = w.insChunk.Close()
		w.insChunk = nil
	}
}

func (w *Writer) finish() {
	w.done = true
	w.buf, w.zbuf = nil, nil
	w.j.mu.Lock()
	if w.j.writer == w {
		w.j.writer = nil
	}
	w.j.mu.Unlock()
}
