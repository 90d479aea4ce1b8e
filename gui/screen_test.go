package gui

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"lifebelt/engine"
	"lifebelt/journal"
)

func newTestScreen(t *testing.T) *Screen {
	t.Helper()
	test.NewTempApp(t)
	dir := t.TempDir()
	fakeStore.mu.Lock()
	fakeStore.rows = map[int64]string{1: "one", 2: "two", 3: "three"}
	fakeStore.mu.Unlock()
	open := func(ctx context.Context, target string, ask func() (string, bool)) (*engine.Session, error) {
		return engine.Open(ctx, engine.Target{Dialect: "fake"}, engine.Options{JournalPath: filepath.Join(dir, "s.lifebelt")})
	}
	w := test.NewWindow(nil)
	t.Cleanup(w.Close)
	s := NewScreen(w, Config{Open: open})
	s.async = func(work, done func()) { work(); done() }
	w.SetContent(s.Content())
	t.Cleanup(s.Close)
	return s
}

// connectedScreen is a test screen connected to the fake memo database.
func connectedScreen(t *testing.T) *Screen {
	t.Helper()
	s := newTestScreen(t)
	test.Type(s.Target, "fake:memo")
	test.Tap(s.Connect)
	if s.session == nil {
		t.Fatalf("not connected: %q", s.Status.Text)
	}
	return s
}

func rows() map[int64]string {
	fakeStore.mu.Lock()
	defer fakeStore.mu.Unlock()
	out := map[int64]string{}
	for k, v := range fakeStore.rows {
		out[k] = v
	}
	return out
}

func TestScreenRunReviewCommitUndo(t *testing.T) {
	s := newTestScreen(t)
	if !s.Run.Disabled() {
		t.Fatal("Run is enabled before connecting")
	}
	test.Type(s.Target, "fake:memo")
	test.Tap(s.Connect)
	if s.session == nil || s.Run.Disabled() {
		t.Fatalf("not connected: %q", s.Status.Text)
	}
	if !s.UndoAll.Disabled() {
		t.Error("Undo whole session is enabled with nothing to undo")
	}
	test.Type(s.SQL, "UPDATE memo SET note = 'changed' WHERE id = 2")
	test.Tap(s.Run)
	if s.pending == nil {
		t.Fatalf("no batch under review: %q", s.Output.Text)
	}
	if !strings.Contains(s.Output.Text, "memo: 0 inserted, 1 updated, 0 deleted") {
		t.Errorf("impact not shown for review: %q", s.Output.Text)
	}
	if s.Commit.Disabled() || !s.Run.Disabled() {
		t.Error("during review Commit must be enabled and Run disabled")
	}
	test.Tap(s.Commit)
	if got := rows()[2]; got != "changed" {
		t.Fatalf("after commit row 2 = %q", got)
	}
	var committed bool
	for _, e := range s.entries {
		if e.Kind == "statement" && e.State == "committed" {
			committed = true
		}
	}
	if !committed {
		t.Fatalf("journal list shows no committed statement: %+v", s.entries)
	}
	if s.UndoAll.Disabled() {
		t.Error("Undo whole session is disabled after a committed change")
	}
	// Undo the whole session (the confirmation dialog is answered directly).
	rep, err := s.session.Undo(context.Background(), engine.UndoOptions{})
	if err != nil || len(rep.Conflicts) > 0 {
		t.Fatalf("undo: %v %+v", err, rep)
	}
	if got := rows()[2]; got != "two" {
		t.Fatalf("after undo row 2 = %q, want two", got)
	}
}

func TestScreenRollbackLeavesDataAlone(t *testing.T) {
	s := connectedScreen(t)
	test.Type(s.SQL, "DELETE FROM memo WHERE id = 1")
	test.Tap(s.Run)
	if s.pending == nil {
		t.Fatalf("no batch under review: %q", s.Output.Text)
	}
	test.Tap(s.Rollback)
	if _, ok := rows()[1]; !ok {
		t.Fatal("rolled-back delete removed the row")
	}
	if !strings.Contains(s.Output.Text, "Rolled back") {
		t.Errorf("output = %q", s.Output.Text)
	}
}

func TestScreenDestructiveAsksForName(t *testing.T) {
	s := connectedScreen(t)
	test.Type(s.SQL, "DELETE FROM memo")
	test.Tap(s.Run)
	if s.pending != nil {
		t.Fatal("a DELETE without WHERE ran without confirmation")
	}
	if len(rows()) != 3 {
		t.Fatal("rows changed without confirmation")
	}
}

// find walks a canvas object tree and returns the first object ok accepts.
func find(o fyne.CanvasObject, ok func(fyne.CanvasObject) bool) fyne.CanvasObject {
	if ok(o) {
		return o
	}
	var kids []fyne.CanvasObject
	switch v := o.(type) {
	case *fyne.Container:
		kids = v.Objects
	case fyne.Widget:
		kids = test.WidgetRenderer(v).Objects()
	}
	for _, k := range kids {
		if f := find(k, ok); f != nil {
			return f
		}
	}
	return nil
}

func TestScreenAsksForPassword(t *testing.T) {
	s := newTestScreen(t)
	s.Target.SetText("postgres://dba@db1/shop")
	var gotPW string
	var gotOK, answered bool
	s.showPasswordDialog(func(pw string, ok bool) { gotPW, gotOK, answered = pw, ok, true })
	top := s.win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("no password dialog appeared")
	}
	entry, _ := find(top, func(o fyne.CanvasObject) bool {
		e, ok := o.(*widget.Entry)
		return ok && e.Password
	}).(*widget.Entry)
	button, _ := find(top, func(o fyne.CanvasObject) bool {
		b, ok := o.(*widget.Button)
		return ok && b.Text == "Connect"
	}).(*widget.Button)
	if entry == nil || button == nil {
		t.Fatal("the dialog has no password entry or Connect button")
	}
	test.Type(entry, "s3cret")
	test.Tap(button)
	if !answered || !gotOK || gotPW != "s3cret" {
		t.Fatalf("dialog answered %v with %q, %v", answered, gotPW, gotOK)
	}
}

// TestRefusalText: a refused undo lists every row it would have left
// referring to nothing, one per line, after saying nothing changed.
func TestRefusalText(t *testing.T) {
	fk := engine.ForeignKey{Child: engine.Name{Schema: "public", Name: "lines"}, ChildCols: []string{"order_id"},
		Parent: engine.Name{Schema: "public", Name: "orders"}, ParentCols: []string{"id"}}
	got := refusalText(&engine.ReferenceError{Dangling: []engine.Dangling{
		{FK: fk, Values: []engine.Value{{K: engine.IntKind, I: 7}}, Rows: 3},
		{FK: fk, Values: []engine.Value{{K: engine.IntKind, I: 9}}, Rows: 1, Restored: true},
	}})
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "Undo refused, nothing was changed.") ||
		!strings.Contains(lines[1], "3 row(s) of public.lines with (order_id) = (7) refer to a row of public.orders that undo would remove") ||
		!strings.Contains(lines[2], "1 row(s) undo would put back into public.lines with (order_id) = (9) refer to a row of public.orders that does not exist") {
		t.Errorf("refusal text:\n%s", got)
	}
}

func TestObjectText(t *testing.T) {
	o := journal.Object{Kind: "TABLE", Name: "items", Action: journal.ActionAlter,
		Before: &journal.Definition{Text: "CREATE TABLE items (id INTEGER PRIMARY KEY)"},
		After: &journal.Definition{Text: "CREATE TABLE items (id INTEGER PRIMARY KEY, note TEXT)",
			Revert: &journal.Revert{Name: "items", Statements: []string{`ALTER TABLE main."items" DROP COLUMN "note"`}}}}
	got := objectText(o)
	for _, want := range []string{"ALTER TABLE items\n", "definition before:\n    CREATE TABLE items (id INTEGER PRIMARY KEY)\n",
		"undo reverts it, while the table has the definition after, with:\n    ALTER TABLE main.\"items\" DROP COLUMN \"note\";\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("objectText lacks %q:\n%s", want, got)
		}
	}
	o.After.Revert = nil
	if got := objectText(o); !strings.Contains(got, "undo does not revert it automatically") {
		t.Errorf("objectText without a revert:\n%s", got)
	}
}

// The undo report says when nothing was left to undo, and which entries
// were undone only in part.
func TestUndoText(t *testing.T) {
	if got := undoText(&engine.UndoReport{}); !strings.Contains(got, "Nothing to undo") {
		t.Errorf("empty report: %q", got)
	}
	got := undoText(&engine.UndoReport{Entries: []int64{3}, Partial: []int64{3}, Rows: 1, Seq: 9,
		Conflicts: []engine.Conflict{{Entry: 3, Table: "t", Reason: "the row was changed since"}}})
	if !strings.Contains(got, "Partly undone: entries [3]") || !strings.Contains(got, "conflict:") || strings.Contains(got, "Nothing") {
		t.Errorf("partial report: %q", got)
	}
}

// TestScreenConfirmationSaysWhat: a destructive statement opens the
// confirmation dialog, which says what the statement would destroy;
// typing the database name runs it.
func TestScreenConfirmationSaysWhat(t *testing.T) {
	s := connectedScreen(t)
	test.Type(s.SQL, "DELETE FROM memo")
	test.Tap(s.Run)
	top := s.win.Canvas().Overlays().Top()
	if top == nil || s.pending != nil {
		t.Fatalf("no confirmation before a DELETE without WHERE (pending %v)", s.pending != nil)
	}
	label, _ := find(top, func(o fyne.CanvasObject) bool {
		l, ok := o.(*widget.Label)
		return ok && strings.Contains(l.Text, "is destructive")
	}).(*widget.Label)
	if label == nil || !strings.Contains(label.Text, "• table memo with 3 row(s)\n") {
		t.Fatalf("the confirmation does not say what it destroys: %v", label)
	}
	entry, _ := find(top, func(o fyne.CanvasObject) bool { _, ok := o.(*widget.Entry); return ok }).(*widget.Entry)
	button, _ := find(top, func(o fyne.CanvasObject) bool {
		b, ok := o.(*widget.Button)
		return ok && b.Text == "Run it"
	}).(*widget.Button)
	if entry == nil || button == nil {
		t.Fatal("the dialog has no entry or Run it button")
	}
	test.Type(entry, "memo.db")
	test.Tap(button)
	if s.pending == nil {
		t.Fatalf("confirmed, yet nothing runs: %q", s.Output.Text)
	}
}
