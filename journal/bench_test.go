package journal

import (
	"path/filepath"
	"strconv"
	"testing"
)

var benchTable = Table{Name: "bench", Columns: []Column{{Name: "id"}, {Name: "name"}, {Name: "price"},
	{Name: "qty"}, {Name: "note"}}, Key: []int{0}, KeyKind: KeyPrimary}

// benchRow fills row with 5 columns of mixed int/text/float.
func benchRow(row []Value, i int) {
	row[0] = IntValue(int64(i))
	row[1] = TextValue("customer " + strconv.Itoa(i))
	row[2] = FloatValue(float64(i) * 1.25)
	row[3] = IntValue(int64(i % 97))
	row[4] = TextValue("a short note")
}

const benchEntrySize = 10000 // images per entry

// benchRows are made once, so the benchmarks time the journal, not the
// building of rows.
var benchRows = func() [][]Value {
	rows := make([][]Value, 4096)
	for i := range rows {
		rows[i] = make([]Value, 5)
		benchRow(rows[i], i*7919)
	}
	return rows
}()

// BenchmarkAppendImages measures AddImage throughput including Append and
// the final durable Commit.
func BenchmarkAppendImages(b *testing.B) {
	for _, op := range []byte{'D', 'U'} {
		b.Run("op="+string(op), func(b *testing.B) {
			j, err := Create(filepath.Join(b.TempDir(), "b"+Ext), testHeader())
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			b.ResetTimer()
			w, _ := j.Begin()
			seq := w.NextSeq()
			tid, _ := w.AddTable(seq, benchTable)
			for i := 0; i < b.N; i++ {
				before := benchRows[i%len(benchRows)]
				var a []Value
				if op == 'U' {
					a = benchRows[(i+1)%len(benchRows)]
				}
				if err := w.AddImage(seq, tid, op, before[:1], before, a); err != nil {
					b.Fatal(err)
				}
				if (i+1)%benchEntrySize == 0 || i == b.N-1 {
					if _, err := w.Append(Entry{Kind: KindStatement, Status: StatusPending}); err != nil {
						b.Fatal(err)
					}
					seq = w.NextSeq()
					tid, _ = w.AddTable(seq, benchTable)
				}
			}
			w.Append(Entry{Kind: KindNote}) // owns the last AddTable
			if err := w.Commit(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// BenchmarkBaselineInsert is the floor to compare BenchmarkAppendImages
// with: the same encoded bytes through a prepared single-row INSERT into
// the same table and file settings, without hashing or validation.
func BenchmarkBaselineInsert(b *testing.B) {
	for _, op := range []byte{'D', 'U'} {
		b.Run("op="+string(op), func(b *testing.B) {
			j, err := Create(filepath.Join(b.TempDir(), "b"+Ext), testHeader())
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			var kb, bb, ab []byte
			b.ResetTimer()
			// The naive layout: one SQLite row per image.
			if _, err := j.db.Exec(`CREATE TABLE images (seq INTEGER NOT NULL, ord INTEGER NOT NULL,
				tbl INTEGER NOT NULL, op TEXT NOT NULL, key_json TEXT, before_json TEXT, after_json TEXT,
				PRIMARY KEY (seq, ord)) WITHOUT ROWID`); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			tx, _ := j.db.Begin()
			st, err := tx.Prepare(`INSERT INTO images (seq, ord, tbl, op, key_json, before_json, after_json) VALUES (?,?,?,?,?,?,?)`)
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < b.N; i++ {
				before := benchRows[i%len(benchRows)]
				kb, bb = EncodeRow(kb[:0], before[:1]), EncodeRow(bb[:0], before)
				var a any
				if op == 'U' {
					ab = EncodeRow(ab[:0], benchRows[(i+1)%len(benchRows)])
					a = string(ab)
				}
				if _, err := st.Exec(int64(i/benchEntrySize+1), int64(i+1), int64(1), string(op), string(kb), string(bb), a); err != nil {
					b.Fatal(err)
				}
			}
			st.Close()
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// BenchmarkReadImages measures streaming images back (decode included),
// the rate undo and export read at.
func BenchmarkReadImages(b *testing.B) {
	j, err := Create(filepath.Join(b.TempDir(), "b"+Ext), testHeader())
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	w, _ := j.Begin()
	tid, _ := w.AddTable(1, benchTable)
	const n = 100000
	for i := 0; i < n; i++ {
		w.AddImage(1, tid, 'U', benchRows[i%len(benchRows)][:1], benchRows[i%len(benchRows)], benchRows[(i+1)%len(benchRows)])
	}
	w.Append(Entry{Kind: KindStatement, Status: StatusPending})
	if err := w.Commit(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	read := 0
	for i := 0; i < b.N; i++ {
		if err := j.Images(1, func(Image) error { read++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkStatementCycle is the journal's share of one guarded
// single-row statement: a durable write of the statement entry with its
// table and two images, then the unsynced outcome record.
func BenchmarkStatementCycle(b *testing.B) {
	j, err := Create(filepath.Join(b.TempDir(), "b"+Ext), testHeader())
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w, err := j.Begin()
		if err != nil {
			b.Fatal(err)
		}
		seq := w.NextSeq()
		tid, _ := w.AddTable(seq, benchTable)
		row := benchRows[i%len(benchRows)]
		if err := w.AddImage(seq, tid, 'U', row[:1], row, benchRows[(i+1)%len(benchRows)]); err != nil {
			b.Fatal(err)
		}
		if _, err := w.Append(Entry{Kind: KindStatement, Batch: int64(i), Status: StatusPending, SQL: "UPDATE t SET n = n + 1 WHERE id = 1"}); err != nil {
			b.Fatal(err)
		}
		if err := w.Commit(); err != nil {
			b.Fatal(err)
		}
		w, err = j.BeginUnsynced()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Append(Entry{Kind: KindOutcome, Batch: int64(i), Status: StatusCommitted, Refs: []int64{seq}}); err != nil {
			b.Fatal(err)
		}
		if err := w.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}
