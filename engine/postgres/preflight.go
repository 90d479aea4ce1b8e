package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"lifebelt/engine"
)

var _ engine.Preflighter = Driver{}

// longTransaction is how long an open transaction may run before preflight
// points at it.
const longTransaction = 5 * time.Minute

// Preflight checks the target database before a session: server version,
// size, other sessions (idle-in-transaction ones called out), write
// activity, WAL archiving, the right to create databases, the client tools
// and the age of the newest backup Lifebelt took. It changes nothing.
func (Driver) Preflight(ctx context.Context, t engine.Target, opt engine.PreflightOptions) ([]engine.Finding, error) {
	c, err := safetyDial(ctx, t, "")
	if err != nil {
		return nil, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	db := t.Database()
	var fs []engine.Finding
	add := func(f ...engine.Finding) { fs = append(fs, f...) }
	failed := func(check, what string, err error) engine.Finding {
		return engine.Finding{Level: engine.LevelWarning, Check: check, Message: fmt.Sprintf("Could not check %s: %s.", what, pgReason(err))}
	}

	major, version, err := pfVersion(ctx, c)
	if err != nil {
		return nil, err
	}
	add(engine.Finding{Check: "version", Message: fmt.Sprintf("The server runs PostgreSQL %s.", version),
		Data: map[string]any{"version": version, "major": major}})

	var size int64
	if err := c.QueryRow(ctx, `SELECT pg_catalog.pg_database_size(current_database())`).Scan(&size); err != nil {
		add(failed("size", "the database size", err))
	} else {
		add(engine.Finding{Check: "size", Message: fmt.Sprintf("Database %q takes %s.", db, engine.HumanBytes(size)),
			Data: map[string]any{"bytes": size}})
	}

	if ss, err := sessionsOn(ctx, c, db); err != nil {
		add(failed("sessions", "other sessions", err))
	} else {
		add(sessionFindings(db, ss, time.Now())...)
	}

	if opt.WriteSample >= 0 {
		iv := opt.WriteSample
		if iv == 0 {
			iv = engine.DefaultWriteSample
		}
		if f, err := writeActivity(ctx, c, db, iv); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			add(failed("write-activity", "write activity", err))
		} else {
			add(f)
		}
	}

	if f, err := archiving(ctx, c); err != nil {
		add(failed("archiving", "WAL archiving", err))
	} else {
		add(f)
	}

	if f, err := createPrivilege(ctx, c, db); err != nil {
		add(failed("createdb", "the right to create databases", err))
	} else {
		add(f)
	}

	for _, name := range []string{"pg_dump", "pg_restore"} {
		add(toolFinding(ctx, name, opt.ToolDir, major))
	}

	if id, err := targetID(ctx, t); err != nil {
		add(failed("backup-age", "the backup catalogue", err))
	} else {
		add(engine.CatalogFindings(opt.CatalogDir, id, time.Now())...)
	}
	return fs, nil
}

func pfVersion(ctx context.Context, c *pgx.Conn) (int, string, error) {
	var version string
	var num int
	if err := c.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('server_version_num')::int`).Scan(&version, &num); err != nil {
		return 0, "", fmt.Errorf("postgres: reading the server version: %w", err)
	}
	return num / 10000, version, nil
}

// targetID is the target's engine identity ID, exactly as a session's
// journal header records it.
func targetID(ctx context.Context, t engine.Target) (string, error) {
	t.URL = toolURL(t, "")
	c, err := Driver{}.Open(ctx, t)
	if err != nil {
		return "", err
	}
	defer c.Close()
	id, err := c.Identity(ctx)
	return id.ID, err
}

// sessionFindings grades the other sessions on db: any is a warning (a
// snapshot, revert or restore must end it), one idle in a transaction is a
// danger (it holds locks and a snapshot of old rows), a long transaction a
// warning of its own.
func sessionFindings(db string, ss []engine.OtherSession, now time.Time) []engine.Finding {
	if len(ss) == 0 {
		return []engine.Finding{{Check: "sessions", Message: fmt.Sprintf("No other session is connected to database %q.", db)}}
	}
	list := make([]string, len(ss))
	for i, s := range ss {
		list[i] = s.String()
	}
	fs := []engine.Finding{{Level: engine.LevelWarning, Check: "sessions",
		Message: fmt.Sprintf("%d other session(s) are connected to database %q: %s; a snapshot, revert or restore must end them first.", len(ss), db, strings.Join(list, "; ")),
		Data:    map[string]any{"sessions": ss}}}
	for _, s := range ss {
		since := s.XactStart
		switch {
		case strings.HasPrefix(s.State, "idle in transaction"):
			if since.IsZero() {
				since = s.QueryStart
			}
			fs = append(fs, engine.Finding{Level: engine.LevelDanger, Check: "idle-in-transaction",
				Message: fmt.Sprintf("Session pid %d (%s) has been idle in a transaction since %s (%s); it holds its locks and old row versions until it ends, and blocks snapshots.",
					s.PID, who(s), since.Local().Format("15:04:05"), now.Sub(since).Round(time.Second)),
				Data: map[string]any{"pid": s.PID, "since": since}})
		case !s.XactStart.IsZero() && now.Sub(s.XactStart) > longTransaction:
			fs = append(fs, engine.Finding{Level: engine.LevelWarning, Check: "long-transaction",
				Message: fmt.Sprintf("Session pid %d (%s) has had a transaction open for %s; your changes may wait for its locks.",
					s.PID, who(s), now.Sub(s.XactStart).Round(time.Second)),
				Data: map[string]any{"pid": s.PID, "since": s.XactStart}})
		}
	}
	return fs
}

func who(s engine.OtherSession) string {
	var parts []string
	if s.User != "" {
		parts = append(parts, "user "+s.User)
	}
	if s.Application != "" {
		parts = append(parts, fmt.Sprintf("app %q", s.Application))
	}
	if s.Client != "" {
		parts = append(parts, "from "+s.Client)
	}
	if len(parts) == 0 {
		return "details hidden from this user"
	}
	return strings.Join(parts, ", ")
}

// tableWrites are a table's cumulative insert/update/delete counters.
type tableWrites struct{ ins, upd, del int64 }

func sampleWrites(ctx context.Context, c *pgx.Conn) (map[string]tableWrites, error) {
	// Statistics read in a transaction are cached for it; outside one each
	// statement sees fresh counters, but clear any cache to be sure.
	if _, err := c.Exec(ctx, `SELECT pg_catalog.pg_stat_clear_snapshot()`); err != nil {
		return nil, err
	}
	rows, err := c.Query(ctx, `SELECT quote_ident(schemaname) || '.' || quote_ident(relname), n_tup_ins, n_tup_upd, n_tup_del
		FROM pg_catalog.pg_stat_user_tables`)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct {
		name string
		w    tableWrites
	}, error) {
		var v struct {
			name string
			w    tableWrites
		}
		err := r.Scan(&v.name, &v.w.ins, &v.w.upd, &v.w.del)
		return v, err
	})
	if err != nil {
		return nil, err
	}
	m := make(map[string]tableWrites, len(out))
	for _, v := range out {
		m[v.name] = v.w
	}
	return m, nil
}

// writeActivity samples the per-table write counters twice, interval
// apart. Backends publish their counters at the end of a transaction (at
// most once a second), so a steady writer shows up within the interval.
func writeActivity(ctx context.Context, c *pgx.Conn, db string, interval time.Duration) (engine.Finding, error) {
	before, err := sampleWrites(ctx, c)
	if err != nil {
		return engine.Finding{}, err
	}
	select {
	case <-ctx.Done():
		return engine.Finding{}, ctx.Err()
	case <-time.After(interval):
	}
	after, err := sampleWrites(ctx, c)
	if err != nil {
		return engine.Finding{}, err
	}
	type hot struct {
		name  string
		d     tableWrites
		total int64
	}
	var hots []hot
	var total int64
	for name, a := range after {
		b := before[name]
		d := tableWrites{a.ins - b.ins, a.upd - b.upd, a.del - b.del}
		if n := d.ins + d.upd + d.del; n > 0 {
			hots = append(hots, hot{name, d, n})
			total += n
		}
	}
	iv := interval.Round(100 * time.Millisecond)
	if total == 0 {
		return engine.Finding{Check: "write-activity", Message: fmt.Sprintf("Nothing wrote to database %q during %s of watching.", db, iv),
			Data: map[string]any{"rows": 0, "seconds": interval.Seconds()}}, nil
	}
	sort.Slice(hots, func(i, j int) bool {
		return hots[i].total > hots[j].total || hots[i].total == hots[j].total && hots[i].name < hots[j].name
	})
	var parts []string
	tables := map[string]int64{}
	for i, h := range hots {
		tables[h.name] = h.total
		if i < 3 {
			parts = append(parts, fmt.Sprintf("%s: %d inserted, %d updated, %d deleted", h.name, h.d.ins, h.d.upd, h.d.del))
		}
	}
	if len(hots) > 3 {
		parts = append(parts, fmt.Sprintf("and %d more table(s)", len(hots)-3))
	}
	return engine.Finding{Level: engine.LevelWarning, Check: "write-activity",
		Message: fmt.Sprintf("Others are writing to database %q right now: %d row(s) changed in %s (%s); a revert or restore would take their writes away too.",
			db, total, iv, strings.Join(parts, "; ")),
		Data: map[string]any{"rows": total, "seconds": interval.Seconds(), "tables": tables}}, nil
}

// archiving reports WAL archiving from archive_mode and pg_stat_archiver.
func archiving(ctx context.Context, c *pgx.Conn) (engine.Finding, error) {
	var mode string
	var archived, failedN int64
	var lastWAL, lastFailedWAL *string
	var lastAt, lastFailedAt *time.Time
	err := c.QueryRow(ctx, `SELECT current_setting('archive_mode'), archived_count, last_archived_wal, last_archived_time,
			failed_count, last_failed_wal, last_failed_time FROM pg_catalog.pg_stat_archiver`).
		Scan(&mode, &archived, &lastWAL, &lastAt, &failedN, &lastFailedWAL, &lastFailedAt)
	if err != nil {
		return engine.Finding{}, err
	}
	f := engine.Finding{Check: "archiving", Data: map[string]any{"archive_mode": mode, "archived_count": archived, "failed_count": failedN}}
	if lastWAL != nil {
		f.Data["last_archived_wal"] = *lastWAL
	}
	if lastAt != nil {
		f.Data["last_archived_time"] = *lastAt
	}
	switch {
	case mode == "off":
		f.Level = engine.LevelWarning
		f.Message = "WAL archiving is off, so this server has no point-in-time recovery; a Lifebelt snapshot or backup is the way back."
	case lastFailedAt != nil && (lastAt == nil || lastFailedAt.After(*lastAt)):
		f.Level = engine.LevelDanger
		f.Message = fmt.Sprintf("WAL archiving is failing: WAL %s could not be archived at %s, so point-in-time recovery past it is not possible.",
			deref(lastFailedWAL), lastFailedAt.Local().Format("2006-01-02 15:04:05"))
	case lastAt == nil:
		f.Level = engine.LevelWarning
		f.Message = "WAL archiving is on but has not archived any WAL yet."
	default:
		f.Message = fmt.Sprintf("WAL archiving works: the last WAL, %s, was archived at %s.", deref(lastWAL), lastAt.Local().Format("2006-01-02 15:04:05"))
	}
	return f, nil
}

func deref(s *string) string {
	if s == nil {
		return "?"
	}
	return *s
}

// createPrivilege says whether the user may take snapshots (CREATEDB) and
// revert or restore (CREATEDB and ownership, to rename the database).
func createPrivilege(ctx context.Context, c *pgx.Conn, db string) (engine.Finding, error) {
	var user, owner string
	var super, createdb, member bool
	err := c.QueryRow(ctx, `SELECT current_user, r.rolsuper, r.rolcreatedb, pg_catalog.pg_get_userbyid(d.datdba),
			pg_catalog.pg_has_role(d.datdba, 'MEMBER')
		FROM pg_catalog.pg_roles r, pg_catalog.pg_database d
		WHERE r.rolname = current_user AND d.datname = current_database()`).Scan(&user, &super, &createdb, &owner, &member)
	if err != nil {
		return engine.Finding{}, err
	}
	f := engine.Finding{Check: "createdb", Data: map[string]any{"user": user, "superuser": super, "createdb": createdb, "owner": owner}}
	switch {
	case super || createdb && member:
		f.Message = fmt.Sprintf("User %q may create databases and act as the owner of %q, so snapshots, reverts and restores can run.", user, db)
	case createdb:
		f.Level = engine.LevelWarning
		f.Message = fmt.Sprintf("User %q may take snapshots but not revert or restore database %q: renaming it needs its owner, %q.", user, db, owner)
	default:
		f.Level = engine.LevelWarning
		f.Message = fmt.Sprintf("User %q may not create databases (CREATEDB), so Lifebelt cannot take snapshots of %q or restore it; take a backup instead.", user, db)
	}
	return f, nil
}

// toolFinding reports whether a client program matching the server is here.
func toolFinding(ctx context.Context, name, toolDir string, major int) engine.Finding {
	tl, err := findTool(ctx, name, toolDir, major)
	f := engine.Finding{Check: name, Data: map[string]any{"path": tl.Path, "version": tl.Version, "major": tl.Major}}
	switch {
	case err != nil:
		f.Level = engine.LevelWarning
		f.Message = strings.TrimPrefix(err.Error(), "postgres: ") + "."
		f.Message = strings.ToUpper(f.Message[:1]) + f.Message[1:]
	case tl.Major == major:
		f.Message = fmt.Sprintf("%s %d at %s matches the server (PostgreSQL %d).", name, tl.Major, tl.Path, major)
	default:
		f.Message = fmt.Sprintf("%s %d at %s is newer than the server (PostgreSQL %d) and works with it.", name, tl.Major, tl.Path, major)
	}
	return f
}

// The helpers below are shared by preflight, snapshot and backup:
// connections, sessions and database lookups.

// safetyConfig is the target's connection configuration for database db
// (empty: the target's own), without Lifebelt's own URL parameters, which
// the server would reject as unknown settings.
func safetyConfig(t engine.Target, db string) (*pgx.ConnConfig, error) {
	if t.Dialect != "postgres" || t.URL == nil {
		return nil, fmt.Errorf("postgres: target %q is not a PostgreSQL URL", t.String())
	}
	t.URL = toolURL(t, "")
	cfg, err := pgx.ParseConfig(t.ConnString())
	if err != nil {
		return nil, fmt.Errorf("postgres: the connection settings of %s are invalid: %s", t.String(), hidePassword(configReason(err), t.Password))
	}
	if db != "" {
		cfg.Database = db
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "lifebelt"
	}
	return cfg, nil
}

// safetyDial connects to database db of t's server. A missing database
// is one sentence saying so.
func safetyDial(ctx context.Context, t engine.Target, db string) (*pgx.Conn, error) {
	cfg, err := safetyConfig(t, db)
	if err != nil {
		return nil, err
	}
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "3D000" {
			return nil, fmt.Errorf("postgres: database %q does not exist on %s; nothing was changed", cfg.Database, serverOf(t))
		}
		return nil, fmt.Errorf("postgres: cannot connect to database %q on %s: %s", cfg.Database, serverOf(t), hidePassword(connectReason(err), t.Password))
	}
	return c, nil
}

// maintenanceDial connects to the maintenance database: the target URL's
// maintenance_db parameter, else "postgres", else "template1". Lifebelt
// must not be connected to the database it copies or renames.
func maintenanceDial(ctx context.Context, t engine.Target) (*pgx.Conn, error) {
	if t.URL != nil {
		if m := t.URL.Query().Get("maintenance_db"); m != "" {
			return safetyDial(ctx, t, m)
		}
	}
	c, err := safetyDial(ctx, t, "postgres")
	if err != nil && strings.Contains(err.Error(), "does not exist") {
		if c2, err2 := safetyDial(ctx, t, "template1"); err2 == nil {
			return c2, nil
		}
		return nil, fmt.Errorf("postgres: no maintenance database to connect to on %s (tried postgres and template1); add ?maintenance_db=NAME to the target URL", serverOf(t))
	}
	return c, err
}

// serverOf is host:port of the target, for messages.
func serverOf(t engine.Target) string {
	if t.URL == nil || t.URL.Host == "" {
		return "the server"
	}
	return t.URL.Host
}

// sessionsOn lists client sessions connected to any of dbs, other than ours.
func sessionsOn(ctx context.Context, q querier, dbs ...string) ([]engine.OtherSession, error) {
	rows, err := q.Query(ctx, `SELECT pid, coalesce(usename::text, ''), coalesce(application_name, ''),
			CASE WHEN client_addr IS NOT NULL THEN host(client_addr) || ':' || client_port
			     WHEN client_port = -1 THEN 'local socket' ELSE '' END,
			coalesce(state, ''), xact_start, query_start, left(coalesce(query, ''), 200)
		FROM pg_catalog.pg_stat_activity
		WHERE datname = ANY($1) AND pid <> pg_catalog.pg_backend_pid()
		  -- Without pg_read_all_stats, other users' sessions show no
		  -- backend_type; those with a user are clients.
		  AND (backend_type IN ('client backend', 'walsender') OR backend_type IS NULL AND usesysid IS NOT NULL)
		ORDER BY pid`, dbs)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing sessions on %s: %w", strings.Join(dbs, ", "), err)
	}
	defer rows.Close()
	var out []engine.OtherSession
	for rows.Next() {
		var s engine.OtherSession
		var xs, qs *time.Time
		if err := rows.Scan(&s.PID, &s.User, &s.Application, &s.Client, &s.State, &xs, &qs, &s.Query); err != nil {
			return nil, fmt.Errorf("postgres: listing sessions: %w", err)
		}
		if xs != nil {
			s.XactStart = *xs
		}
		if qs != nil {
			s.QueryStart = *qs
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: listing sessions: %w", err)
	}
	return out, nil
}

// terminateSessions ends the given sessions and waits until they are gone.
func terminateSessions(ctx context.Context, q querier, ss []engine.OtherSession) error {
	if len(ss) == 0 {
		return nil
	}
	pids := make([]int64, len(ss))
	for i, s := range ss {
		pids[i] = s.PID
	}
	rows, err := q.Query(ctx, `SELECT p FROM unnest($1::bigint[]) p WHERE NOT pg_catalog.pg_terminate_backend(p::int)`, pids)
	if err != nil {
		return fmt.Errorf("postgres: ending sessions %v: %s; nothing was changed", pids, pgReason(err))
	}
	refused, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("postgres: ending sessions %v: %s; nothing was changed", pids, pgReason(err))
	}
	if len(refused) > 0 {
		// The server only warns: a superuser's session, or another
		// role's without pg_signal_backend.
		return fmt.Errorf("postgres: ending sessions: the server did not let this user end session(s) %v (a superuser's, or another role's without pg_signal_backend); the database was not changed", refused)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		var left int
		if err := q.QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE pid = ANY($1::bigint[])`, pids).Scan(&left); err != nil {
			return fmt.Errorf("postgres: waiting for sessions %v to end: %w", pids, err)
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres: %d of the sessions %v did not end within 15 s; nothing was changed", left, pids)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// pgReason is the server's message for err, or err itself.
func pgReason(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Message
	}
	return err.Error()
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// pgDatabase is what the safety nets need to know about one database.
type pgDatabase struct {
	Name        string
	OID         uint32
	Owner       string
	OwnerMember bool // current_user may act as the owner
	AllowConn   bool
	ConnLimit   int32
	Comment     *string
	Marker      *copyMarker
	Size        int64 // 0 without CONNECT privilege
	Tablespace  string
	Encoding    string
	Collate     string
	Ctype       string
}

func lookupDatabase(ctx context.Context, q querier, name string) (pgDatabase, bool, error) {
	d := pgDatabase{Name: name}
	err := q.QueryRow(ctx, `SELECT d.oid, pg_catalog.pg_get_userbyid(d.datdba),
			pg_catalog.pg_has_role(d.datdba, 'MEMBER'), d.datallowconn, d.datconnlimit,
			pg_catalog.shobj_description(d.oid, 'pg_database'),
			CASE WHEN pg_catalog.has_database_privilege(d.oid, 'CONNECT') THEN pg_catalog.pg_database_size(d.oid) ELSE 0 END,
			t.spcname, pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype
		FROM pg_catalog.pg_database d JOIN pg_catalog.pg_tablespace t ON t.oid = d.dattablespace
		WHERE d.datname = $1`, name).Scan(&d.OID, &d.Owner, &d.OwnerMember, &d.AllowConn, &d.ConnLimit,
		&d.Comment, &d.Size, &d.Tablespace, &d.Encoding, &d.Collate, &d.Ctype)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, false, nil
	}
	if err != nil {
		return d, false, fmt.Errorf("postgres: reading database %q: %w", name, err)
	}
	d.Marker = parseCopyMarker(d.Comment)
	return d, true, nil
}

// requireDatabase looks db up on m; a missing one is one sentence.
func requireDatabase(ctx context.Context, m *pgx.Conn, t engine.Target, name string) (pgDatabase, error) {
	d, ok, err := lookupDatabase(ctx, m, name)
	if err != nil {
		return d, err
	}
	if !ok {
		return d, fmt.Errorf("postgres: database %q does not exist on %s; nothing was changed", name, serverOf(t))
	}
	return d, nil
}
