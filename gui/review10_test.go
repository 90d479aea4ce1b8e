package gui

import (
	"context"
	"fmt"
	"testing"

	"fyne.io/fyne/v2/test"

	"lifebelt/engine"
)

// undoable() counts an undo entry in place as something "Undo whole
// session" can take back, but that action (UndoOptions{} with no
// Entries) only ever undoes statements (selectUndo): once the whole
// session is undone, the button stays enabled and does nothing.
func TestReview10UndoAllEnabledAfterWholeSessionUndone(t *testing.T) {
	s := connectedScreen(t)
	test.Type(s.SQL, "UPDATE memo SET note = 'changed' WHERE id = 2")
	test.Tap(s.Run)
	test.Tap(s.Commit)
	if s.UndoAll.Disabled() {
		t.Fatal("Undo whole session is disabled after a committed change")
	}
	if _, err := s.session.Undo(context.Background(), engine.UndoOptions{}); err != nil {
		t.Fatal(err)
	}
	s.reloadJournal()
	s.refreshButtons()
	rep, err := s.session.Undo(context.Background(), engine.UndoOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Entries) != 0 {
		t.Fatalf("undo whole session would still undo %v", rep.Entries)
	}
	if !s.UndoAll.Disabled() {
		t.Errorf("Undo whole session is enabled although it has nothing left to undo (%s)", r10States(s))
	}
}

// A committed statement that changed no rows (no images) is "in place"
// for undoable(), but selectUndo leaves it out: the button is enabled
// with nothing to undo.
func TestReview10UndoAllEnabledForNoRowChange(t *testing.T) {
	s := connectedScreen(t)
	test.Type(s.SQL, "UPDATE memo SET note = 'changed' WHERE id = 99")
	test.Tap(s.Run)
	test.Tap(s.Commit)
	rep, err := s.session.Undo(context.Background(), engine.UndoOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Entries) != 0 {
		t.Skipf("undo whole session would undo %v", rep.Entries)
	}
	if !s.UndoAll.Disabled() {
		t.Errorf("Undo whole session is enabled although it has nothing to undo (%s)", r10States(s))
	}
}

func r10States(s *Screen) string {
	out := ""
	for _, e := range s.entries {
		out += fmt.Sprintf("%d %s %s images=%d; ", e.Seq, e.Kind, e.State, e.ImageCount)
	}
	return out
}
