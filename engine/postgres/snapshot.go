package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"lifebelt/engine"
)

var _ engine.Snapshotter = Driver{}

// A snapshot is CREATE DATABASE <db>_lifebelt_<time> TEMPLATE <db>: a
// file-level copy inside the server, the fastest full copy PostgreSQL
// offers. It needs the source to itself, so sessions on it are listed and
// ended only with consent. A revert swaps names in one transaction
// (ALTER DATABASE ... RENAME is transactional), keeping the replaced
// database as <db>_failed_<time>. Every database Lifebelt makes carries a
// COMMENT marker saying what it is a copy of, which is how they are listed
// and why Drop refuses anything else.

// maxIdentLen is PostgreSQL's identifier limit in bytes (NAMEDATALEN-1).
const maxIdentLen = 63

// copyMarkerPrefix starts the COMMENT ON DATABASE of every copy Lifebelt made.
const copyMarkerPrefix = "lifebelt:"

// copyMarker is the JSON after copyMarkerPrefix.
type copyMarker struct {
	Kind string    `json:"kind"` // "snapshot", "kept" (replaced by a revert or restore), "restoring"
	Of   string    `json:"of"`   // the database it is a copy of
	At   time.Time `json:"at"`
	// Comment is the database's own comment before Lifebelt marked it, so
	// reverting to a kept copy gives the comment back.
	Comment *string `json:"comment,omitempty"`
}

func (m copyMarker) String() string {
	b, _ := json.Marshal(m) // plain struct: cannot fail
	return copyMarkerPrefix + string(b)
}

func parseCopyMarker(comment *string) *copyMarker {
	if comment == nil || !strings.HasPrefix(*comment, copyMarkerPrefix) {
		return nil
	}
	var m copyMarker
	if json.Unmarshal([]byte(strings.TrimPrefix(*comment, copyMarkerPrefix)), &m) != nil || m.Kind == "" {
		return nil
	}
	return &m
}

// exclusive makes sure nobody but Lifebelt is connected to db (and to the
// other databases in also): it refuses with *engine.OtherSessionsError
// when consent does not cover everyone, else blocks new connections to db
// (when block is set), ends the agreed sessions and waits for them. The
// returned release re-allows connections; call it when done.
func exclusive(ctx context.Context, m *pgx.Conn, op string, db pgDatabase, consent engine.EndSessions, block bool, also ...string) (ended []engine.OtherSession, release func(), err error) {
	release = func() {}
	dbs := append([]string{db.Name}, also...)
	var end, refused []engine.OtherSession
	// A session that just closed (Lifebelt's own identity check, say) is
	// listed until its backend exits: look again briefly before refusing.
	pidsOnly := engine.EndSessions{PIDs: consent.PIDs}
	for try := 0; ; try++ {
		others, err := sessionsOn(ctx, m, dbs...)
		if err != nil {
			return nil, release, err
		}
		if _, notAgreed := pidsOnly.Decide(ctx, others); len(notAgreed) == 0 || try == 4 {
			end, refused = consent.Decide(ctx, others) // Ask is asked once
			break
		}
		select {
		case <-ctx.Done():
			return nil, release, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if len(refused) > 0 {
		return nil, release, &engine.OtherSessionsError{Dialect: "postgres", Database: db.Name, Operation: op, Sessions: refused}
	}
	if block && db.AllowConn {
		if _, err := m.Exec(ctx, "ALTER DATABASE "+quoteIdent(db.Name)+" ALLOW_CONNECTIONS false"); err != nil {
			return nil, release, fmt.Errorf("postgres: blocking new connections to %q: %s", db.Name, pgReason(err))
		}
		release = func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			// After a swap the name belongs to the copy, which allows
			// connections; the kept database was re-allowed in the swap.
			if d, ok, err := lookupDatabase(cctx, m, db.Name); err == nil && ok && !d.AllowConn {
				_, _ = m.Exec(cctx, "ALTER DATABASE "+quoteIdent(db.Name)+" ALLOW_CONNECTIONS true")
			}
		}
	}
	if err := terminateSessions(ctx, m, end); err != nil {
		release()
		return nil, func() {}, err
	}
	// Someone may have connected between listing and blocking.
	if late, err := sessionsOn(ctx, m, dbs...); err != nil || len(late) > 0 {
		release()
		if err != nil {
			return nil, func() {}, err
		}
		return nil, func() {}, &engine.OtherSessionsError{Dialect: "postgres", Database: db.Name, Operation: op, Sessions: late}
	}
	return end, release, nil
}

// copyStamp is the time suffix of copy names, in UTC to the second.
func copyStamp(t time.Time) string { return t.UTC().Format("20060102_150405") }

// fitIdent is base+suffix cut to PostgreSQL's 63-byte limit: the base is
// shortened (on a character boundary) so the suffix, which makes the name
// unique, survives.
func fitIdent(base, suffix string) string {
	room := maxIdentLen - len(suffix)
	if room < 1 {
		room = 1
	}
	if len(base) > room {
		base = base[:room]
		for !utf8.ValidString(base) {
			base = base[:len(base)-1]
		}
	}
	return base + suffix
}

// unusedName is fitIdent(base, suffix), with _2, _3, ... added to the
// suffix while that name is taken.
func unusedName(ctx context.Context, q querier, base, suffix string) (string, error) {
	for i := 1; i < 100; i++ {
		s := suffix
		if i > 1 {
			s = fmt.Sprintf("%s_%d", suffix, i)
		}
		name := fitIdent(base, s)
		var taken bool
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = $1)`, name).Scan(&taken); err != nil {
			return "", fmt.Errorf("postgres: checking database names: %w", err)
		}
		if !taken {
			return name, nil
		}
	}
	return "", fmt.Errorf("postgres: no free database name like %q", fitIdent(base, suffix))
}

// CreateSnapshot copies the target database with CREATE DATABASE ...
// TEMPLATE. The copy has the database's owner when the user may act as
// that role, so a later revert changes no ownership.
func (Driver) CreateSnapshot(ctx context.Context, t engine.Target, opt engine.SnapshotOptions) (engine.Snapshot, error) {
	start := time.Now()
	m, err := maintenanceDial(ctx, t)
	if err != nil {
		return engine.Snapshot{}, err
	}
	defer m.Close(context.WithoutCancel(ctx))
	src, err := requireDatabase(ctx, m, t, t.Database())
	if err != nil {
		return engine.Snapshot{}, err
	}
	name := opt.Name
	if name == "" {
		if name, err = unusedName(ctx, m, src.Name, "_lifebelt_"+copyStamp(start)); err != nil {
			return engine.Snapshot{}, err
		}
	} else {
		if len(name) > maxIdentLen {
			return engine.Snapshot{}, fmt.Errorf("postgres: snapshot name %q is longer than %d bytes; nothing was changed", name, maxIdentLen)
		}
		if _, taken, err := lookupDatabase(ctx, m, name); err != nil {
			return engine.Snapshot{}, err
		} else if taken {
			return engine.Snapshot{}, fmt.Errorf("postgres: a database named %q already exists; choose another snapshot name (nothing was changed)", name)
		}
	}
	_, release, err := exclusive(ctx, m, "take a snapshot of", src, opt.EndSessions, len(opt.EndSessions.PIDs) > 0 || opt.EndSessions.Ask != nil)
	if err != nil {
		return engine.Snapshot{}, err
	}
	defer release()
	report(opt.Progress, engine.Progress{Total: src.Size, Unit: "bytes", Message: fmt.Sprintf("copying database %s (%s)", src.Name, engine.HumanBytes(src.Size))})
	sql := "CREATE DATABASE " + quoteIdent(name) + " TEMPLATE " + quoteIdent(src.Name)
	if src.OwnerMember {
		sql += " OWNER " + quoteIdent(src.Owner)
	}
	if _, err := m.Exec(ctx, sql); err != nil {
		return engine.Snapshot{}, createError(ctx, m, err, src, name, "take a snapshot of")
	}
	mk := copyMarker{Kind: "snapshot", Of: src.Name, At: start.UTC().Truncate(time.Second)}
	if _, err := m.Exec(ctx, "COMMENT ON DATABASE "+quoteIdent(name)+" IS "+quoteLiteral(mk.String())); err != nil {
		dropQuietly(ctx, m, name)
		return engine.Snapshot{}, fmt.Errorf("postgres: marking snapshot %q: %s; nothing was kept", name, pgReason(err))
	}
	snap := engine.Snapshot{Name: name, Of: src.Name, Kind: "snapshot", Created: start, Duration: time.Since(start)}
	if d, ok, err := lookupDatabase(ctx, m, name); err == nil && ok {
		snap.Size = d.Size
	}
	report(opt.Progress, engine.Progress{Done: src.Size, Total: src.Size, Unit: "bytes", Message: "snapshot " + name + " taken"})
	return snap, nil
}

// createError turns a failed CREATE DATABASE into one sentence.
func createError(ctx context.Context, m *pgx.Conn, err error, src pgDatabase, name, op string) error {
	switch pgCode(err) {
	case "55006": // source database is being accessed by other users
		if late, lerr := sessionsOn(context.WithoutCancel(ctx), m, src.Name); lerr == nil && len(late) > 0 {
			return &engine.OtherSessionsError{Dialect: "postgres", Database: src.Name, Operation: op, Sessions: late}
		}
		return fmt.Errorf("postgres: cannot %s database %q: other sessions connected while it was being copied; nothing was changed", op, src.Name)
	case "42P04":
		return fmt.Errorf("postgres: a database named %q already exists; choose another name (nothing was changed)", name)
	case "42501":
		return fmt.Errorf("postgres: the user may not create databases (%s); grant CREATEDB to take snapshots (nothing was changed)", pgReason(err))
	}
	if ctx.Err() != nil {
		return fmt.Errorf("postgres: copying database %q was cancelled; nothing was changed", src.Name)
	}
	return fmt.Errorf("postgres: copying database %q to %q: %s; nothing was changed", src.Name, name, pgReason(err))
}

func dropQuietly(ctx context.Context, m *pgx.Conn, name string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	_, _ = m.Exec(cctx, "DROP DATABASE IF EXISTS "+quoteIdent(name)+" WITH (FORCE)")
}

func report(fn func(engine.Progress), p engine.Progress) {
	if fn != nil {
		fn(p)
	}
}

// ListSnapshots lists the copies Lifebelt made of the target database
// (snapshots, kept databases, leftovers of interrupted restores), oldest
// first.
func (Driver) ListSnapshots(ctx context.Context, t engine.Target, _ engine.SnapshotOptions) ([]engine.Snapshot, error) {
	m, err := maintenanceDial(ctx, t)
	if err != nil {
		return nil, err
	}
	defer m.Close(context.WithoutCancel(ctx))
	rows, err := m.Query(ctx, `SELECT d.datname, pg_catalog.shobj_description(d.oid, 'pg_database'),
			CASE WHEN pg_catalog.has_database_privilege(d.oid, 'CONNECT') THEN pg_catalog.pg_database_size(d.oid) ELSE 0 END
		FROM pg_catalog.pg_database d
		WHERE pg_catalog.shobj_description(d.oid, 'pg_database') LIKE $1`, copyMarkerPrefix+"%")
	if err != nil {
		return nil, fmt.Errorf("postgres: listing snapshots: %w", err)
	}
	defer rows.Close()
	var out []engine.Snapshot
	for rows.Next() {
		var name string
		var comment *string
		var size int64
		if err := rows.Scan(&name, &comment, &size); err != nil {
			return nil, fmt.Errorf("postgres: listing snapshots: %w", err)
		}
		if mk := parseCopyMarker(comment); mk != nil && mk.Of == t.Database() {
			out = append(out, engine.Snapshot{Name: name, Of: mk.Of, Kind: mk.Kind, Created: mk.At, Size: size})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: listing snapshots: %w", err)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Created.Before(out[b].Created) })
	return out, nil
}

// copyOf looks up name and checks it is a copy Lifebelt made of db.
func copyOf(ctx context.Context, m *pgx.Conn, name, db string) (pgDatabase, error) {
	d, ok, err := lookupDatabase(ctx, m, name)
	if err != nil {
		return d, err
	}
	if !ok {
		return d, fmt.Errorf("postgres: there is no snapshot %q; nothing was changed", name)
	}
	if d.Marker == nil || d.Marker.Of != db {
		return d, fmt.Errorf("postgres: database %q is not a copy Lifebelt took of %q; nothing was changed", name, db)
	}
	return d, nil
}

// DropSnapshot drops a copy Lifebelt made of the target database.
func (Driver) DropSnapshot(ctx context.Context, t engine.Target, name string, _ engine.SnapshotOptions) error {
	m, err := maintenanceDial(ctx, t)
	if err != nil {
		return err
	}
	defer m.Close(context.WithoutCancel(ctx))
	if _, err := copyOf(ctx, m, name, t.Database()); err != nil {
		return err
	}
	if _, err := m.Exec(ctx, "DROP DATABASE "+quoteIdent(name)); err != nil {
		if pgCode(err) == "55006" {
			return fmt.Errorf("postgres: snapshot %q is in use by other sessions; nothing was dropped", name)
		}
		return fmt.Errorf("postgres: dropping snapshot %q: %s", name, pgReason(err))
	}
	return nil
}

// RevertToSnapshot makes the snapshot the target database again: in one
// transaction the database is renamed to <db>_failed_<time> and the
// snapshot to <db>. The database's owner, privileges, settings, connection
// limit and comment carry over to the reverted one, so only the content
// goes back in time.
func (Driver) RevertToSnapshot(ctx context.Context, t engine.Target, name string, opt engine.RevertOptions) (engine.RevertResult, error) {
	start := time.Now()
	m, err := maintenanceDial(ctx, t)
	if err != nil {
		return engine.RevertResult{}, err
	}
	defer m.Close(context.WithoutCancel(ctx))
	db, err := requireDatabase(ctx, m, t, t.Database())
	if err != nil {
		return engine.RevertResult{}, err
	}
	snap, err := copyOf(ctx, m, name, db.Name)
	if err != nil {
		return engine.RevertResult{}, err
	}
	if snap.Marker.Kind == "restoring" {
		return engine.RevertResult{}, fmt.Errorf("postgres: %q is an interrupted restore, not a snapshot; drop it (nothing was changed)", name)
	}
	res, err := swapIn(ctx, m, t, db, snap, "revert", opt.EndSessions, start)
	if err != nil {
		return res, err
	}
	res.From = name
	report(opt.Progress, engine.Progress{Done: 1, Total: 1, Unit: "steps", Message: "reverted " + db.Name + " to " + name})
	return res, nil
}

// swapIn replaces db by repl (a database on the same server): db is kept
// as <db>_failed_<time>, repl is renamed to db and takes over db's
// properties.
func swapIn(ctx context.Context, m *pgx.Conn, t engine.Target, db, repl pgDatabase, op string, consent engine.EndSessions, start time.Time) (engine.RevertResult, error) {
	res := engine.RevertResult{Database: db.Name, Size: repl.Size}
	kept, err := unusedName(ctx, m, db.Name, "_failed_"+copyStamp(start))
	if err != nil {
		return res, err
	}
	ended, release, err := exclusive(ctx, m, op, db, consent, true, repl.Name)
	if err != nil {
		return res, err
	}
	defer release()
	res.Ended = ended
	notes, err := swapTx(ctx, m, db, repl, kept, start)
	if err != nil {
		if pgCode(err) == "55006" {
			if late, lerr := sessionsOn(context.WithoutCancel(ctx), m, db.Name, repl.Name); lerr == nil && len(late) > 0 {
				return res, &engine.OtherSessionsError{Dialect: "postgres", Database: db.Name, Operation: op, Sessions: late}
			}
		}
		if pgCode(err) == "42501" {
			return res, fmt.Errorf("postgres: the user may not rename database %q (it must own it and have CREATEDB): %s; nothing was changed", db.Name, pgReason(err))
		}
		return res, fmt.Errorf("postgres: swapping %q for %q: %s; nothing was changed", db.Name, repl.Name, pgReason(err))
	}
	res.Kept, res.Notes, res.Duration = kept, notes, time.Since(start)
	if c, err := (Driver{}).Open(ctx, engine.Target{Dialect: "postgres", URL: toolURL(t, ""), Password: t.Password}); err == nil {
		if id, err := c.Identity(ctx); err == nil {
			res.NewID = id.ID
		}
		c.Close()
	}
	return res, nil
}

// swapTx renames in one transaction, so either both renames happen or none.
func swapTx(ctx context.Context, m *pgx.Conn, db, repl pgDatabase, kept string, at time.Time) ([]string, error) {
	tx, err := m.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	keptMarker := copyMarker{Kind: "kept", Of: db.Name, At: at.UTC().Truncate(time.Second), Comment: db.Comment}
	stmts := []string{
		"ALTER DATABASE " + quoteIdent(db.Name) + " RENAME TO " + quoteIdent(kept),
		"ALTER DATABASE " + quoteIdent(repl.Name) + " RENAME TO " + quoteIdent(db.Name),
		"COMMENT ON DATABASE " + quoteIdent(kept) + " IS " + quoteLiteral(keptMarker.String()),
	}
	if db.AllowConn {
		stmts = append(stmts, "ALTER DATABASE "+quoteIdent(kept)+" ALLOW_CONNECTIONS true")
	}
	// Only the content goes back in time: the database keeps its comment.
	if db.Comment == nil || db.Marker != nil {
		stmts = append(stmts, "COMMENT ON DATABASE "+quoteIdent(db.Name)+" IS NULL")
	} else {
		stmts = append(stmts, "COMMENT ON DATABASE "+quoteIdent(db.Name)+" IS "+quoteLiteral(*db.Comment))
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return nil, err
		}
	}
	notes, err := adoptProperties(ctx, tx, db, repl, db.Name)
	if err != nil {
		return nil, err
	}
	return notes, tx.Commit(ctx)
}

// adoptProperties gives database `to` (formerly repl) the owner, privileges,
// connection limit and settings of `from`. Each change runs under a
// savepoint: one the user may not make becomes a note, not a failure.
func adoptProperties(ctx context.Context, tx pgx.Tx, from, repl pgDatabase, to string) ([]string, error) {
	var stmts []string
	qto := quoteIdent(to)
	if repl.Owner != from.Owner {
		stmts = append(stmts, "ALTER DATABASE "+qto+" OWNER TO "+quoteIdent(from.Owner))
	}
	if repl.ConnLimit != from.ConnLimit {
		stmts = append(stmts, fmt.Sprintf("ALTER DATABASE %s CONNECTION LIMIT %d", qto, from.ConnLimit))
	}
	grants, err := grantStatements(ctx, tx, from.OID, to)
	if err != nil {
		return nil, err
	}
	stmts = append(stmts, grants...)
	sets, err := settingStatements(ctx, tx, from.OID, to)
	if err != nil {
		return nil, err
	}
	stmts = append(stmts, sets...)
	var notes []string
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, "SAVEPOINT lifebelt_prop"); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, s); err != nil {
			if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT lifebelt_prop"); rerr != nil {
				return nil, rerr
			}
			notes = append(notes, fmt.Sprintf("could not carry over %q: %s", s, pgReason(err)))
			continue
		}
		if _, err := tx.Exec(ctx, "RELEASE SAVEPOINT lifebelt_prop"); err != nil {
			return nil, err
		}
	}
	return notes, nil
}

// grantStatements re-creates the database privileges of oid on `to`. A
// database without explicit privileges (datacl NULL) has the defaults,
// which a new database has too.
func grantStatements(ctx context.Context, q querier, oid uint32, to string) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,
			a.privilege_type, a.is_grantable
		FROM pg_catalog.pg_database d, LATERAL pg_catalog.aclexplode(d.datacl) a
		WHERE d.oid = $1 ORDER BY 1, 2`, oid)
	if err != nil {
		return nil, fmt.Errorf("postgres: reading privileges of database %d: %w", oid, err)
	}
	defer rows.Close()
	qto := quoteIdent(to)
	var out []string
	for rows.Next() {
		var grantee, priv string
		var grantable bool
		if err := rows.Scan(&grantee, &priv, &grantable); err != nil {
			return nil, fmt.Errorf("postgres: reading privileges: %w", err)
		}
		if len(out) == 0 { // explicit privileges replace the defaults
			out = append(out, "REVOKE ALL ON DATABASE "+qto+" FROM PUBLIC")
		}
		s := "GRANT " + priv + " ON DATABASE " + qto + " TO " + grantee
		if grantable {
			s += " WITH GRANT OPTION"
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// gucListQuote are the settings whose values are lists of quoted elements
// (GUC_LIST_QUOTE): each element must be set as its own literal, as
// pg_dump does, or 'a, b' would become one element.
var gucListQuote = map[string]bool{"search_path": true, "temp_tablespaces": true,
	"session_preload_libraries": true, "local_preload_libraries": true, "shared_preload_libraries": true}

// settingStatements re-creates ALTER DATABASE ... SET and ALTER ROLE ...
// IN DATABASE ... SET settings of database oid on `to`.
func settingStatements(ctx context.Context, q querier, oid uint32, to string) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT coalesce(pg_catalog.pg_get_userbyid(NULLIF(setrole, 0)), ''), setconfig
		FROM pg_catalog.pg_db_role_setting WHERE setdatabase = $1 ORDER BY 1`, oid)
	if err != nil {
		return nil, fmt.Errorf("postgres: reading settings of database %d: %w", oid, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var role string
		var cfg []string
		if err := rows.Scan(&role, &cfg); err != nil {
			return nil, fmt.Errorf("postgres: reading settings: %w", err)
		}
		prefix := "ALTER DATABASE " + quoteIdent(to)
		if role != "" {
			prefix = "ALTER ROLE " + quoteIdent(role) + " IN DATABASE " + quoteIdent(to)
		}
		for _, kv := range cfg {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			out = append(out, prefix+" SET "+quoteIdent(k)+" TO "+settingValue(k, v))
		}
	}
	return out, rows.Err()
}

// settingValue renders a stored setting value as literals.
func settingValue(name, v string) string {
	if !gucListQuote[strings.ToLower(name)] {
		return quoteLiteral(v)
	}
	var lits []string
	for _, e := range splitGUCList(v) {
		lits = append(lits, quoteLiteral(e))
	}
	if len(lits) == 0 {
		return "''"
	}
	return strings.Join(lits, ", ")
}

// splitGUCList splits a list setting the way the server's SplitGUCList
// does: elements separated by commas, optionally double-quoted with ""
// for a quote, surrounding blanks dropped.
func splitGUCList(s string) []string {
	var out []string
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
		if i >= len(s) {
			return out
		}
		var b strings.Builder
		if s[i] == '"' {
			for i++; i < len(s); i++ {
				if s[i] == '"' {
					if i+1 < len(s) && s[i+1] == '"' {
						b.WriteByte('"')
						i++
						continue
					}
					i++
					break
				}
				b.WriteByte(s[i])
			}
			for i < len(s) && s[i] != ',' {
				i++
			}
		} else {
			j := strings.IndexByte(s[i:], ',')
			if j < 0 {
				j = len(s) - i
			}
			b.WriteString(strings.TrimRight(s[i:i+j], " \t\n\r"))
			i += j
		}
		out = append(out, b.String())
		if i >= len(s) {
			return out
		}
		i++ // the comma
	}
}
