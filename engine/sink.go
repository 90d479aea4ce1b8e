package engine

import (
	"fmt"
	"sort"
	"sync/atomic"

	"lifebelt/journal"
)

// journalSink streams one statement's images into the open journal
// writer. Rows are handed to a writer goroutine in batches, so encoding
// and inserting into the journal overlap with the capture. Order is kept;
// close waits for every image to be written and returns the first error.
type journalSink struct {
	w        *journal.Writer
	seq      int64
	impact   *impact
	tables   map[string]int64 // declared tables by signature
	infos    map[int64]*TableInfo
	qnames   map[int64]string // qualified names, for the impact counts
	warnings []string
	err      error // first error, reported after the statement

	// pipeline
	ch      chan []imageRec // batches; a nil batch asks for an ack on ack
	ack     chan struct{}
	exited  chan struct{}
	werr    atomic.Pointer[error] // first error of the writer goroutine
	cur     []imageRec
	arena   []Value
	running bool
}

type imageRec struct {
	table              int64
	op                 Op
	key, before, after []Value
}

const sinkBatch = 256

func (s *journalSink) Table(t TableInfo) (int64, error) {
	// The whole description: an undo of several entries meets a table
	// under one name with other columns (renamed, added) in each.
	sig := fmt.Sprintf("%q.%q/%d/%#v/%v/%s", t.Schema, t.Name, t.Level, t.Columns, t.Key, t.KeyKind)
	if id, ok := s.tables[sig]; ok {
		return id, nil
	}
	id, err := s.declare(t, s.w.AddTable)
	if err == nil {
		s.tables[sig] = id
	}
	return id, err
}

// freshTable declares t under a handle of its own, never shared with the
// rows of another Table call: images a forced undo keeps for people must
// not be taken for the undo's own row changes.
func (s *journalSink) freshTable(t TableInfo) (int64, error) {
	return s.declare(t, s.w.AddTableApart)
}

// declare adds t to the journal with add and remembers its handle.
func (s *journalSink) declare(t TableInfo, add func(int64, TableInfo) (int64, error)) (int64, error) {
	if err := s.barrier(); err != nil {
		return 0, err
	}
	id, err := add(s.seq, t)
	if err != nil {
		s.fail(err)
		return 0, err
	}
	if s.tables == nil {
		s.tables = map[string]int64{}
		s.infos = map[int64]*TableInfo{}
		s.qnames = map[int64]string{}
	}
	ti := t
	s.infos[id] = &ti
	s.qnames[id] = t.QualifiedName()
	return id, nil
}

// keptSink is the undo's sink for images kept for people: each table
// gets a handle of its own.
type keptSink struct{ *journalSink }

func (k keptSink) Table(t TableInfo) (int64, error) { return k.freshTable(t) }

// Row copies the row (the dialect may reuse its slices; the strings and
// byte slices inside Values must not change after Row returns) and queues
// it for the writer goroutine.
func (s *journalSink) Row(table int64, op Op, before, after []Value) error {
	if s.err != nil {
		return s.err
	}
	if p := s.werr.Load(); p != nil {
		s.fail(*p)
		return s.err
	}
	t := s.infos[table]
	if t == nil {
		err := fmt.Errorf("image for undeclared table handle %d", table)
		s.fail(err)
		return err
	}
	src := before
	if op == OpInsert {
		src = after
	}
	need := len(t.Key) + len(before) + len(after)
	if cap(s.arena)-len(s.arena) < need {
		s.arena = make([]Value, 0, max(sinkBatch*need, need))
	}
	start := len(s.arena)
	for _, c := range t.Key {
		if c >= len(src) {
			err := fmt.Errorf("image of %s has %d values, key column %d missing", t.QualifiedName(), len(src), c)
			s.fail(err)
			return err
		}
		s.arena = append(s.arena, src[c])
	}
	rec := imageRec{table: table, op: op}
	rec.key = s.arena[start:len(s.arena):len(s.arena)]
	if before != nil {
		b := len(s.arena)
		s.arena = append(s.arena, before...)
		rec.before = s.arena[b:len(s.arena):len(s.arena)]
	}
	if after != nil {
		a := len(s.arena)
		s.arena = append(s.arena, after...)
		rec.after = s.arena[a:len(s.arena):len(s.arena)]
	}
	s.cur = append(s.cur, rec)
	if len(s.cur) >= sinkBatch {
		s.send()
	}
	s.impact.add(s.qnames[table], op)
	return nil
}

func (s *journalSink) start() {
	s.ch = make(chan []imageRec, 8)
	s.ack = make(chan struct{})
	s.exited = make(chan struct{})
	s.running = true
	go func() {
		defer close(s.exited)
		failed := false
		for batch := range s.ch {
			if batch == nil {
				s.ack <- struct{}{}
				continue
			}
			if failed {
				continue // drain
			}
			for _, r := range batch {
				if err := s.w.AddImage(s.seq, r.table, byte(r.op), r.key, r.before, r.after); err != nil {
					first := err // err itself stays on the stack
					s.werr.CompareAndSwap(nil, &first)
					failed = true
					break
				}
			}
		}
	}()
}

func (s *journalSink) send() {
	if len(s.cur) == 0 {
		return
	}
	if !s.running {
		s.start()
	}
	s.ch <- s.cur
	s.cur = make([]imageRec, 0, sinkBatch)
}

// barrier waits until every queued image is written, so the caller may use
// the journal writer directly.
func (s *journalSink) barrier() error {
	s.send()
	if s.running {
		s.ch <- nil
		<-s.ack
	}
	if p := s.werr.Load(); p != nil {
		s.fail(*p)
	}
	return s.err
}

// close writes what is queued, stops the writer goroutine and returns the
// first error. It must be called before the entry is appended, and is safe
// to call more than once.
func (s *journalSink) close() error {
	s.send()
	if s.running {
		close(s.ch)
		<-s.exited
		s.running = false
	}
	if p := s.werr.Load(); p != nil {
		s.fail(*p)
	}
	return s.err
}

func (s *journalSink) Object(o ObjectImage) error {
	if err := s.barrier(); err != nil {
		return err
	}
	if err := s.w.AddObject(s.seq, o); err != nil {
		s.fail(err)
		return err
	}
	if o.Action == ActionAlter && o.Table != 0 {
		// The rows an ALTER rewrote (DROP COLUMN, a new type) were
		// imaged as deleted, and are all this entry's images; they are
		// still there.
		n, err := s.w.ImageCount(s.seq)
		if err != nil {
			s.fail(err)
			return err
		}
		if t := s.impact.byTable[s.qnames[o.Table]]; t != nil {
			n = min(n, t.Deleted)
			t.Deleted -= n
			t.Rewritten += n
		}
	}
	return nil
}

// imagesWritten is how many images the entry has, once every image sent
// so far is written.
func (s *journalSink) imagesWritten() (int64, error) {
	if err := s.barrier(); err != nil {
		return 0, err
	}
	n, err := s.w.ImageCount(s.seq)
	if err != nil {
		s.fail(err)
		return 0, s.err
	}
	return n, nil
}

func (s *journalSink) Warn(msg string) { s.warnings = append(s.warnings, msg) }

func (s *journalSink) fail(err error) {
	if s.err == nil {
		s.err = fmt.Errorf("journal: %w", err)
	}
}

// impact accumulates per-table row counts of a batch.
type impact struct {
	byTable map[string]*TableImpact
}

func newImpact() *impact { return &impact{byTable: map[string]*TableImpact{}} }

func (m *impact) add(table string, op Op) {
	t := m.byTable[table]
	if t == nil {
		t = &TableImpact{Table: table}
		m.byTable[table] = t
	}
	switch op {
	case OpInsert:
		t.Inserted++
	case OpUpdate:
		t.Updated++
	case OpDelete:
		t.Deleted++
	}
}

func (m *impact) list() []TableImpact {
	out := make([]TableImpact, 0, len(m.byTable))
	for _, t := range m.byTable {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out
}
