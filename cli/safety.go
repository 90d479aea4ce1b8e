package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"lifebelt/engine"
	"lifebelt/journal"
)

// The safety-net commands: preflight, snapshot, backup, restore. Each
// finds the dialect's optional capability by type assertion, records what
// it took in the backup catalogue of the journal directory, and, with
// --journal, journals the operation in that session's journal.

func init() {
	extraCommands["preflight"] = runPreflight
	extraCommands["snapshot"] = runSnapshot
	extraCommands["backup"] = runBackup
	extraCommands["restore"] = runRestore
}

// safetyUsage documents the safety-net commands in topUsage.
const safetyUsage = `  lifebelt preflight --target URL [--sample DURATION] [--json]
  lifebelt snapshot create --target URL [--name NAME] [--journal FILE] [--dir DIR] [--end-sessions PID,...]
  lifebelt snapshot list --target URL [--dir DIR]
  lifebelt snapshot revert [NAME] --target URL --confirm DBNAME [--journal FILE] [--dir DIR] [--end-sessions PID,...]
  lifebelt snapshot drop NAME --target URL [--dir DIR]
  lifebelt backup --target URL --to PATH [--journal FILE]
  lifebelt restore --target URL --from PATH [--as NEWNAME | --confirm DBNAME] [--journal FILE] [--end-sessions PID,...]`

// safetyFlags are the flags the safety commands share.
type safetyFlags struct {
	target, jpath, dir, confirm string
	end                         multi
}

func (f *safetyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.target, "target", "", "target URL")
	fs.StringVar(&f.jpath, "journal", "", "journal the operation in this session journal")
	fs.StringVar(&f.dir, "dir", "", "where file snapshots go (default: the journal's directory)")
	fs.StringVar(&f.confirm, "confirm", "", "database name confirming a revert or restore")
	fs.Var(&f.end, "end-sessions", "PIDs of other sessions you agree to end (comma-separated)")
}

// prepared is a parsed target with its identity and the journal, if any.
type prepared struct {
	t   engine.Target
	drv engine.Driver
	id  engine.Identity
	j   *journal.Journal // nil without --journal
	dir string           // file snapshots
}

func (p *prepared) close() {
	if p.j != nil {
		p.j.Close()
	}
}

// prepare parses the target, connects once to learn its identity (asking
// for a password on a terminal when needed) and opens or creates the
// journal, which must belong to the same database.
func prepare(ctx context.Context, e *env, f *safetyFlags, usage string) (*prepared, error) {
	if f.target == "" {
		return nil, usagef("%s needs --target URL", usage)
	}
	t, err := engine.ParseTarget(f.target)
	if err != nil {
		return nil, usagef("%v", err)
	}
	t = withPassword(t)
	drv, err := engine.Lookup(t.Dialect)
	if err != nil {
		return nil, err
	}
	id, err := engine.TargetIdentity(ctx, t)
	if err != nil && t.Password == "" && needsPassword(err) {
		if t, err = askPassword(e, t, err); err == nil {
			id, err = engine.TargetIdentity(ctx, t)
		}
	}
	if err != nil {
		return nil, err
	}
	p := &prepared{t: t, drv: drv, id: id, dir: f.dir}
	if f.jpath != "" {
		if p.j, err = sessionJournal(f.jpath, t, id); err != nil {
			return nil, err
		}
		if p.dir == "" {
			p.dir = filepath.Dir(f.jpath)
		}
	}
	if p.dir == "" {
		if p.dir, err = journal.DefaultDir(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func askPassword(e *env, t engine.Target, cause error) (engine.Target, error) {
	f, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return t, fmt.Errorf("%v (set LIFEBELT_PASSWORD or run on a terminal to be asked)", cause)
	}
	fmt.Fprintf(e.stderr, "Password for %s: ", t.String())
	pw, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(e.stderr)
	if err != nil {
		return t, cause
	}
	t.Password = string(pw)
	return t, nil
}

// sessionJournal opens the journal at path, or creates it for the target,
// and refuses one that belongs to another database.
func sessionJournal(path string, t engine.Target, id engine.Identity) (*journal.Journal, error) {
	if _, err := os.Stat(path); err != nil {
		h := journal.Header{Dialect: id.Dialect, Target: t.String(), ServerVersion: id.ServerVersion,
			Database: id.Database, DatabaseID: id.ID, Identity: id.Extra, Operator: operator(), AppVersion: Version}
		h.Hostname, _ = os.Hostname()
		j, err := journal.Create(path, h)
		if err != nil {
			return nil, fmt.Errorf("creating journal %s: %w", path, err)
		}
		return j, nil
	}
	j, err := journal.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening journal %s: %w", path, err)
	}
	es, err := j.Entries()
	if err != nil {
		j.Close()
		return nil, fmt.Errorf("reading journal %s: %w", path, err)
	}
	if h := j.Header(); h.Dialect != id.Dialect || engine.CurrentDatabaseID(h, es) != id.ID {
		j.Close()
		return nil, fmt.Errorf("journal %s belongs to %s database %q (id %s), not to the target %q (id %s); nothing was done",
			path, h.Dialect, h.Database, engine.CurrentDatabaseID(h, es), id.Database, id.ID)
	}
	return j, nil
}

func operator() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

// record journals one safety operation (when a journal is open) and, when
// it succeeded, records it in the catalogue. A journaling failure is
// reported but does not undo what was done.
func (p *prepared) record(e *env, en journal.Entry, cat *journal.CatalogEntry, opErr error) error {
	if opErr != nil {
		en.Status, en.Error = journal.StatusFailed, opErr.Error()
		en.Refs = nil
	}
	var errs []string
	if p.j != nil {
		if w, err := p.j.Begin(); err != nil {
			errs = append(errs, err.Error())
		} else {
			if en, err = w.Append(en); err == nil {
				err = w.Commit()
			}
			if err != nil {
				w.Rollback()
				errs = append(errs, err.Error())
			} else if opErr == nil {
				fmt.Fprintf(e.stdout, "journaled as entry %d of %s\n", en.Seq, p.j.Path())
			}
		}
	}
	if cat != nil && opErr == nil {
		dir, err := journal.DefaultDir()
		if err == nil {
			cat.Dialect, cat.Database, cat.Target = p.id.Dialect, p.id.Database, p.t.String()
			if cat.DatabaseID == "" {
				cat.DatabaseID = p.id.ID
			}
			if p.j != nil {
				cat.Journal = p.j.Path()
			}
			_, err = journal.RecordCatalog(dir, *cat)
		}
		if err != nil {
			errs = append(errs, "recording in the backup catalogue: "+err.Error())
		}
	}
	if opErr != nil {
		var ose *engine.OtherSessionsError
		if errors.As(opErr, &ose) {
			pids := make([]string, len(ose.Sessions))
			for i, s := range ose.Sessions {
				pids[i] = strconv.FormatInt(s.PID, 10)
			}
			return fmt.Errorf("%w; to agree, repeat with --end-sessions %s", opErr, strings.Join(pids, ","))
		}
		return opErr
	}
	if len(errs) > 0 {
		return fmt.Errorf("the %s succeeded, but %s", en.Kind, strings.Join(errs, "; "))
	}
	return nil
}

// consent turns --end-sessions into engine.EndSessions.
func consent(f *safetyFlags) (engine.EndSessions, error) {
	var c engine.EndSessions
	for _, s := range f.end {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		pid, err := strconv.ParseInt(s, 10, 64)
		if err != nil || pid <= 0 {
			return c, usagef("--end-sessions %q is not a process id", s)
		}
		c.PIDs = append(c.PIDs, pid)
	}
	return c, nil
}

// confirmed checks --confirm against the database name (for SQLite the
// file name or its full path, as exec accepts).
func (p *prepared) confirmed(given, doing string) error {
	name := p.id.Database
	if p.id.Dialect == "sqlite" {
		name = filepath.Base(p.id.Database)
	}
	if given != "" && (given == name || given == p.id.Database) {
		return nil
	}
	return fmt.Errorf("%s replaces the content of database %q; repeat with --confirm %s (nothing was changed)", doing, name, name)
}

// progressPrinter writes progress to stderr: a rewritten line on a
// terminal, otherwise a line every few seconds.
func progressPrinter(e *env, what string) (fn func(engine.Progress), done func()) {
	tty := false
	if f, ok := e.stderr.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	var mu sync.Mutex
	var last time.Time
	printed := false
	fn = func(p engine.Progress) {
		mu.Lock()
		defer mu.Unlock()
		final := p.Total > 0 && p.Done >= p.Total
		every := 2 * time.Second
		if tty {
			every = 100 * time.Millisecond
		}
		if !final && time.Since(last) < every {
			return
		}
		last = time.Now()
		line := what + ": " + formatProgress(p)
		if tty {
			fmt.Fprintf(e.stderr, "\r\033[K%s", line)
		} else {
			fmt.Fprintln(e.stderr, line)
		}
		printed = true
	}
	done = func() {
		mu.Lock()
		defer mu.Unlock()
		if tty && printed {
			fmt.Fprintln(e.stderr)
		}
	}
	return fn, done
}

func formatProgress(p engine.Progress) string {
	var b strings.Builder
	switch {
	case p.Unit == "bytes":
		b.WriteString(engine.HumanBytes(p.Done))
		if p.Total > 0 {
			fmt.Fprintf(&b, " of %s", engine.HumanBytes(p.Total))
		}
	case p.Total > 0:
		fmt.Fprintf(&b, "%d/%d %s (%d%%)", p.Done, p.Total, p.Unit, p.Done*100/p.Total)
	default:
		fmt.Fprintf(&b, "%d %s", p.Done, p.Unit)
	}
	if p.Bytes > 0 && p.Unit != "bytes" {
		fmt.Fprintf(&b, ", %s", engine.HumanBytes(p.Bytes))
	}
	if p.Message != "" {
		fmt.Fprintf(&b, " — %s", p.Message)
	}
	return b.String()
}

func runPreflight(ctx context.Context, e *env, args []string) error {
	fs := newFlags("preflight", e)
	var f safetyFlags
	fs.StringVar(&f.target, "target", "", "target URL")
	sample := fs.Duration("sample", engine.DefaultWriteSample, "how long to watch for writes (0s: skip)")
	asJSON := fs.Bool("json", false, "print the findings as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("preflight takes no positional arguments (got %q)", pos[0])
	}
	p, err := prepare(ctx, e, &f, "preflight")
	if err != nil {
		return err
	}
	defer p.close()
	pf, err := engine.AsPreflighter(p.drv)
	if err != nil {
		return err
	}
	iv := *sample
	if iv <= 0 {
		iv = -1
	}
	dir, err := journal.DefaultDir()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "checking %s", p.t.String())
	if iv > 0 {
		fmt.Fprintf(e.stderr, " (watching for writes for %s)", iv)
	}
	fmt.Fprintln(e.stderr, "...")
	findings, err := pf.Preflight(ctx, p.t, engine.PreflightOptions{WriteSample: iv, CatalogDir: dir})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(findings)
	}
	printFindings(e.stdout, findings)
	return nil
}

func printFindings(w io.Writer, fs []engine.Finding) {
	for _, f := range fs {
		fmt.Fprintf(w, "%-8s %s\n", strings.ToUpper(f.Level.String()), f.Message)
	}
	counts := map[engine.Level]int{}
	for _, f := range fs {
		counts[f.Level]++
	}
	fmt.Fprintf(w, "%d ok, %d warning(s), %d danger(s)\n", counts[engine.LevelOK], counts[engine.LevelWarning], counts[engine.LevelDanger])
}

func runSnapshot(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("snapshot needs a subcommand: create, list, revert or drop")
	}
	sub, args := args[0], args[1:]
	fs := newFlags("snapshot "+sub, e)
	var f safetyFlags
	f.register(fs)
	name := fs.String("name", "", "snapshot name")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("snapshot %s takes at most one NAME", sub)
	}
	if len(pos) == 1 {
		*name = pos[0]
	}
	switch sub {
	case "create", "list", "revert", "drop":
	default:
		return usagef("unknown snapshot subcommand %q", sub)
	}
	c, err := consent(&f)
	if err != nil {
		return err
	}
	p, err := prepare(ctx, e, &f, "snapshot "+sub)
	if err != nil {
		return err
	}
	defer p.close()
	sn, err := engine.AsSnapshotter(p.drv)
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		return snapshotCreate(ctx, e, p, sn, *name, c)
	case "list":
		return snapshotList(ctx, e, p, sn)
	case "revert":
		if err := p.confirmed(f.confirm, "reverting"); err != nil {
			return err
		}
		return snapshotRevert(ctx, e, p, sn, *name, c)
	}
	if *name == "" {
		return usagef("snapshot drop needs the NAME of the snapshot (see snapshot list)")
	}
	if err := sn.DropSnapshot(ctx, p.t, *name, engine.SnapshotOptions{Dir: p.dir}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "dropped %s\n", *name)
	return nil
}

func snapshotCreate(ctx context.Context, e *env, p *prepared, sn engine.Snapshotter, name string, c engine.EndSessions) error {
	prog, done := progressPrinter(e, "snapshot")
	start := time.Now()
	s, err := sn.CreateSnapshot(ctx, p.t, engine.SnapshotOptions{Name: name, Dir: p.dir, EndSessions: c, Progress: prog})
	done()
	en := journal.Entry{Kind: journal.KindSnapshot, Status: journal.StatusCommitted, Class: "safety:snapshot",
		SQL: "snapshot of " + p.id.Database, Duration: time.Since(start), Detail: engine.DetailOf(s)}
	if err == nil {
		en.SQL += " as " + s.Name
	}
	if err := p.record(e, en, &journal.CatalogEntry{Kind: journal.KindSnapshot, At: start, Name: s.Name, Size: s.Size, Duration: s.Duration}, err); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "snapshot %s taken of %s: %s in %s\n", s.Name, s.Of, engine.HumanBytes(s.Size), s.Duration.Round(time.Millisecond))
	return nil
}

func snapshotList(ctx context.Context, e *env, p *prepared, sn engine.Snapshotter) error {
	list, err := sn.ListSnapshots(ctx, p.t, engine.SnapshotOptions{Dir: p.dir})
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintf(e.stdout, "no snapshots of %s\n", p.id.Database)
		return nil
	}
	for _, s := range list {
		fmt.Fprintf(e.stdout, "%s  %-8s  %9s  %s\n", s.Created.Local().Format("2006-01-02 15:04:05"), s.Kind, engine.HumanBytes(s.Size), s.Name)
	}
	return nil
}

// undoneRefs lists the journal entries a revert to the state before the
// snapshot or backup `from` takes away: those after the journal entry that
// took it, or, when this session did not take it, those after `at`.
func (p *prepared) undoneRefs(kind, from string, at time.Time) ([]int64, error) {
	if p.j == nil {
		return nil, nil
	}
	es, err := p.j.Entries()
	if err != nil {
		return nil, err
	}
	since := engine.FindTaken(es, kind, from)
	if since == 0 && at.IsZero() {
		return nil, nil
	}
	return engine.JournalUndoneBy(es, since, at), nil
}

func snapshotRevert(ctx context.Context, e *env, p *prepared, sn engine.Snapshotter, name string, c engine.EndSessions) error {
	list, err := sn.ListSnapshots(ctx, p.t, engine.SnapshotOptions{Dir: p.dir})
	if err != nil {
		return err
	}
	var chosen *engine.Snapshot
	for i := range list {
		s := &list[i]
		if name == "" && s.Kind == "snapshot" || name != "" && (s.Name == name || filepath.Base(s.Name) == name) {
			chosen = s // the newest snapshot when no name is given
		}
	}
	if chosen == nil {
		if name == "" {
			return fmt.Errorf("there is no snapshot of %s to revert to (nothing was changed)", p.id.Database)
		}
		chosen = &engine.Snapshot{Name: name} // the dialect says why not
	}
	refs, err := p.undoneRefs(journal.KindSnapshot, chosen.Name, chosen.Created)
	if err != nil {
		return err
	}
	prog, done := progressPrinter(e, "revert")
	start := time.Now()
	res, err := sn.RevertToSnapshot(ctx, p.t, chosen.Name, engine.RevertOptions{Dir: p.dir, EndSessions: c, Progress: prog})
	done()
	return p.finishRevert(e, journal.KindRevert, "revert of "+p.id.Database+" to snapshot "+chosen.Name, refs, start, res, err)
}

// finishRevert journals and catalogues a revert or restore and prints it.
func (p *prepared) finishRevert(e *env, kind, what string, refs []int64, start time.Time, res engine.RevertResult, opErr error) error {
	en := journal.Entry{Kind: kind, Status: journal.StatusCommitted, Class: "safety:" + kind, SQL: what,
		Duration: time.Since(start), Refs: refs, Detail: engine.DetailOf(res)}
	// Restores are catalogued too: their speed estimates the next one.
	cat := &journal.CatalogEntry{Kind: kind, At: start, Name: res.From, Path: res.From, Size: res.Size, Duration: res.Duration}
	if err := p.record(e, en, cat, opErr); err != nil {
		return err
	}
	if res.NewID != "" && res.NewID != p.id.ID {
		// The database has a new identity: its backups carry over.
		if dir, err := journal.DefaultDir(); err == nil {
			_, _ = journal.RecordCatalog(dir, journal.CatalogEntry{Kind: journal.CatalogReplaced, Dialect: p.id.Dialect,
				DatabaseID: res.NewID, Database: p.id.Database, Target: p.t.String(), ReplacedID: p.id.ID})
		}
	}
	for _, s := range res.Ended {
		fmt.Fprintf(e.stdout, "ended session %s\n", s)
	}
	if res.Kept == "" {
		fmt.Fprintf(e.stdout, "restored %s into %s in %s\n", res.From, res.Database, res.Duration.Round(time.Millisecond))
	} else {
		fmt.Fprintf(e.stdout, "%s now holds the content of %s (%s); the replaced content is kept as %s\n",
			res.Database, res.From, res.Duration.Round(time.Millisecond), res.Kept)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(e.stdout, "note: %s\n", n)
	}
	if len(refs) > 0 {
		fmt.Fprintf(e.stdout, "journal entries %v are undone by this\n", refs)
	}
	return nil
}

func runBackup(ctx context.Context, e *env, args []string) error {
	fs := newFlags("backup", e)
	var f safetyFlags
	f.register(fs)
	to := fs.String("to", "", "backup file to write")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *to == "" {
		return usagef("backup needs --target URL and --to PATH")
	}
	p, err := prepare(ctx, e, &f, "backup")
	if err != nil {
		return err
	}
	defer p.close()
	bk, err := engine.AsBackuper(p.drv)
	if err != nil {
		return err
	}
	prog, done := progressPrinter(e, "backup")
	start := time.Now()
	info, err := bk.Backup(ctx, p.t, *to, engine.BackupOptions{Progress: prog})
	done()
	en := journal.Entry{Kind: journal.KindBackup, Status: journal.StatusCommitted, Class: "safety:backup",
		SQL: "backup of " + p.id.Database + " to " + *to, Duration: time.Since(start), Detail: engine.DetailOf(info)}
	if err := p.record(e, en, &journal.CatalogEntry{Kind: journal.KindBackup, At: start, Path: info.Path, Size: info.Size, Duration: info.Duration}, err); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "backup of %s written to %s: %s, %d table(s), in %s\n", p.id.Database, info.Path,
		engine.HumanBytes(info.Size), info.Tables, info.Duration.Round(time.Millisecond))
	return nil
}

func runRestore(ctx context.Context, e *env, args []string) error {
	fs := newFlags("restore", e)
	var f safetyFlags
	f.register(fs)
	from := fs.String("from", "", "backup file to restore")
	as := fs.String("as", "", "restore beside the target under this name instead of replacing it")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *from == "" {
		return usagef("restore needs --target URL and --from PATH")
	}
	c, err := consent(&f)
	if err != nil {
		return err
	}
	p, err := prepare(ctx, e, &f, "restore")
	if err != nil {
		return err
	}
	defer p.close()
	rs, err := engine.AsRestorer(p.drv)
	if err != nil {
		return err
	}
	if *as == "" {
		if err := p.confirmed(f.confirm, "restoring"); err != nil {
			return err
		}
	}
	abs, err := filepath.Abs(*from)
	if err != nil {
		return err
	}
	var refs []int64
	if *as == "" {
		// Without a journal entry for this backup, the catalogue says
		// when it was taken.
		var at time.Time
		if dir, err := journal.DefaultDir(); err == nil {
			if cs, err := journal.ReadCatalog(dir, ""); err == nil {
				for _, ce := range cs {
					if ce.Kind == journal.KindBackup && ce.Path == abs {
						at = ce.At
					}
				}
			}
		}
		if refs, err = p.undoneRefs(journal.KindBackup, abs, at); err != nil {
			return err
		}
	}
	prog, done := progressPrinter(e, "restore")
	start := time.Now()
	res, err := rs.Restore(ctx, p.t, abs, engine.RestoreOptions{As: *as, Dir: p.dir, EndSessions: c, Progress: prog})
	done()
	what := "restore of " + p.id.Database + " from " + abs
	if *as != "" {
		what = "restore of " + abs + " beside " + p.id.Database + " as " + *as
	}
	return p.finishRevert(e, journal.KindRestore, what, refs, start, res, err)
}
