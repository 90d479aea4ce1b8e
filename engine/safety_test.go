package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifebelt/journal"
)

// bareDriver is a dialect with no optional capability.
type bareDriver struct{}

func (bareDriver) Name() string                               { return "mssql" }
func (bareDriver) Open(context.Context, Target) (Conn, error) { return nil, errors.New("no") }

func TestCapabilityLookup(t *testing.T) {
	d := bareDriver{}
	_, e1 := AsPreflighter(d)
	_, e2 := AsSnapshotter(d)
	_, e3 := AsBackuper(d)
	_, e4 := AsRestorer(d)
	want := []string{"mssql does not support preflight checks", "mssql does not support snapshots",
		"mssql does not support backups", "mssql does not support restores"}
	for i, err := range []error{e1, e2, e3, e4} {
		if err == nil || err.Error() != want[i] || !errors.Is(err, ErrCapabilityUnsupported) {
			t.Errorf("capability %d: %v, want %q", i, err, want[i])
		}
	}
}

func TestEndSessionsDecide(t *testing.T) {
	ss := []OtherSession{{PID: 1}, {PID: 2}, {PID: 3}}
	pids := func(s []OtherSession) string {
		var out []int64
		for _, x := range s {
			out = append(out, x.PID)
		}
		return fmt.Sprint(out)
	}
	ctx := context.Background()
	tests := []struct {
		name       string
		c          EndSessions
		end, refus string
		asked      string
	}{
		{"no consent", EndSessions{}, "[]", "[1 2 3]", ""},
		{"some pids", EndSessions{PIDs: []int64{1, 3, 9}}, "[1 3]", "[2]", ""},
		{"all pids", EndSessions{PIDs: []int64{3, 2, 1}}, "[1 2 3]", "[]", ""},
		{"ask yes", EndSessions{PIDs: []int64{2}, Ask: func(context.Context, []OtherSession) bool { return true }}, "[2 1 3]", "[]", "[1 3]"},
		{"ask no", EndSessions{Ask: func(context.Context, []OtherSession) bool { return false }}, "[]", "[1 2 3]", "[1 2 3]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var asked []OtherSession
			if ask := tt.c.Ask; ask != nil {
				tt.c.Ask = func(ctx context.Context, s []OtherSession) bool { asked = s; return ask(ctx, s) }
			}
			end, refused := tt.c.Decide(ctx, ss)
			if pids(end) != tt.end || pids(refused) != tt.refus {
				t.Errorf("end %s refused %s, want %s %s", pids(end), pids(refused), tt.end, tt.refus)
			}
			if tt.asked != "" && pids(asked) != tt.asked {
				t.Errorf("asked about %s, want %s", pids(asked), tt.asked)
			}
		})
	}
	if _, refused := (EndSessions{}).Decide(ctx, nil); refused != nil {
		t.Error("no sessions, yet refused")
	}
}

func TestOtherSessionsError(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	err := error(&OtherSessionsError{Dialect: "postgres", Database: "app", Operation: "revert", Sessions: []OtherSession{
		{PID: 42, User: "bob", Application: "psql", Client: "10.0.0.1:5000", State: "idle in transaction", XactStart: at},
		{PID: 43}}})
	want := `postgres: cannot revert database "app" while 2 other session(s) are connected (pid 42 user bob app "psql" from 10.0.0.1:5000 (idle in transaction); pid 43); nothing was changed — end them, or agree to end them by naming their PIDs (42,43)`
	if err.Error() != want {
		t.Errorf("message\n%s\nwant\n%s", err, want)
	}
	if !errors.Is(fmt.Errorf("wrapped: %w", err), ErrOtherSessions) {
		t.Error("errors.Is does not see ErrOtherSessions")
	}
}

func TestLevelJSON(t *testing.T) {
	b, err := json.Marshal([]Finding{{Level: LevelDanger, Check: "lock", Message: "m"}})
	if err != nil || string(b) != `[{"level":"danger","check":"lock","message":"m"}]` {
		t.Errorf("%s %v", b, err)
	}
	var fs []Finding
	if err := json.Unmarshal(b, &fs); err != nil || fs[0].Level != LevelDanger {
		t.Errorf("%+v %v", fs, err)
	}
	if err := json.Unmarshal([]byte(`[{"level":"bad"}]`), &fs); err == nil {
		t.Error("unknown level accepted")
	}
	if Worst(nil) != LevelOK || Worst([]Finding{{Level: LevelWarning}, {Level: LevelOK}}) != LevelWarning {
		t.Error("Worst")
	}
}

func TestBackupAgeFinding(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	if f := BackupAgeFinding(journal.CatalogEntry{}, false, now); f.Level != LevelWarning || !strings.Contains(f.Message, "never") {
		t.Errorf("none: %+v", f)
	}
	fresh := journal.CatalogEntry{At: now.Add(-3 * time.Hour), Path: "/b/x.dump"}
	if f := BackupAgeFinding(fresh, true, now); f.Level != LevelOK || !strings.Contains(f.Message, "3.0 h ago") {
		t.Errorf("fresh: %+v", f)
	}
	old := journal.CatalogEntry{At: now.Add(-50 * time.Hour), Path: "/b/x.dump"}
	if f := BackupAgeFinding(old, true, now); f.Level != LevelWarning || !strings.Contains(f.Message, "2 days old") {
		t.Errorf("old: %+v", f)
	}
}

func TestCatalogFindings(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	backup := filepath.Join(dir, "x.dump")
	if err := os.WriteFile(backup, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fs := CatalogFindings(dir, "db", now); len(fs) != 1 || fs[0].Level != LevelWarning {
		t.Errorf("empty catalogue: %+v", fs)
	}
	rec := func(e journal.CatalogEntry) {
		if _, err := journal.RecordCatalog(dir, e); err != nil {
			t.Fatal(err)
		}
	}
	rec(journal.CatalogEntry{Kind: journal.KindRestore, DatabaseID: "db", At: now.Add(-time.Hour), Size: 100 << 20, Duration: 10 * time.Second})
	rec(journal.CatalogEntry{Kind: journal.KindBackup, DatabaseID: "db", At: now.Add(-time.Minute), Path: backup, Size: 300 << 20})
	fs := CatalogFindings(dir, "db", now)
	if len(fs) != 2 || fs[0].Level != LevelOK || fs[1].Check != "restore-estimate" || !strings.Contains(fs[1].Message, "about 30s") {
		t.Errorf("findings %+v", fs)
	}
	os.Remove(backup)
	if fs := CatalogFindings(dir, "db", now); fs[0].Level != LevelWarning || !strings.Contains(fs[0].Message, "no longer readable") {
		t.Errorf("removed backup: %+v", fs[0])
	}
}

func TestJournalUndoneBy(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := func(seq int64, kind, state string) journal.Entry {
		return journal.Entry{Seq: seq, Kind: kind, State: state, At: t0.Add(time.Duration(seq) * time.Minute)}
	}
	snap := e(3, journal.KindSnapshot, journal.StatusCommitted)
	snap.Status = journal.StatusCommitted
	snap.Detail = map[string]any{"name": "app_lifebelt_1"}
	es := []journal.Entry{
		e(1, journal.KindStatement, journal.StatusCommitted),
		e(2, journal.KindOutcome, journal.StatusCommitted),
		snap,
		e(4, journal.KindStatement, journal.StatusCommitted),
		e(5, journal.KindStatement, journal.StatusRolledBack),
		e(6, journal.KindStatement, journal.StateUnguarded),
		e(7, journal.KindStatement, journal.StateUndone),
		e(8, journal.KindUndo, journal.StatusCommitted),
		e(9, journal.KindBackup, journal.StatusCommitted),
	}
	if seq := FindTaken(es, journal.KindSnapshot, "app_lifebelt_1"); seq != 3 {
		t.Errorf("FindTaken = %d", seq)
	}
	if seq := FindTaken(es, journal.KindSnapshot, "other"); seq != 0 {
		t.Errorf("FindTaken of another = %d", seq)
	}
	if got := fmt.Sprint(JournalUndoneBy(es, 3, time.Time{})); got != "[4 6 8]" {
		t.Errorf("after entry 3: %s", got)
	}
	if got := fmt.Sprint(JournalUndoneBy(es, 0, t0.Add(5*time.Minute+time.Second))); got != "[6 8]" {
		t.Errorf("after a time: %s", got)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KB", 1536: "1.5 KB", 5 << 30: "5.0 GB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestPublishFile(t *testing.T) {
	dir := t.TempDir()
	partial := filepath.Join(dir, "x.partial")
	final := filepath.Join(dir, "x")
	if err := os.WriteFile(partial, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := PublishFile(partial, final)
	if err != nil || n != 5 {
		t.Fatal(n, err)
	}
	if _, err := os.Stat(partial); !os.IsNotExist(err) {
		t.Error("partial left")
	}
	// Never replaces an existing file.
	if err := os.WriteFile(partial, []byte("other"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := PublishFile(partial, final); err == nil || !strings.Contains(err.Error(), "was not replaced") {
		t.Errorf("publishing over a file: %v", err)
	}
	if b, _ := os.ReadFile(final); string(b) != "hello" {
		t.Errorf("final now holds %q", b)
	}
}

func TestCurrentDatabaseID(t *testing.T) {
	h := journal.Header{DatabaseID: "sys/1"}
	es := []journal.Entry{
		{Kind: journal.KindStatement, Status: journal.StatusPending},
		{Kind: journal.KindRevert, Status: journal.StatusFailed, Detail: map[string]any{"new_id": "sys/9"}},
	}
	if got := CurrentDatabaseID(h, es); got != "sys/1" {
		t.Errorf("before any revert: %s", got)
	}
	es = append(es, journal.Entry{Kind: journal.KindRevert, Status: journal.StatusCommitted, Detail: map[string]any{"new_id": "sys/2"}},
		journal.Entry{Kind: journal.KindRestore, Status: journal.StatusCommitted, Detail: map[string]any{"kept": "x"}},
		journal.Entry{Kind: journal.KindRestore, Status: journal.StatusCommitted, Detail: map[string]any{"new_id": "sys/3"}})
	if got := CurrentDatabaseID(h, es); got != "sys/3" {
		t.Errorf("after two replacements: %s", got)
	}
}
