package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"lifebelt/engine"
	"lifebelt/journal"
)

func findingsBy(fs []engine.Finding, check string) []engine.Finding {
	var out []engine.Finding
	for _, f := range fs {
		if f.Check == check {
			out = append(out, f)
		}
	}
	return out
}

func TestPreflightSeesIdleTransactionAndWriter(t *testing.T) {
	_, tgt := snDatabase(t, "lbpf_")
	ctx := context.Background()
	db := tgt.Database()
	snFill(t, tgt)

	// A second connection idle in a transaction.
	idle := snConnect(t, tgt, db)
	defer idle.Close(ctx)
	var idlePID int64
	if err := idle.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&idlePID); err != nil {
		t.Fatal(err)
	}
	if _, err := idle.Exec(ctx, `BEGIN; SELECT count(*) FROM accounts`); err != nil {
		t.Fatal(err)
	}
	// A writer that keeps updating a table.
	writer := snConnect(t, tgt, db)
	defer writer.Close(ctx)
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; wctx.Err() == nil; i++ {
			if _, err := writer.Exec(wctx, `UPDATE accounts SET balance = balance + 1 WHERE id = $1`, i%500+1); err != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	defer func() { stop(); wg.Wait() }()

	fs, err := Driver{}.Preflight(ctx, tgt, engine.PreflightOptions{WriteSample: 1500 * time.Millisecond, CatalogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		t.Logf("%-8s %-20s %s", f.Level, f.Check, f.Message)
	}
	idles := findingsBy(fs, "idle-in-transaction")
	if len(idles) != 1 || idles[0].Level != engine.LevelDanger || !strings.Contains(idles[0].Message, fmt.Sprintf("pid %d", idlePID)) {
		t.Errorf("idle in transaction: %+v", idles)
	}
	ss := findingsBy(fs, "sessions")
	if len(ss) != 1 || ss[0].Level != engine.LevelWarning || !strings.Contains(ss[0].Message, "2 other session(s)") {
		t.Errorf("sessions: %+v", ss)
	}
	w := findingsBy(fs, "write-activity")
	if len(w) != 1 || w[0].Level != engine.LevelWarning || !strings.Contains(w[0].Message, "public.accounts") || !strings.Contains(w[0].Message, "updated") {
		t.Errorf("write activity: %+v", w)
	}
	if engine.Worst(fs) != engine.LevelDanger {
		t.Errorf("worst level %v", engine.Worst(fs))
	}
	for _, check := range []string{"version", "size", "archiving", "createdb", "pg_dump", "pg_restore", "backup-age"} {
		if len(findingsBy(fs, check)) != 1 {
			t.Errorf("no %s finding", check)
		}
	}
	if f := findingsBy(fs, "backup-age"); len(f) == 1 && (f[0].Level != engine.LevelWarning || !strings.Contains(f[0].Message, "never")) {
		t.Errorf("backup age without a catalogue: %+v", f)
	}
}

func TestPreflightQuietDatabase(t *testing.T) {
	_, tgt := snDatabase(t, "lbpf_")
	ctx := context.Background()
	snFill(t, tgt)
	dir := t.TempDir()
	id, err := targetID(ctx, tgt)
	if err != nil {
		t.Fatal(err)
	}
	// A recent backup in the catalogue, under the id a session records.
	if _, err := journal.RecordCatalog(dir, journal.CatalogEntry{Kind: journal.KindBackup, DatabaseID: id,
		At: time.Now().Add(-2 * time.Hour), Path: "/nowhere/x.dump", Size: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	fs, err := Driver{}.Preflight(ctx, tgt, engine.PreflightOptions{WriteSample: 1200 * time.Millisecond, CatalogDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		t.Logf("%-8s %-20s %s", f.Level, f.Check, f.Message)
	}
	for check, want := range map[string]engine.Level{"sessions": engine.LevelOK, "write-activity": engine.LevelOK,
		"version": engine.LevelOK, "createdb": engine.LevelOK, "pg_dump": engine.LevelOK, "archiving": engine.LevelWarning} {
		if f := findingsBy(fs, check); len(f) != 1 || f[0].Level != want {
			t.Errorf("%s: %+v, want level %v", check, f, want)
		}
	}
	if len(findingsBy(fs, "idle-in-transaction")) != 0 {
		t.Error("idle-in-transaction finding on a quiet database")
	}
	// The backup file is gone: the catalogue's newest backup is flagged.
	if f := findingsBy(fs, "backup-age"); len(f) != 1 || f[0].Level != engine.LevelWarning || !strings.Contains(f[0].Message, "no longer readable") {
		t.Errorf("backup age: %+v", f)
	}
	// A missing database is one sentence.
	gone := tgt
	u := *tgt.URL
	u.Path = "/" + tgt.Database() + "_gone"
	gone.URL = &u
	if _, err := (Driver{}).Preflight(ctx, gone, engine.PreflightOptions{WriteSample: -1}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("preflight of a missing database: %v", err)
	}
}

func TestSessionFindings(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ss := []engine.OtherSession{
		{PID: 10, User: "app", Application: "api", Client: "10.0.0.5:5000", State: "idle"},
		{PID: 11, User: "bob", State: "idle in transaction", XactStart: now.Add(-90 * time.Second)},
		{PID: 12, User: "etl", State: "active", XactStart: now.Add(-20 * time.Minute)},
		{PID: 13, State: "idle in transaction (aborted)", QueryStart: now.Add(-time.Minute)},
	}
	fs := sessionFindings("app", ss, now)
	var got []string
	for _, f := range fs {
		got = append(got, fmt.Sprintf("%s/%s", f.Check, f.Level))
	}
	want := "[sessions/warning idle-in-transaction/danger long-transaction/warning idle-in-transaction/danger]"
	if fmt.Sprint(got) != want {
		t.Errorf("findings %v, want %s", got, want)
	}
	if !strings.Contains(fs[1].Message, "1m30s") || !strings.Contains(fs[2].Message, "20m0s") || !strings.Contains(fs[3].Message, "details hidden") {
		t.Errorf("messages: %q / %q / %q", fs[1].Message, fs[2].Message, fs[3].Message)
	}
	if fs := sessionFindings("app", nil, now); len(fs) != 1 || fs[0].Level != engine.LevelOK {
		t.Errorf("no sessions: %+v", fs)
	}
}
