package enginetest

import (
	"testing"
)

// contractCase is one contract test; it runs once with plain names and
// once with adversarial ones.
type contractCase struct {
	name string
	fn   func(t *testing.T, h Harness, nm names)
}

var contractCases = []contractCase{
	{"SessionSettings", testSessionSettings},
	{"RowImages", testRowImages},
	{"BatchAllOrNothing", testBatchAllOrNothing},
	{"ReviewBeforeCommit", testReviewBeforeCommit},
	{"Refusals", testRefusals},
	{"ForeignKeyActions", testForeignKeyActions},
	{"ForeignKeyKeyUpdate", testForeignKeyKeyUpdate},
	{"NoPrimaryKeyDuplicates", testNoPrimaryKeyDuplicates},
	{"CompositeKey", testCompositeKey},
	{"Types", testTypes},
	{"AutoIDs", testAutoIDs},
	{"DropTable", testDropTable},
	{"Truncate", testTruncate},
	{"GeneratedColumn", testGeneratedColumn},
	{"UndoConflicts", testUndoConflicts},
	{"UndoForce", testUndoForce},
	{"UndoReinsertConflict", testUndoReinsertConflict},
	{"UndoOfUndo", testUndoOfUndo},
	{"UndoDoesNotFireTriggers", testUndoTriggers},
	{"UndoKeepsReferences", testUndoKeepsReferences},
	{"UndoRefusesOrphans", testUndoRefusesOrphans},
	{"UndoReferencesInAnyOrder", testUndoReferencesInAnyOrder},
	{"UndoKeylessKeepsAddedColumn", testUndoKeylessKeepsAddedColumn},
	{"UndoAlter", testUndoAlter},
	{"UndoAlterConflicts", testUndoAlterConflicts},
	{"UndoAlterInterleaved", testUndoAlterInterleaved},
	{"UndoAlterLeftInPlace", testUndoAlterLeftInPlace},
	{"UndoDropColumn", testUndoDropColumn},
	{"UndoDropColumnsOneByOne", testUndoDropColumnsOneByOne},
	{"ConfirmationSaysWhat", testConfirmationSaysWhat},
	{"UndoPartlyThenAgain", testUndoPartlyThenAgain},
	{"UndoAlterRenameWithReferences", testUndoAlterRenameWithReferences},
	{"UndoAlterRenameStillChecksReferences", testUndoAlterRenameStillChecksReferences},
	{"UndoForcedDropImagesRows", testUndoForcedDropImagesRows},
	{"UndoDryRun", testUndoDryRun},
	{"UndoScript", testUndoScript},
	{"UndoScriptKeyless", testUndoScriptKeyless},
	{"ContinueJournal", testContinueJournal},
}

// Run runs the contract suite against the dialect. Every case runs in its
// own fresh database, in parallel, first with plain and then with
// adversarial identifiers, and ends by verifying the session journal.
func Run(t *testing.T, h Harness) {
	checkHarness(t, h)
	for _, variant := range []struct {
		name string
		nm   names
	}{{"plain", names{}}, {"adversarial", names{adversarial: true}}} {
		t.Run(variant.name, func(t *testing.T) {
			for _, c := range contractCases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.fn(t, h, variant.nm)
				})
			}
		})
	}
}

func checkHarness(t testing.TB, h Harness) {
	t.Helper()
	if h.Dialect == "" || h.NewTarget == nil || h.Open == nil || h.Truncate == nil ||
		h.Dump == nil || h.Catalog == nil || h.RowID == "" || h.AuditTrigger == nil {
		t.Fatalf("enginetest: the %q harness lacks a required field (Dialect, NewTarget, Open, Truncate, Dump, Catalog, RowID, AuditTrigger)", h.Dialect)
	}
}
