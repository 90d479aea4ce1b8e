package postgres

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"lifebelt/engine"
)

var (
	_ engine.Backuper = Driver{}
	_ engine.Restorer = Driver{}
)

// Backups are pg_dump -Fc archives: the format every DBA can restore by
// hand, compressed, and restorable in parallel. pg_dump and pg_restore run
// as child processes; the password reaches them only through the
// PGPASSWORD variable of the child's environment, never argv or a file.
// A restore loads the archive into a fresh database first and swaps it in
// like a revert, so a damaged archive changes nothing.

// pgTool is a located PostgreSQL client program.
type pgTool struct {
	Name    string // "pg_dump"
	Path    string
	Version string // "pg_dump (PostgreSQL) 15.4"
	Major   int
}

var toolVersionRE = regexp.MustCompile(`\(PostgreSQL\)\s+(\d+)`)

// toolVersion runs `path --version`.
func toolVersion(ctx context.Context, path string) (string, int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "", 0, fmt.Errorf("running %s --version: %w", path, err)
	}
	v := strings.TrimSpace(string(out))
	m := toolVersionRE.FindStringSubmatch(v)
	if m == nil {
		return v, 0, fmt.Errorf("%s --version printed %q, not a PostgreSQL version", path, v)
	}
	major, _ := strconv.Atoi(m[1])
	return v, major, nil
}

// toolCandidates are the places to look for a client program, best first:
// a configured directory alone when there is one, else the per-version
// directories distributions install into, then PATH.
func toolCandidates(name, toolDir string, serverMajor int) (cands []string, where string) {
	exe := name
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	if toolDir == "" {
		toolDir = os.Getenv("LIFEBELT_PG_BIN")
	}
	if toolDir != "" {
		return []string{filepath.Join(toolDir, exe)}, toolDir
	}
	n := strconv.Itoa(serverMajor)
	dirs := []string{"/usr/lib/postgresql/" + n + "/bin", "/usr/pgsql-" + n + "/bin",
		"/opt/homebrew/opt/postgresql@" + n + "/bin", "/usr/local/opt/postgresql@" + n + "/bin",
		`C:\Program Files\PostgreSQL\` + n + `\bin`}
	for _, d := range dirs {
		cands = append(cands, filepath.Join(d, exe))
	}
	if p, err := exec.LookPath(exe); err == nil {
		cands = append(cands, p)
	}
	return cands, "PATH and " + dirs[0]
}

// findTool locates name for a server of major version serverMajor: one of
// exactly that major version if any, else a newer one (pg_dump reads older
// servers). A missing or older program is one sentence saying what to do.
func findTool(ctx context.Context, name, toolDir string, serverMajor int) (pgTool, error) {
	cands, where := toolCandidates(name, toolDir, serverMajor)
	var newer, older *pgTool
	for _, p := range cands {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			continue
		}
		v, major, err := toolVersion(ctx, p)
		if err != nil {
			continue
		}
		tl := pgTool{Name: name, Path: p, Version: v, Major: major}
		switch {
		case major == serverMajor:
			return tl, nil
		case major > serverMajor && newer == nil:
			newer = &tl
		case major < serverMajor && older == nil:
			older = &tl
		}
	}
	if newer != nil {
		return *newer, nil
	}
	if older != nil {
		return *older, fmt.Errorf("postgres: %s at %s is version %d, older than the server (PostgreSQL %d); install the PostgreSQL %d client tools or point LIFEBELT_PG_BIN at them",
			name, older.Path, older.Major, serverMajor, serverMajor)
	}
	return pgTool{Name: name}, fmt.Errorf("postgres: %s was not found on this computer (looked in %s); install the PostgreSQL %d client tools or point LIFEBELT_PG_BIN at them",
		name, where, serverMajor)
}

// serverMajor is the major version of the server c is connected to.
func serverMajor(ctx context.Context, c querier) (int, error) {
	var num int
	if err := c.QueryRow(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&num); err != nil {
		return 0, fmt.Errorf("postgres: reading the server version: %w", err)
	}
	return num / 10000, nil
}

// toolEnv is the child's environment: ours, with the target's password in
// PGPASSWORD when it has one.
func toolEnv(t engine.Target) []string {
	var env []string
	for _, kv := range os.Environ() {
		if t.Password != "" && strings.HasPrefix(kv, "PGPASSWORD=") {
			continue
		}
		env = append(env, kv)
	}
	if t.Password != "" {
		env = append(env, "PGPASSWORD="+t.Password)
	}
	return env
}

// runTool runs a client program, handing each stderr line to onLine, and
// returns its stdout and, on failure, the most telling stderr line.
// Cancelling ctx asks the program to stop (SIGTERM), then kills it.
func runTool(ctx context.Context, tl pgTool, args, env []string, onLine func(string)) ([]byte, error) {
	cmd := exec.CommandContext(ctx, tl.Path, args...)
	cmd.Env = env
	cmd.Cancel = func() error {
		if runtime.GOOS == "windows" {
			return cmd.Process.Kill()
		}
		return cmd.Process.Signal(syscall.SIGTERM)
	}
	cmd.WaitDelay = 5 * time.Second
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", tl.Path, err)
	}
	var last, firstErr string
	sc := bufio.NewScanner(errPipe)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		// The first error is the cause; later ones are consequences
		// ("a worker process died unexpectedly").
		if firstErr == "" && (strings.Contains(line, "error:") || strings.Contains(line, "FATAL:")) {
			firstErr = line
		}
		if strings.TrimSpace(line) != "" {
			last = line
		}
		if onLine != nil {
			onLine(line)
		}
	}
	_, _ = io.Copy(io.Discard, errPipe)
	err = cmd.Wait()
	if err == nil {
		return stdout.Bytes(), nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	why := firstErr
	if why == "" {
		why = last
	}
	if why == "" {
		why = err.Error()
	}
	why = strings.TrimPrefix(strings.TrimSpace(why), tl.Name+": ")
	return nil, errors.New(strings.TrimPrefix(why, "error: "))
}

// progressMux serialises progress callbacks from the polling goroutine and
// the stderr reader, as engine.Progress promises.
type progressMux struct {
	mu    sync.Mutex
	fn    func(engine.Progress)
	p     engine.Progress
	limit int64 // Total to clamp Done to
}

func (m *progressMux) update(f func(p *engine.Progress)) {
	if m.fn == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f(&m.p)
	if m.p.Total > 0 && m.p.Done > m.p.Total {
		m.p.Done = m.p.Total
	}
	m.fn(m.p)
}

// poll calls tick every interval until stop is closed, then returns.
func poll(interval time.Duration, stop <-chan struct{}, done *sync.WaitGroup, tick func()) {
	done.Add(1)
	go func() {
		defer done.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				tick()
			}
		}
	}()
}

var dumpTableRE = regexp.MustCompile(`(?:dumping contents of table|processing data for table) "(.*)"`)

// Backup writes a pg_dump custom-format archive of the target to path.
// Progress counts tables, with the bytes written so far.
func (Driver) Backup(ctx context.Context, t engine.Target, path string, opt engine.BackupOptions) (engine.BackupInfo, error) {
	start := time.Now()
	abs, err := filepath.Abs(path)
	if err != nil {
		return engine.BackupInfo{}, fmt.Errorf("postgres: backup path %q: %w", path, err)
	}
	if _, err := os.Lstat(abs); err == nil {
		return engine.BackupInfo{}, fmt.Errorf("postgres: %s already exists; choose another backup file (nothing was written)", abs)
	}
	c, err := safetyDial(ctx, t, "")
	if err != nil {
		return engine.BackupInfo{}, err
	}
	major, err := serverMajor(ctx, c)
	var tables int64
	if err == nil {
		err = c.QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'`).Scan(&tables)
	}
	c.Close(context.WithoutCancel(ctx))
	if err != nil {
		return engine.BackupInfo{}, fmt.Errorf("postgres: preparing the backup of %q: %w", t.Database(), err)
	}
	tl, err := findTool(ctx, "pg_dump", opt.ToolDir, major)
	if err != nil {
		return engine.BackupInfo{}, fmt.Errorf("%w (nothing was written)", err)
	}
	partial := abs + ".partial"
	f, err := os.OpenFile(partial, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return engine.BackupInfo{}, fmt.Errorf("postgres: %s exists: another backup is being written there, or one was interrupted; remove it first (nothing was written)", partial)
		}
		return engine.BackupInfo{}, fmt.Errorf("postgres: cannot create the backup file: %w", err)
	}
	f.Close()
	keep := false
	defer func() {
		if !keep {
			os.Remove(partial)
		}
	}()
	pm := &progressMux{fn: opt.Progress, p: engine.Progress{Total: tables, Unit: "tables"}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	poll(200*time.Millisecond, stop, &wg, func() {
		if fi, err := os.Stat(partial); err == nil {
			pm.update(func(p *engine.Progress) { p.Bytes = fi.Size() })
		}
	})
	// pg_dump opens the file we created with mode 0600 and truncates it,
	// which keeps the mode whatever the umask.
	args := []string{"--format=custom", "--verbose", "--no-password", "--file=" + partial, "--dbname=" + toolURL(t, "").String()}
	_, err = runTool(ctx, tl, args, toolEnv(t), func(line string) {
		if m := dumpTableRE.FindStringSubmatch(line); m != nil {
			pm.update(func(p *engine.Progress) { p.Done++; p.Message = "dumping table " + m[1] })
		}
	})
	close(stop)
	wg.Wait()
	if err != nil {
		if ctx.Err() != nil {
			return engine.BackupInfo{}, fmt.Errorf("postgres: the backup of %q was cancelled; nothing was written", t.Database())
		}
		return engine.BackupInfo{}, fmt.Errorf("postgres: pg_dump could not back up database %q: %s; nothing was written", t.Database(), hidePassword(err.Error(), t.Password))
	}
	size, err := engine.PublishFile(partial, abs)
	if err != nil {
		return engine.BackupInfo{}, fmt.Errorf("postgres: %w", err)
	}
	keep = true
	pm.update(func(p *engine.Progress) { p.Done, p.Bytes, p.Message = p.Total, size, "backup written to "+abs })
	return engine.BackupInfo{Path: abs, Size: size, Duration: time.Since(start), Format: "pg_dump custom",
		Tool: tl.Version, Tables: int(tables)}, nil
}

// archiveTables checks that path is a custom-format archive pg_restore
// reads and counts its TABLE DATA entries.
func archiveTables(ctx context.Context, tl pgTool, path string) (int64, error) {
	out, err := runTool(ctx, tl, []string{"--list", path}, os.Environ(), nil)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, ";") && strings.Contains(line, " TABLE DATA ") {
			n++
		}
	}
	return n, nil
}

// Restore loads a pg_dump archive into a fresh database, then swaps it in
// for the target (the replaced one is kept as <db>_failed_<time>), or,
// with opt.As, leaves it beside the target under that name.
func (Driver) Restore(ctx context.Context, t engine.Target, from string, opt engine.RestoreOptions) (engine.RevertResult, error) {
	start := time.Now()
	fi, err := os.Stat(from)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return engine.RevertResult{}, fmt.Errorf("postgres: backup file %s does not exist; nothing was changed", from)
		}
		return engine.RevertResult{}, fmt.Errorf("postgres: cannot read backup file %s: %v; nothing was changed", from, err)
	}
	if fi.IsDir() {
		return engine.RevertResult{}, fmt.Errorf("postgres: %s is a directory, not a backup file; nothing was changed", from)
	}
	m, err := maintenanceDial(ctx, t)
	if err != nil {
		return engine.RevertResult{}, err
	}
	defer m.Close(context.WithoutCancel(ctx))
	db, err := requireDatabase(ctx, m, t, t.Database())
	if err != nil {
		return engine.RevertResult{}, err
	}
	major, err := serverMajor(ctx, m)
	if err != nil {
		return engine.RevertResult{}, err
	}
	tl, err := findTool(ctx, "pg_restore", opt.ToolDir, major)
	if err != nil {
		return engine.RevertResult{}, fmt.Errorf("%w (nothing was changed)", err)
	}
	tables, err := archiveTables(ctx, tl, from)
	if err != nil {
		return engine.RevertResult{}, fmt.Errorf("postgres: %s is not a backup pg_restore can read (%s); nothing was changed", from, err)
	}
	fresh := opt.As
	if fresh != "" {
		if len(fresh) > maxIdentLen {
			return engine.RevertResult{}, fmt.Errorf("postgres: database name %q is longer than %d bytes; nothing was changed", fresh, maxIdentLen)
		}
		if _, taken, err := lookupDatabase(ctx, m, fresh); err != nil {
			return engine.RevertResult{}, err
		} else if taken {
			return engine.RevertResult{}, fmt.Errorf("postgres: a database named %q already exists; choose another name for the restored copy (nothing was changed)", fresh)
		}
	} else {
		// Refuse before the long load, not after it.
		others, err := sessionsOn(ctx, m, db.Name)
		if err != nil {
			return engine.RevertResult{}, err
		}
		end, refused := opt.EndSessions.Decide(ctx, others)
		if len(refused) > 0 {
			return engine.RevertResult{}, &engine.OtherSessionsError{Dialect: "postgres", Database: db.Name, Operation: "restore", Sessions: refused}
		}
		// Consent given now holds at the swap; Ask is asked again only
		// about sessions that connect meanwhile.
		for _, s := range end {
			opt.EndSessions.PIDs = append(slices.Clip(opt.EndSessions.PIDs), s.PID)
		}
		if fresh, err = unusedName(ctx, m, db.Name, "_restore_"+copyStamp(start)); err != nil {
			return engine.RevertResult{}, err
		}
	}
	if err := createEmptyLike(ctx, m, db, fresh, major); err != nil {
		return engine.RevertResult{}, createError(ctx, m, err, db, fresh, "restore")
	}
	ok := false
	defer func() {
		if !ok {
			dropQuietly(ctx, m, fresh)
		}
	}()
	mk := copyMarker{Kind: "restoring", Of: db.Name, At: start.UTC().Truncate(time.Second)}
	if _, err := m.Exec(ctx, "COMMENT ON DATABASE "+quoteIdent(fresh)+" IS "+quoteLiteral(mk.String())); err != nil {
		return engine.RevertResult{}, fmt.Errorf("postgres: marking database %q: %s; nothing was changed", fresh, pgReason(err))
	}
	pm := &progressMux{fn: opt.Progress, p: engine.Progress{Total: tables, Unit: "tables"}}
	args := []string{"--exit-on-error", "--verbose", "--no-password", "--jobs=" + strconv.Itoa(restoreJobs()),
		"--dbname=" + toolURL(t, fresh).String(), from}
	_, err = runTool(ctx, tl, args, toolEnv(t), func(line string) {
		if m := dumpTableRE.FindStringSubmatch(line); m != nil {
			pm.update(func(p *engine.Progress) { p.Done++; p.Message = "restoring table " + m[1] })
		}
	})
	if err != nil {
		if ctx.Err() != nil {
			return engine.RevertResult{}, fmt.Errorf("postgres: the restore of %q was cancelled; nothing was changed", db.Name)
		}
		return engine.RevertResult{}, fmt.Errorf("postgres: pg_restore could not restore %s: %s; nothing was changed", from, hidePassword(err.Error(), t.Password))
	}
	pm.update(func(p *engine.Progress) { p.Done, p.Message = p.Total, "loaded; swapping databases" })
	repl, err := requireDatabase(ctx, m, t, fresh)
	if err != nil {
		return engine.RevertResult{}, err
	}
	if opt.As != "" {
		if _, err := m.Exec(ctx, "COMMENT ON DATABASE "+quoteIdent(fresh)+" IS NULL"); err != nil {
			return engine.RevertResult{}, fmt.Errorf("postgres: unmarking database %q: %s", fresh, pgReason(err))
		}
		ok = true
		return engine.RevertResult{Database: fresh, From: from, Size: fi.Size(), Duration: time.Since(start)}, nil
	}
	// pg_restore's own sessions end a moment after it exits.
	if err := awaitNoSessions(ctx, m, fresh, 10*time.Second); err != nil {
		return engine.RevertResult{}, err
	}
	res, err := swapIn(ctx, m, t, db, repl, "restore", opt.EndSessions, start)
	if err != nil {
		return res, err
	}
	ok = true
	res.From, res.Size = from, fi.Size()
	return res, nil
}

// awaitNoSessions waits up to limit for the sessions on db to end.
func awaitNoSessions(ctx context.Context, q querier, db string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		ss, err := sessionsOn(ctx, q, db)
		if err != nil || len(ss) == 0 || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// restoreJobs is pg_restore's parallelism: one per CPU, at most four.
func restoreJobs() int { return max(1, min(4, runtime.NumCPU())) }

// createEmptyLike creates an empty database for a restore, from template0
// with db's encoding, locale, tablespace and (when allowed) owner.
func createEmptyLike(ctx context.Context, m *pgx.Conn, db pgDatabase, name string, major int) error {
	sql := "CREATE DATABASE " + quoteIdent(name) + " TEMPLATE template0 ENCODING " + quoteLiteral(db.Encoding) +
		" LC_COLLATE " + quoteLiteral(db.Collate) + " LC_CTYPE " + quoteLiteral(db.Ctype)
	if major >= 15 {
		col := "daticulocale"
		if major >= 17 {
			col = "datlocale"
		}
		var provider, locale string
		if err := m.QueryRow(ctx, `SELECT datlocprovider::text, coalesce(`+col+`, '') FROM pg_catalog.pg_database WHERE oid = $1`, db.OID).Scan(&provider, &locale); err != nil {
			return err
		}
		switch provider {
		case "i":
			sql += " LOCALE_PROVIDER icu ICU_LOCALE " + quoteLiteral(locale)
		case "b":
			sql += " LOCALE_PROVIDER builtin BUILTIN_LOCALE " + quoteLiteral(locale)
		}
	}
	if db.Tablespace != "pg_default" {
		sql += " TABLESPACE " + quoteIdent(db.Tablespace)
	}
	if db.OwnerMember {
		sql += " OWNER " + quoteIdent(db.Owner)
	}
	_, err := m.Exec(ctx, sql)
	return err
}

// toolURL is the target URL for database db (empty: the target's), with
// Lifebelt's own parameters and pgx-only ones removed so that both pgx and
// libpq (pg_dump, pg_restore) accept it. It never holds a password.
func toolURL(t engine.Target, db string) *url.URL {
	u := *t.URL
	q := u.Query()
	for k := range q {
		switch {
		case k == "maintenance_db", k == "statement_cache_capacity", k == "description_cache_capacity",
			k == "default_query_exec_mode", k == "min_read_buffer_size", strings.HasPrefix(k, "pool_"):
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	if db != "" {
		u.Path = "/" + db
		u.RawPath = ""
	}
	return &u
}
