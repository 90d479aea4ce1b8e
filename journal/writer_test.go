package journal

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"
)

var testTable = Table{Schema: "public", Name: "orders", Columns: []Column{
	{Name: "id", Type: "bigint", NotNull: true, Identity: "always"},
	{Name: "note", Type: "text"},
	{Name: "amount", Type: "double precision"},
	{Name: "blob", Type: "bytea"},
	{Name: "total", Type: "numeric", Generated: true},
}, Key: []int{0}, KeyKind: KeyPrimary, Level: 0}

func testRow(i int) []Value {
	return []Value{IntValue(int64(i)), TextValue(fmt.Sprintf("row %d \x00 é", i)), FloatValue(float64(i) / 3),
		BytesValue([]byte{byte(i), 0}), NullValue()}
}

// writeStatement appends one statement entry with n update images and a
// dropped-object definition, and returns it.
func writeStatement(t *testing.T, w *Writer, batch int64, n int) Entry {
	t.Helper()
	seq := w.NextSeq()
	tid, err := w.AddTable(seq, testTable)
	if err != nil {
		t.Fatal(err)
	}
	before, after := make([]Value, 5), make([]Value, 5)
	for i := 0; i < n; i++ {
		copy(before, testRow(i))
		copy(after, testRow(i+1000))
		if err := w.AddImage(seq, tid, 'U', before[:1], before, after); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.AddObject(seq, Object{Kind: "TABLE", Schema: "public", Name: "orders", Action: ActionAlter,
		Before: &Definition{Create: []string{"CREATE TABLE ..."}, Text: "t"}, Table: tid}); err != nil {
		t.Fatal(err)
	}
	e, err := w.Append(Entry{Kind: KindStatement, Batch: batch, SQL: "UPDATE orders SET note = 'x'",
		Class: "dml:UPDATE", Status: StatusPending, Rows: int64(n), Duration: 1500 * time.Nanosecond * 1001,
		Detail: map[string]any{"txid": int64(1) << 62, "warnings": []string{"w"}}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestWriteAndReadBack(t *testing.T) {
	j := newJournal(t)
	w, err := j.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if w.NextSeq() != 1 {
		t.Fatalf("NextSeq = %d, want 1", w.NextSeq())
	}
	// Several chunks plus a remainder (each image is about 150 bytes).
	const many = 3*chunkBytes/100 + 5
	e1 := writeStatement(t, w, 1, many)
	at := time.Date(2026, 1, 2, 3, 4, 5, 6789, time.FixedZone("x", 7200))
	e2, err := w.Append(Entry{At: at, Kind: KindOutcome, Batch: 1, Status: StatusCommitted, Refs: []int64{1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if e1.Seq != 1 || e2.Seq != 2 || e1.ImageCount != many || e2.PrevHash != e1.Hash || e1.PrevHash != j.hhash {
		t.Errorf("appended entries: %+v / %+v", e1, e2)
	}
	if !e2.At.Equal(at.Truncate(time.Microsecond)) || e2.At.Location() != time.UTC {
		t.Errorf("At = %v, want %v in UTC", e2.At, at)
	}

	// Reopen: everything must be on disk.
	path := j.Path()
	j.Close()
	j, err = OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	es, err := j.Entries()
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 {
		t.Fatalf("%d entries, want 2", len(es))
	}
	got := es[0]
	if got.State != StatusCommitted {
		t.Errorf("state %q, want committed", got.State)
	}
	got.State = ""
	if !reflect.DeepEqual(got.Detail["warnings"], []any{"w"}) || fmt.Sprint(got.Detail["txid"]) != fmt.Sprint(int64(1)<<62) {
		t.Errorf("detail %#v", got.Detail)
	}
	got.Detail, e1.Detail = nil, nil
	if !reflect.DeepEqual(got, e1) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, e1)
	}
	if e, err := j.Entry(2); err != nil || !reflect.DeepEqual(e.Refs, []int64{1}) || e.Kind != KindOutcome {
		t.Errorf("Entry(2) = %+v, %v", e, err)
	}
	if _, err := j.Entry(3); err == nil {
		t.Error("Entry(3) of 2 succeeded")
	}

	tables, err := j.Tables(1)
	if err != nil || len(tables) != 1 {
		t.Fatalf("Tables = %v, %v", tables, err)
	}
	want := testTable
	want.ID = tables[0].ID
	if !reflect.DeepEqual(tables[0], want) {
		t.Errorf("table\n%+v\nwant\n%+v", tables[0], want)
	}
	n := 0
	err = j.Images(1, func(im Image) error {
		if im.Seq != 1 || im.Ord != int64(n+1) || im.Op != 'U' || im.Table != want.ID ||
			!RowsEqual(im.Before, testRow(n)) || !RowsEqual(im.After, testRow(n+1000)) || !RowsEqual(im.Key, testRow(n)[:1]) {
			return fmt.Errorf("image %d: %+v", n, im)
		}
		n++
		return nil
	})
	if err != nil || n != many {
		t.Errorf("Images: %d images, %v", n, err)
	}
	var chunks int
	if err := j.db.QueryRow("SELECT count(*) FROM image_chunks WHERE seq = 1").Scan(&chunks); err != nil || chunks < 3 {
		t.Errorf("%d chunks (%v), want at least 3", chunks, err)
	}
	// Chunked reads, both ways, see the same images in the same order.
	for _, desc := range []bool{false, true} {
		var ords []int64
		err := j.ImageChunks(1, desc, 1000, func(imgs []Image) error {
			if len(imgs) > 1000 {
				return fmt.Errorf("a chunk of %d images", len(imgs))
			}
			for _, im := range imgs {
				ords = append(ords, im.Ord)
			}
			return nil
		})
		if err != nil || len(ords) != many {
			t.Fatalf("ImageChunks(desc %v): %d images, %v", desc, len(ords), err)
		}
		for i, o := range ords {
			want := int64(i + 1)
			if desc {
				want = int64(many - i)
			}
			if o != want {
				t.Fatalf("ImageChunks(desc %v): image %d has ord %d, want %d", desc, i, o, want)
			}
		}
	}
	stop := errors.New("stop")
	if err := j.Images(1, func(Image) error { return stop }); err != stop {
		t.Errorf("Images did not return fn's error: %v", err)
	}
	objs, err := j.Objects(1)
	if err != nil || len(objs) != 1 || objs[0].Before.Create[0] != "CREATE TABLE ..." || objs[0].After != nil || objs[0].Table != want.ID {
		t.Errorf("Objects = %+v, %v", objs, err)
	}
}

func TestImagesPreserveEveryValue(t *testing.T) {
	j := newJournal(t)
	w, _ := j.Begin()
	defer w.Rollback()
	tbl := Table{Name: "t", Columns: make([]Column, 9), Key: []int{}, KeyKind: KeyRow}
	row := []Value{NullValue(), TextValue(""), TextValue("a\x00b\xff"), IntValue(math.MinInt64),
		FloatValue(math.Copysign(0, -1)), FloatValue(math.NaN()), FloatValue(math.Inf(-1)),
		BytesValue([]byte{}), BytesValue([]byte{0, 0xff})}
	id, _ := w.AddTable(1, tbl)
	if err := w.AddImage(1, id, 'D', []Value{}, row, nil); err != nil {
		t.Fatal(err)
	}
	// The caller may reuse its slice at once.
	row[2] = TextValue("changed")
	if _, err := w.Append(Entry{Kind: KindStatement, Status: StatusPending}); err != nil {
		t.Fatal(err)
	}
	w.Commit()
	row[2] = TextValue("a\x00b\xff")
	j.Images(1, func(im Image) error {
		if !RowsEqual(im.Before, row) || im.After != nil || im.Key == nil || len(im.Key) != 0 {
			t.Errorf("image %+v, want before %v", im, row)
		}
		if math.Float64bits(im.Before[4].F) != math.Float64bits(math.Copysign(0, -1)) {
			t.Error("-0 lost its sign")
		}
		return nil
	})
}

// TestMixedImages mixes tables and ops so that multi-row INSERTs of one
// table and op, of several, and single-row remainders all run.
func TestMixedImages(t *testing.T) {
	j := newJournal(t)
	w, _ := j.Begin()
	other := testTable
	other.Name, other.Level = "lines", 1
	t1, _ := w.AddTable(1, testTable)
	t2, _ := w.AddTable(1, other)
	type img struct {
		table int64
		op    byte
	}
	var want []img
	add := func(table int64, op byte, i int) {
		var before, after []Value
		if op != 'I' {
			before = testRow(i)
		}
		if op != 'D' {
			after = testRow(-i)
		}
		if err := w.AddImage(1, table, op, testRow(i)[:1], before, after); err != nil {
			t.Fatal(err)
		}
		want = append(want, img{table, op})
	}
	const count = 2000           // enough for several chunks
	for i := 0; i < count; i++ { // uniform
		add(t1, 'D', len(want))
	}
	for i := 0; i < count; i++ { // mixed
		add([]int64{t1, t2}[i%2], "IUD"[i%3], len(want))
	}
	for i := 0; i < 7; i++ { // remainder
		add(t2, "IUD"[i%3], len(want))
	}
	if _, err := w.Append(Entry{Kind: KindStatement, Status: StatusPending}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := j.Images(1, func(im Image) error {
		w := want[n]
		if im.Ord != int64(n+1) || im.Table != w.table || im.Op != w.op || !RowsEqual(im.Key, testRow(n)[:1]) ||
			(w.op != 'I') != (im.Before != nil) || (w.op != 'D') != (im.After != nil) ||
			(im.Before != nil && !RowsEqual(im.Before, testRow(n))) || (im.After != nil && !RowsEqual(im.After, testRow(-n))) {
			return fmt.Errorf("image %d = %+v, want table %d op %c", n, im, w.table, w.op)
		}
		n++
		return nil
	})
	if err != nil || n != len(want) {
		t.Errorf("read %d of %d images: %v", n, len(want), err)
	}
	if rep, err := Verify(j.Path()); err != nil || !rep.OK {
		t.Errorf("Verify: %+v, %v", rep, err)
	}
}

func TestWriterRejectsBadInput(t *testing.T) {
	j := newJournal(t)
	w, _ := j.Begin()
	defer w.Rollback()
	id, err := w.AddTable(1, testTable)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := w.AddTable(1, testTable); again != id {
		t.Errorf("re-declared table got id %d, want %d", again, id)
	}
	row := testRow(1)
	tests := []struct {
		name string
		err  error
	}{
		{"wrong seq", w.AddImage(2, id, 'I', nil, nil, row)},
		{"unknown table", w.AddImage(1, id+1, 'I', nil, nil, row)},
		{"bad op", w.AddImage(1, id, 'X', nil, nil, row)},
		{"insert with before", w.AddImage(1, id, 'I', nil, row, row)},
		{"delete with after", w.AddImage(1, id, 'D', nil, row, row)},
		{"update without after", w.AddImage(1, id, 'U', nil, row, nil)},
		{"short row", w.AddImage(1, id, 'D', nil, row[:2], nil)},
		{"wrong key width", w.AddImage(1, id, 'D', row[:2], row, nil)},
		{"unknown kind", w.AddImage(1, id, 'D', nil, []Value{{K: 42}, {}, {}, {}, {}}, nil)},
		{"table without columns", func() error { _, err := w.AddTable(1, Table{Name: "x"}); return err }()},
		{"key out of range", func() error {
			_, err := w.AddTable(1, Table{Name: "x", Columns: []Column{{Name: "a"}}, Key: []int{1}})
			return err
		}()},
		{"object with unknown table", w.AddObject(1, Object{Name: "o", Table: 999})},
		{"append wrong seq", func() error { _, err := w.Append(Entry{Seq: 5, Kind: KindNote}); return err }()},
		{"append without kind", func() error { _, err := w.Append(Entry{}); return err }()},
		{"forward ref", func() error { _, err := w.Append(Entry{Kind: KindOutcome, Refs: []int64{1}}); return err }()},
		{"time out of range", func() error {
			_, err := w.Append(Entry{Kind: KindNote, At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
			return err
		}()},
		{"bad detail", func() error {
			_, err := w.Append(Entry{Kind: KindNote, Detail: map[string]any{"f": math.NaN()}})
			return err
		}()},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	// Nothing above went through: the entry has no images yet.
	e, err := w.Append(Entry{Kind: KindStatement, Status: StatusPending})
	if err != nil || e.ImageCount != 0 {
		t.Errorf("after rejected input: %+v, %v", e, err)
	}
}

func TestCommitRefusesOrphanData(t *testing.T) {
	j := newJournal(t)
	w, _ := j.Begin()
	id, _ := w.AddTable(1, testTable)
	w.AddImage(1, id, 'I', nil, nil, testRow(1))
	if err := w.Commit(); err == nil || !strings.Contains(err.Error(), "not appended") {
		t.Fatalf("Commit with un-appended images: %v", err)
	}
	if err := w.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := w.Rollback(); err != nil {
		t.Errorf("second Rollback: %v", err)
	}
	var n int
	j.db.QueryRow("SELECT (SELECT count(*) FROM image_chunks) + (SELECT count(*) FROM image_tables)").Scan(&n)
	if n != 0 {
		t.Errorf("%d rows survived the rollback", n)
	}
}

func TestOneWriterAtATime(t *testing.T) {
	j := newJournal(t)
	w, err := j.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Begin(); err == nil {
		t.Fatal("second Begin succeeded while a writer is open")
	}
	w.Append(Entry{Kind: KindNote})
	// A reader elsewhere sees nothing uncommitted and is not blocked.
	r, err := OpenReadOnly(j.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if es, err := r.Entries(); err != nil || len(es) != 0 {
		t.Errorf("reader during a write: %d entries, %v; want 0, nil", len(es), err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if es, err := r.Entries(); err != nil || len(es) != 1 {
		t.Errorf("reader after commit: %d entries, %v; want 1", len(es), err)
	}
	w2, err := j.Begin()
	if err != nil {
		t.Fatalf("Begin after Commit: %v", err)
	}
	if w2.NextSeq() != 2 {
		t.Errorf("NextSeq = %d after one committed entry, want 2", w2.NextSeq())
	}
	// Another process (here: another handle) must wait for the write lock.
	other, err := Open(j.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		w3, err := other.Begin()
		if err == nil {
			if w3.NextSeq() != 3 {
				err = fmt.Errorf("second handle's NextSeq = %d, want 3", w3.NextSeq())
			}
			w3.Rollback()
		}
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	w2.Append(Entry{Kind: KindNote})
	w2.Commit()
	if err := <-done; err != nil {
		t.Error(err)
	}
	if time.Since(start) < 200*time.Millisecond {
		t.Error("second handle's Begin did not wait for the first writer")
	}
}

// TestTwoHandlesTakeTurns writes alternately through two handles on one
// file, as two processes would: each must see where the other left the
// log (its cached end is stale), so the chain stays whole.
func TestTwoHandlesTakeTurns(t *testing.T) {
	a := newJournal(t)
	b, err := Open(a.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	write := func(j *Journal, images int, relaxed bool) Entry {
		t.Helper()
		begin := j.Begin
		if relaxed {
			begin = j.BeginUnsynced
		}
		w, err := begin()
		if err != nil {
			t.Fatal(err)
		}
		e := writeStatement(t, w, 1, images)
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		return e
	}
	var seqs []int64
	for i, j := range []*Journal{a, a, b, a, b, b, a} {
		e := write(j, i%3, i%2 == 1)
		seqs = append(seqs, e.Seq)
	}
	if fmt.Sprint(seqs) != "[1 2 3 4 5 6 7]" {
		t.Errorf("seqs %v", seqs)
	}
	// Table ids stay unique across handles: each entry reads back its own.
	for _, seq := range seqs {
		ts, err := a.Tables(seq)
		if err != nil || len(ts) != 1 {
			t.Fatalf("entry %d tables %+v, %v", seq, ts, err)
		}
	}
	a.Close()
	if rep, err := Verify(b.Path()); err != nil || !rep.OK || rep.Entries != 7 {
		t.Errorf("Verify: %+v, %v", rep, err)
	}
}

// TestCommitIsDurable commits in a child process that then dies without
// closing anything, and checks the parent sees everything.
func TestCommitIsDurable(t *testing.T) {
	if path := os.Getenv("LIFEBELT_JOURNAL_CRASH_CHILD"); path != "" {
		j, err := Open(path)
		if err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
		w, _ := j.Begin()
		tid, _ := w.AddTable(1, testTable)
		for i := 0; i < 1000; i++ {
			w.AddImage(1, tid, 'I', nil, nil, testRow(i))
		}
		w.Append(Entry{Kind: KindStatement, Status: StatusPending})
		if err := w.Commit(); err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
		w, _ = j.Begin() // uncommitted: must vanish
		w.Append(Entry{Kind: KindNote})
		os.Exit(0) // no Close, no Commit: as if the process died
	}
	j := newJournal(t)
	path := j.Path()
	j.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCommitIsDurable$")
	cmd.Env = append(os.Environ(), "LIFEBELT_JOURNAL_CRASH_CHILD="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	es, err := r.Entries()
	if err != nil || len(es) != 1 || es[0].ImageCount != 1000 {
		t.Fatalf("after the child died: %d entries (%v), want 1 with 1000 images", len(es), err)
	}
	if rep, err := Verify(path); err != nil || !rep.OK || rep.Images != 1000 {
		t.Errorf("Verify after crash: %+v, %v", rep, err)
	}
}

// TestReadWhileAnotherProcessWrites reads a journal while a child process
// holds a write transaction on it with thousands of uncommitted images:
// the reader must neither block nor see them, and must see them once the
// child commits.
func TestReadWhileAnotherProcessWrites(t *testing.T) {
	if path := os.Getenv("LIFEBELT_JOURNAL_WRITER_CHILD"); path != "" {
		j, err := Open(path)
		if err != nil {
			fmt.Println("child:", err)
			os.Exit(2)
		}
		w, _ := j.Begin()
		tid, _ := w.AddTable(2, testTable)
		for i := 0; i < 20000; i++ {
			w.AddImage(2, tid, 'D', nil, testRow(i), nil)
		}
		w.Append(Entry{Kind: KindStatement, Status: StatusPending})
		fmt.Println("written")
		var line string
		fmt.Scanln(&line) // wait for the parent
		if err := w.Commit(); err != nil {
			fmt.Println("child:", err)
			os.Exit(2)
		}
		fmt.Println("committed")
		j.Close()
		os.Exit(0)
	}
	j := newJournal(t)
	w, _ := j.Begin()
	w.Append(Entry{Kind: KindNote})
	w.Commit()
	path := j.Path()
	j.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestReadWhileAnotherProcessWrites$")
	cmd.Env = append(os.Environ(), "LIFEBELT_JOURNAL_WRITER_CHILD="+path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child := bufio.NewScanner(stdout)
	if !child.Scan() || child.Text() != "written" {
		cmd.Wait()
		t.Fatalf("child: %q", child.Text())
	}
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	start := time.Now()
	es, err := r.Entries()
	if err != nil || len(es) != 1 {
		t.Errorf("during the child's write: %d entries, %v; want 1", len(es), err)
	}
	if rep, err := Verify(path); err != nil || !rep.OK || rep.Entries != 1 {
		t.Errorf("Verify during the child's write: %+v, %v", rep, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("reading took %v: blocked by the writer?", d)
	}
	// Keep a read open across the child's commit: WAL lets it commit.
	var held int
	rows, _ := r.db.Query("SELECT seq FROM entries")
	rows.Next()
	fmt.Fprintln(stdin, "go")
	for child.Scan() {
		if child.Text() != "committed" {
			t.Errorf("child: %s", child.Text())
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	rows.Scan(&held)
	rows.Close()
	if es, err := r.Entries(); err != nil || len(es) != 2 || es[1].ImageCount != 20000 {
		t.Errorf("after the child committed: %d entries, %v", len(es), err)
	}
}
