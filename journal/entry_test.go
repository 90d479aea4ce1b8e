package journal

import (
	"fmt"
	"testing"
)

func TestComputeStates(t *testing.T) {
	st := func(seq int64, status string) Entry {
		return Entry{Seq: seq, Kind: KindStatement, Status: status}
	}
	undo := func(seq int64, refs ...int64) Entry {
		return Entry{Seq: seq, Kind: KindUndo, Status: StatusPending, Refs: refs}
	}
	out := func(seq int64, status string, refs ...int64) Entry {
		return Entry{Seq: seq, Kind: KindOutcome, Status: status, Refs: refs}
	}
	unguarded := st(1, StatusPending)
	unguarded.Detail = map[string]any{"unguarded": true}
	tests := []struct {
		name    string
		entries []Entry
		want    string // states in seq order
	}{
		{"no outcome yet", []Entry{st(1, StatusPending)}, "[pending]"},
		{"committed", []Entry{st(1, StatusPending), st(2, StatusPending), out(3, StatusCommitted, 1, 2)},
			"[committed committed committed]"},
		{"rolled back", []Entry{st(1, StatusPending), out(2, StatusRolledBack, 1)}, "[rolled back rolled back]"},
		{"failed", []Entry{st(1, StatusPending), out(2, StatusFailed, 1)}, "[failed failed]"},
		{"in doubt", []Entry{st(1, StatusPending), out(2, StatusInDoubt, 1)}, "[in doubt in doubt]"},
		{"in doubt resolved later", []Entry{st(1, StatusPending), out(2, StatusInDoubt, 1), out(3, StatusCommitted, 1)},
			"[committed in doubt committed]"},
		{"written final keeps status", []Entry{st(1, StatusRefused), st(2, StatusFailed), st(3, StatusRolledBack),
			out(4, StatusCommitted, 1, 2, 3)}, "[refused failed rolled back committed]"},
		{"unguarded", []Entry{unguarded, out(2, StatusCommitted, 1)}, "[unguarded committed]"},
		{"undone", []Entry{st(1, StatusPending), out(2, StatusCommitted, 1), undo(3, 1), out(4, StatusCommitted, 3)},
			"[undone committed committed committed]"},
		{"undo not committed yet", []Entry{st(1, StatusPending), out(2, StatusCommitted, 1), undo(3, 1)},
			"[committed committed pending]"},
		{"undo rolled back", []Entry{st(1, StatusPending), out(2, StatusCommitted, 1), undo(3, 1), out(4, StatusRolledBack, 3)},
			"[committed committed rolled back rolled back]"},
		{"undo of an undo restores", []Entry{st(1, StatusPending), out(2, StatusCommitted, 1), undo(3, 1),
			out(4, StatusCommitted, 3), undo(5, 3), out(6, StatusCommitted, 5)},
			"[committed committed undone committed committed committed]"},
		{"undo of a rolled back entry changes nothing", []Entry{st(1, StatusPending), out(2, StatusRolledBack, 1),
			undo(3, 1), out(4, StatusCommitted, 3)}, "[rolled back rolled back committed committed]"},
		{"other kinds keep status", []Entry{{Seq: 1, Kind: KindNote, Status: "x"}, {Seq: 2, Kind: KindSnapshot, Status: "taken"}},
			"[x taken]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			computeStates(tt.entries)
			var got []string
			for _, e := range tt.entries {
				got = append(got, e.State)
			}
			if fmt.Sprint(got) != tt.want {
				t.Errorf("states %q, want %s", got, tt.want)
			}
		})
	}
}

// TestStatesFromFile runs one case through a real journal.
func TestStatesFromFile(t *testing.T) {
	j := newJournal(t)
	w, _ := j.Begin()
	for _, e := range []Entry{
		{Kind: KindStatement, Status: StatusPending, Detail: map[string]any{"unguarded": true}},
		{Kind: KindStatement, Status: StatusPending},
		{Kind: KindOutcome, Status: StatusCommitted, Refs: []int64{1, 2}},
		{Kind: KindUndo, Status: StatusPending, Refs: []int64{2}},
		{Kind: KindOutcome, Status: StatusCommitted, Refs: []int64{4}},
		{Kind: KindStatement, Status: StatusPending},
	} {
		if _, err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	w.Commit()
	es, err := j.Entries()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.State)
	}
	if want := "[unguarded undone committed committed committed pending]"; fmt.Sprint(got) != want {
		t.Errorf("states %q, want %s", got, want)
	}
}
