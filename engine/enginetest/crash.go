package enginetest

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"lifebelt/engine"
	"lifebelt/journal"
)

// crashEnv carries a crashConfig to the child process; its presence makes
// RunCrash act as the child.
const crashEnv = "LIFEBELT_ENGINETEST_CRASH_CHILD"

// Crash trial shape: a table of crashRows rows, changed in batches of
// crashBatch rows, alternately deleted and updated.
const (
	crashRows   = 20000
	crashBatch  = 2000
	crashTable  = "crash"
	crashTrials = 20

	crashBatches = (crashRows + crashBatch - 1) / crashBatch
	crashReview  = 10 * time.Millisecond
)

// crashKill says when to kill the child: wait after from the moment it
// committed batch-1 (or was ready, for batch 0) or, when inCommit, from the
// moment Execute returned for batch; then SIGKILL. batch < 0: never.
type crashKill struct {
	batch    int
	inCommit bool
	after    time.Duration
}

// crashTimes is how long a child ran after it was ready, and how much of
// that its Commit calls took.
type crashTimes struct{ run, commits time.Duration }

type crashConfig struct {
	Target, Journal string
}

// Lines the child prints on stdout.
const (
	lineReady     = "lifebelt-crash: ready"
	lineExecuted  = "lifebelt-crash: executed "
	lineCommitted = "lifebelt-crash: committed "
	lineDone      = "lifebelt-crash: done"
)

// RunCrash checks that a session killed at a random moment leaves a
// journal that verifies, that covers every change the database shows, that
// claims no commit the database does not show, and that a reopened session
// settles and can undo. It re-runs the current test binary as the child
// (the same test, with crashEnv set), lets it run guarded DELETE and
// UPDATE batches, and SIGKILLs it. The first trial runs to completion and
// measures how long a batch takes and how long its Commit takes. Each
// later trial picks a batch at random and kills the child either at a
// random moment of that batch (timed from the previous batch's commit) or,
// every other trial, at a random moment of its Commit (timed from Execute's
// return), the short stretch where the images are durable and the target
// commit and its journaled outcome happen. Timing kills from the child's
// progress keeps them inside the run however loaded the machine is.
// Undo of everything after the reopen runs in every in-doubt trial and
// every fourth other one, to keep the whole under a minute.
// LIFEBELT_CRASH_TRIALS and LIFEBELT_CRASH_SEED override the defaults.
func RunCrash(t *testing.T, h Harness) {
	if cfg := os.Getenv(crashEnv); cfg != "" {
		crashChild(t, cfg)
		return
	}
	checkHarness(t, h)
	trials := envInt(t, "LIFEBELT_CRASH_TRIALS", crashTrials)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LIFEBELT_CRASH_SEED"); s != "" {
		seed = uint64(envInt(t, "LIFEBELT_CRASH_SEED", 0))
	}
	t.Logf("crash trials: %d, seed %d (set LIFEBELT_CRASH_SEED to repeat)", trials, seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))

	windows := map[string]int{}
	cal, w := crashTrial(t, h, 0, crashKill{batch: -1})
	windows[w]++
	if t.Failed() {
		return
	}
	if w == windowSkipped {
		t.Skip("the calibration trial was skipped")
	}
	perBatch, perCommit := cal.run/crashBatches, cal.commits/crashBatches
	if perBatch <= 0 || perCommit <= 0 {
		t.Fatalf("the calibration run took %v, its commits %v", cal.run, cal.commits)
	}
	// Count only trials whose child was killed; a kill drawn late in the
	// last batch can miss it.
	for i, kills := 1, 0; kills < trials && i <= 2*trials && !t.Failed(); i++ {
		k := crashKill{batch: rng.IntN(crashBatches), after: time.Duration(rng.Int64N(int64(perBatch)))}
		if i%2 == 0 {
			k.inCommit, k.after = true, time.Duration(rng.Int64N(int64(perCommit)))
		}
		_, w := crashTrial(t, h, i, k)
		windows[w]++
		if w != windowFinished {
			kills++
		}
	}
	var ws []string
	for w, n := range windows {
		ws = append(ws, fmt.Sprintf("%3d  %s", n, w))
	}
	sort.Strings(ws)
	t.Logf("full run: %v (%v a batch, of which Commit %v); where the kills landed:\n%s", cal.run, perBatch, perCommit, strings.Join(ws, "\n"))
}

func envInt(t testing.TB, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s=%q is not a number", name, s)
	}
	return n
}

// crashChild is the process that gets killed.
func crashChild(t *testing.T, raw string) {
	var c crashConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatalf("crash child: bad config: %v", err)
	}
	ctx := context.Background()
	s, err := openSession(ctx, c.Target, c.Journal)
	if err != nil {
		t.Fatalf("crash child: %v", err)
	}
	defer s.Close()
	fmt.Println(lineReady)
	for k := range crashBatches {
		p, err := s.Execute(ctx, crashStatement(k), engine.ExecuteOptions{Confirm: s.ConfirmName()})
		if err != nil {
			t.Fatalf("crash child: batch %d: %v", k, err)
		}
		fmt.Printf("%s%d\n", lineExecuted, k)
		// A short review pause, as a person takes between Execute and
		// Commit: a kill here finds durable images and an open target
		// transaction, which must come out rolled back.
		time.Sleep(crashReview)
		if err := p.Commit(ctx); err != nil {
			t.Fatalf("crash child: commit %d: %v", k, err)
		}
		fmt.Printf("%s%d\n", lineCommitted, k)
	}
	fmt.Println(lineDone)
}

// crashStatement is batch k: even batches delete a range of ids, odd ones
// update the next range.
func crashStatement(k int) string {
	lo, hi := k*crashBatch, (k+1)*crashBatch
	if k%2 == 0 {
		return fmt.Sprintf("DELETE FROM %s WHERE id > %d AND id <= %d", crashTable, lo, hi)
	}
	return fmt.Sprintf("UPDATE %s SET v = v || '-u' WHERE id > %d AND id <= %d", crashTable, lo, hi)
}

func crashOriginal(id int64) string { return fmt.Sprintf("row-%d", id) }

// crashTrial runs one child, killing it as kill says, checks the outcome
// and returns how long the child ran after it was ready and which window
// the kill landed in.
func crashTrial(t *testing.T, h Harness, idx int, kill crashKill) (times crashTimes, window string) {
	t.Helper()
	// A subtest per trial, so that its database and files go at its end.
	child := runPattern(t.Name())
	window = windowSkipped
	t.Run(fmt.Sprintf("trial%02d", idx), func(t *testing.T) {
		times, window = runCrashTrial(t, h, idx, kill, child)
	})
	return times, window
}

func runCrashTrial(t *testing.T, h Harness, idx int, kill crashKill, child string) (crashTimes, string) {
	target := h.NewTarget(t)
	db := h.Open(t, target)
	ctx := context.Background()
	for _, q := range []string{
		"CREATE TABLE " + crashTable + " (id integer PRIMARY KEY, v text NOT NULL)",
		fmt.Sprintf(`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < %d)
			INSERT INTO %s (id, v) SELECT x, 'row-' || x FROM c`, crashRows, crashTable),
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("trial %d: %s: %v", idx, q, err)
		}
	}
	jpath := filepath.Join(t.TempDir(), fmt.Sprintf("crash-%d.lifebelt", idx))
	cfg, _ := json.Marshal(crashConfig{Target: target, Journal: jpath})
	cmd := exec.Command(os.Args[0], "-test.run="+child, "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+string(cfg))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("trial %d: starting the child: %v", idx, err)
	}
	lines := make(chan string, 64)
	var stdout strings.Builder // the child's test output, for failures
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var ready, executedAt time.Time
	var times crashTimes
	executed, committed, done := -1, -1, false
	read := func(l string) {
		stdout.WriteString(l + "\n")
		switch {
		case l == lineReady:
			ready = time.Now()
		case strings.HasPrefix(l, lineExecuted):
			executed, _ = strconv.Atoi(strings.TrimPrefix(l, lineExecuted))
			executedAt = time.Now()
		case strings.HasPrefix(l, lineCommitted):
			committed, _ = strconv.Atoi(strings.TrimPrefix(l, lineCommitted))
			times.commits += time.Since(executedAt)
		case l == lineDone:
			done = true
		}
	}
	waitReady := time.After(60 * time.Second)
	for ready.IsZero() {
		select {
		case l, ok := <-lines:
			if !ok {
				cmd.Wait()
				t.Fatalf("trial %d: the child ended before it was ready:\n%s%s", idx, stdout.String(), stderr.String())
			}
			read(l)
		case <-waitReady:
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("trial %d: the child was not ready within a minute:\n%s%s", idx, stdout.String(), stderr.String())
		}
	}
	killed := false
	var timer <-chan time.Time
	arm := func() {
		started := committed >= kill.batch-1
		if kill.inCommit {
			started = executed >= kill.batch
		}
		if kill.batch >= 0 && timer == nil && !killed && started {
			timer = time.After(kill.after)
		}
	}
	arm()
	for lines != nil {
		select {
		case l, ok := <-lines:
			if !ok {
				lines = nil
				break
			}
			read(l)
			arm()
		case <-timer:
			killed = cmd.Process.Kill() == nil // SIGKILL: no deferred cleanup runs
			timer = nil
		}
	}
	err = cmd.Wait()
	times.run = time.Since(ready)
	if !killed && (err != nil || !done) {
		t.Fatalf("trial %d: the child failed (%v):\n%s%s", idx, err, stdout.String(), stderr.String())
	}
	if killed && done {
		killed = false // it finished before the signal
	}
	if kill.batch >= 0 {
		t.Logf("kill planned in batch %d (in its Commit: %v) after %v; killed %v, child had committed batch %d", kill.batch, kill.inCommit, kill.after, killed, committed)
	}
	window := checkCrash(t, h, db, target, jpath, idx, idx%4 == 0)
	if !killed {
		window = windowFinished
	} else if committed < 0 && window == windowIdle {
		window = "killed before the first batch's images were durable"
	}
	return times, window
}

// runPattern is a -test.run pattern matching exactly the named (sub)test.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// Kill windows, as far as the parent can tell them apart afterwards.
const (
	windowIdle      = "killed with no batch in flight, or before its images were durable"
	windowDurable   = "killed after the images were durable, before the target committed"
	windowCommitted = "killed after the target committed, before the outcome was journaled (in doubt)"
	windowFinished  = "not killed: ran to completion"
	windowSkipped   = "skipped"
)

type crashImage struct {
	seq           int64
	op            byte
	before, after string // v of the before- and after-image
}

// checkCrash checks the journal against the database after a kill and
// returns the window the kill landed in.
func checkCrash(t *testing.T, h Harness, db *sql.DB, target, jpath string, idx int, undo bool) string {
	t.Helper()
	ctx := context.Background()
	if h.AwaitIdle != nil {
		h.AwaitIdle(t, db)
	}
	rep, err := journal.Verify(jpath)
	if err != nil || !rep.OK {
		t.Fatalf("trial %d: the journal does not verify after the kill: %v %v", idx, err, rep.Problems)
	}
	j, err := journal.OpenReadOnly(jpath)
	if err != nil {
		t.Fatalf("trial %d: %v", idx, err)
	}
	entries, err := j.Entries()
	if err != nil {
		t.Fatalf("trial %d: %v", idx, err)
	}
	images := map[int64][]crashImage{} // id → images in committed or pending entries
	byEntry := map[int64][]int64{}     // pending entry → ids
	state := map[int64]string{}
	for _, e := range entries {
		if e.Kind != "statement" {
			continue
		}
		state[e.Seq] = e.State
		if e.State != "committed" && e.State != "pending" {
			t.Errorf("trial %d: entry %d is %q; no batch of the child fails or rolls back", idx, e.Seq, e.State)
			continue
		}
		err := j.Images(e.Seq, func(im journal.Image) error {
			if len(im.Key) != 1 || (im.Before != nil && len(im.Before) != 2) || (im.After != nil && len(im.After) != 2) {
				return fmt.Errorf("image %d of entry %d has an unexpected shape", im.Ord, e.Seq)
			}
			id, err := strconv.ParseInt(im.Key[0].String(), 10, 64)
			if err != nil {
				return err
			}
			ci := crashImage{seq: e.Seq, op: im.Op}
			if im.Before != nil {
				ci.before = im.Before[1].String()
			}
			if im.After != nil {
				ci.after = im.After[1].String()
			}
			images[id] = append(images[id], ci)
			byEntry[e.Seq] = append(byEntry[e.Seq], id)
			return nil
		})
		if err != nil {
			t.Fatalf("trial %d: %v", idx, err)
		}
	}
	j.Close()

	current := crashRowsNow(t, db)
	var uncovered, claimed errorCap
	// (2) every change the database shows has its before-image.
	for id := int64(1); id <= crashRows; id++ {
		v, present := current[id]
		orig := crashOriginal(id)
		if present && v == orig {
			continue
		}
		want := crashImage{op: 'D', before: orig}
		if present {
			want = crashImage{op: 'U', before: orig, after: v}
		}
		ok := false
		for _, im := range images[id] {
			ok = ok || (im.op == want.op && im.before == want.before && im.after == want.after)
		}
		if !ok {
			uncovered.add(t, "trial %d: row %d is %s in the database but the journal holds no matching before-image (images %+v)", idx, id, describe(v, present), images[id])
		}
	}
	// (3) no committed entry claims a change the database does not show;
	// a pending batch is all applied or not at all.
	applied := map[int64][2]int{} // entry → applied, not applied
	for id, ims := range images {
		v, present := current[id]
		for _, im := range ims {
			shows := (im.op == 'D' && !present) || (im.op == 'U' && present && v == im.after)
			if state[im.seq] == "committed" && !shows {
				claimed.add(t, "trial %d: entry %d is committed but row %d is %s in the database", idx, im.seq, id, describe(v, present))
			}
			a := applied[im.seq]
			if shows {
				a[0]++
			} else {
				a[1]++
			}
			applied[im.seq] = a
		}
	}
	uncovered.done(t, "rows changed without a before-image")
	claimed.done(t, "rows a committed entry claims but the database does not show")
	window := windowIdle
	var pending []int64
	for seq, st := range state {
		if st != "pending" {
			continue
		}
		pending = append(pending, seq)
		a := applied[seq]
		switch {
		case a[0] > 0 && a[1] > 0:
			t.Errorf("trial %d: pending entry %d is half applied: %d rows changed, %d not", idx, seq, a[0], a[1])
		case a[0] > 0:
			window = windowCommitted
		default:
			window = windowDurable
		}
	}
	if len(pending) > 1 {
		t.Errorf("trial %d: %d pending entries; the child runs one batch at a time", idx, len(pending))
	}

	// (4) a reopened session settles the pending batch by what the
	// database shows, and can undo everything.
	s, err := openSession(ctx, target, jpath)
	if err != nil {
		t.Fatalf("trial %d: reopening the session after the kill: %v", idx, err)
	}
	defer checkJournal(t, jpath)
	defer s.Close()
	es, err := s.Journal().Entries()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		for _, seq := range pending {
			if e.Seq != seq {
				continue
			}
			want := "rolled back"
			if applied[seq][0] > 0 {
				want = "committed"
			}
			if e.State != want {
				t.Errorf("trial %d: the reopened session settled pending entry %d as %q; the database says %q", idx, seq, e.State, want)
			}
		}
	}
	if !undo && len(pending) == 0 {
		return window
	}
	urep, err := s.Undo(ctx, engine.UndoOptions{})
	if err != nil {
		t.Fatalf("trial %d: undo after the kill: %v", idx, err)
	}
	if !urep.Complete() {
		t.Errorf("trial %d: undo after the kill is incomplete: %d conflicts, skipped %v", idx, len(urep.Conflicts), urep.Skipped)
	}
	after := crashRowsNow(t, db)
	bad := 0
	for id := int64(1); id <= crashRows; id++ {
		if after[id] != crashOriginal(id) {
			bad++
		}
	}
	if bad > 0 || len(after) != crashRows {
		t.Errorf("trial %d: after undo %d rows differ from the original and %d rows exist (want %d)", idx, bad, len(after), crashRows)
	}
	return window
}

func describe(v string, present bool) string {
	if !present {
		return "missing"
	}
	return strconv.Quote(v)
}

func crashRowsNow(t *testing.T, db *sql.DB) map[int64]string {
	t.Helper()
	rows, err := db.Query("SELECT id, v FROM " + crashTable)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := map[int64]string{}
	for rows.Next() {
		var id int64
		var v string
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		m[id] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// errorCap reports the first few of many similar failures and then how
// many there were, so that one broken trial does not print 20,000 lines.
type errorCap struct{ n int }

func (c *errorCap) add(t *testing.T, format string, args ...any) {
	t.Helper()
	if c.n < 5 {
		t.Errorf(format, args...)
	}
	c.n++
}

func (c *errorCap) done(t *testing.T, what string) {
	t.Helper()
	if c.n > 5 {
		t.Errorf("... %d %s in all", c.n, what)
	}
}
