package engine

import (
	"fmt"
	"sort"

	"lifebelt/journal"
)

// journalSink streams one statement's images into the open journal writer.
type journalSink struct {
	w        *journal.Writer
	seq      int64
	impact   *impact
	tables   map[string]int64 // declared tables by signature
	infos    map[int64]*TableInfo
	warnings []string
	err      error // first error, reported after the statement
	keyBuf   []Value
}

func (s *journalSink) Table(t TableInfo) (int64, error) {
	sig := fmt.Sprintf("%q.%q/%d/%d/%s", t.Schema, t.Name, t.Level, len(t.Columns), t.KeyKind)
	if id, ok := s.tables[sig]; ok {
		return id, nil
	}
	id, err := s.w.AddTable(s.seq, t)
	if err != nil {
		s.fail(err)
		return 0, err
	}
	if s.tables == nil {
		s.tables = map[string]int64{}
		s.infos = map[int64]*TableInfo{}
	}
	s.tables[sig] = id
	ti := t
	s.infos[id] = &ti
	return id, nil
}

func (s *journalSink) Row(table int64, op Op, before, after []Value) error {
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
	s.keyBuf = s.keyBuf[:0]
	for _, c := range t.Key {
		if c >= len(src) {
			err := fmt.Errorf("image of %s has %d values, key column %d missing", t.QualifiedName(), len(src), c)
			s.fail(err)
			return err
		}
		s.keyBuf = append(s.keyBuf, src[c])
	}
	if err := s.w.AddImage(s.seq, table, byte(op), s.keyBuf, before, after); err != nil {
		s.fail(err)
		return err
	}
	s.impact.add(t.QualifiedName(), op)
	return nil
}

func (s *journalSink) Object(o ObjectImage) error {
	if err := s.w.AddObject(s.seq, o); err != nil {
		s.fail(err)
		return err
	}
	return nil
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
