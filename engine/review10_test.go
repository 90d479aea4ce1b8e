package engine

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// firstDifference shortens the statement it names by slicing bytes
// (s[:97]): a comment or name with non-ASCII text across byte 97 cuts a
// character in half, and the conflict reason (shown in the CLI, the GUI,
// written to the journal) is not valid UTF-8.
func TestReview10FirstDifferenceCutsUTF8(t *testing.T) {
	stmt := "COMMENT ON TABLE public.t IS '" + strings.Repeat("a", 66) + strings.Repeat("é", 20) + "'"
	recorded := &Definition{Create: []string{"CREATE TABLE public.t (id integer)"}}
	now := &Definition{Create: []string{"CREATE TABLE public.t (id integer)", stmt}}
	got := firstDifference(recorded, now)
	if !strings.Contains(got, "now there is:") {
		t.Fatalf("no difference named: %q", got)
	}
	if !utf8.ValidString(got) {
		t.Fatalf("conflict reason is not valid UTF-8: %q", got)
	}
}
