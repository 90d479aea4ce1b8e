package journal

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
)

// Entry kinds.
const (
	KindStatement = "statement" // a changing statement, written before the target commits
	KindOutcome   = "outcome"   // how a batch ended; Refs lists the batch's entries
	KindUndo      = "undo"      // an undo of earlier entries (Refs), written like a statement
	KindNote      = "note"
	KindSnapshot  = "snapshot"
	KindBackup    = "backup"
	KindRevert    = "revert"
	KindRestore   = "restore"
)

// Statuses as written, and States as computed by Entries.
const (
	StatusPending    = "pending"     // statement/undo written before the target COMMIT
	StatusCommitted  = "committed"   // outcome
	StatusRolledBack = "rolled back" // outcome, or a statement written already final
	StatusFailed     = "failed"      // outcome, or a statement written already final
	StatusRefused    = "refused"     // statement refused before it ran
	StatusInDoubt    = "in doubt"    // outcome: the target COMMIT's result is unknown

	StateUnguarded = "unguarded" // committed without images (Detail "unguarded": true)
	StateUndone    = "undone"    // committed, then undone by a later committed undo
	// StatePartlyUndone: undone by a later committed undo that left some
	// of its rows in place as conflicts (listed in the undo's Detail
	// "partial"); undoing it again reaches those rows.
	StatePartlyUndone = "partly undone"
)

// InPlace reports whether an entry's changes are (at least partly) still
// in the database: committed, or partly undone.
func InPlace(state string) bool { return state == StatusCommitted || state == StatePartlyUndone }

// Entry is one record of the journal.
type Entry struct {
	Seq  int64
	At   time.Time // UTC, microsecond precision
	Kind string    // one of the Kind constants
	// Batch numbers a transaction; statements of one batch share it. Index
	// is the statement's position in it.
	Batch int64
	Index int
	SQL   string
	Class string // e.g. "dml:DELETE", "ddl:DROP TABLE"
	// Status as written: statement/undo entries "pending" (or already final
	// "failed", "rolled back", "refused"); outcome entries "committed",
	// "rolled back", "failed", "in doubt".
	Status   string
	Rows     int64
	Duration time.Duration // stored in microseconds
	Error    string
	// Refs are the entries this one refers to: an outcome → the entries of
	// its batch; an undo → the entries it undoes.
	Refs []int64
	// Detail is a free-form JSON object (warnings, txid, unguarded, ...).
	// Read back, JSON numbers are json.Number so 64-bit ids stay exact.
	Detail       map[string]any
	ImageCount   int64  // set by Append
	ImagesSHA256 string // set by Append: digest of the entry's tables, images and objects
	PrevHash     string // set by Append
	Hash         string // set by Append
	// State is computed by Entries, never stored: see computeStates.
	State string
}

// Image is one stored row change.
type Image struct {
	Seq, Ord, Table int64
	Op              byte // 'I', 'U' or 'D'
	Key, Before     []Value
	After           []Value
}

// computeStates sets State on every entry (which must be in seq order).
//
// Statement and undo entries written as "pending" take the status of the
// latest outcome that refers to them, and stay "pending" while none does.
// A committed one becomes "unguarded" when its Detail says unguarded:true,
// else "undone" when a later undo entry whose own state is "committed", or
// a later committed revert or restore entry (markReverted), refers to it.
// Because later entries are decided first (entries are walked from the
// last), undoing an undo, or reverting to a copy taken before it, makes
// the original entry "committed" again. Entries written already final, and
// other kinds, keep their Status.
func computeStates(es []Entry) {
	idx := make(map[int64]int, len(es))
	for i := range es {
		idx[es[i].Seq] = i
	}
	outcome := make(map[int64]string) // entry → status of its latest outcome
	for i := range es {               // ascending: a later outcome overwrites
		if es[i].Kind != KindOutcome {
			continue
		}
		for _, r := range es[i].Refs {
			outcome[r] = es[i].Status
		}
	}
	undone := make(map[int64]bool)    // by a revert or restore
	undos := make(map[int64][]*Entry) // entry → undo entries in place that refer to it
	for i := len(es) - 1; i >= 0; i-- {
		e := &es[i]
		e.State = e.Status
		markReverted(e, i, idx, undone) // a committed revert/restore undoes what it refers to
		if (e.Kind != KindStatement && e.Kind != KindUndo) || e.Status != StatusPending {
			continue
		}
		st, ok := outcome[e.Seq]
		if !ok {
			continue // pending
		}
		e.State = st
		if st != StatusCommitted {
			continue
		}
		switch {
		case e.Detail["unguarded"] == true:
			e.State = StateUnguarded
		case undone[e.Seq]:
			e.State = StateUndone
		case len(undos[e.Seq]) > 0:
			e.State = StatePartlyUndone
			if fullyUndone(e.Seq, undos[e.Seq], es, idx) {
				e.State = StateUndone
			}
		}
		if e.Kind == KindUndo && InPlace(e.State) {
			for _, r := range e.Refs {
				if j, ok := idx[r]; ok && j < i {
					undos[r] = append(undos[r], e)
				}
			}
		}
	}
}

// fullyUndone reports whether one of the undo entries (later than seq,
// their states decided, each at least partly in place) undid all of
// entry seq: it is wholly in place (committed), did not leave any of
// seq's rows (its Detail "partial" does not list seq), and, when it only
// finished what earlier undos of seq began (Detail "retry": {"seq":
// [undo, ...]}), those are wholly in place too.
func fullyUndone(seq int64, us []*Entry, es []Entry, idx map[int64]int) bool {
	key := strconv.FormatInt(seq, 10)
	for _, u := range us {
		if u.State != StatusCommitted || slices.Contains(detailSeqs(u.Detail["partial"]), seq) {
			continue
		}
		ok := true
		if m, isMap := u.Detail["retry"].(map[string]any); isMap {
			for _, p := range detailSeqs(m[key]) {
				if j, found := idx[p]; !found || es[j].State != StatusCommitted {
					ok = false
				}
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// detailSeqs reads a Detail member holding a list of entry numbers.
func detailSeqs(v any) []int64 {
	list, _ := v.([]any)
	var out []int64
	for _, p := range list {
		if n, ok := p.(json.Number); ok {
			if v, err := n.Int64(); err == nil {
				out = append(out, v)
			}
		}
	}
	return out
}
