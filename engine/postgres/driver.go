package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"lifebelt/engine"
)

func init() { engine.Register(Driver{}) }

// Driver opens PostgreSQL targets. It registers itself as "postgres".
type Driver struct{}

var (
	_ engine.Driver     = Driver{}
	_ engine.Conn       = (*conn)(nil)
	_ engine.TxStatuser = (*conn)(nil)
	_ engine.Tx         = (*pgTx)(nil)
	_ engine.TxIDer     = (*pgTx)(nil)
)

// Name is the dialect name.
func (Driver) Name() string { return "postgres" }

// sessionParams make every text representation canonical and exact, so an
// image taken in one session compares equal to the same value read in
// another: ISO dates, PostgreSQL-style intervals, shortest exact floats, hex
// bytea, UTF-8 text, timestamps with time zone in UTC and C-locale money.
var sessionParams = map[string]string{
	"application_name":   "lifebelt",
	"DateStyle":          "ISO",
	"IntervalStyle":      "postgres",
	"extra_float_digits": "3",
	"bytea_output":       "hex",
	"client_encoding":    "UTF8",
	"TimeZone":           "UTC",
	"lc_monetary":        "C",
}

// Open connects to the target. Its TLS settings (sslmode, sslrootcert, ...)
// are those of the URL, interpreted by pgx exactly as libpq does.
func (Driver) Open(ctx context.Context, t engine.Target) (engine.Conn, error) {
	if t.Dialect != "postgres" || t.URL == nil {
		return nil, fmt.Errorf("postgres: target %q is not a PostgreSQL URL", t.String())
	}
	cfg, err := pgx.ParseConfig(t.ConnString())
	if err != nil {
		return nil, fmt.Errorf("postgres: the connection settings of %s are invalid: %s", t.String(), hidePassword(configReason(err), t.Password))
	}
	for k, v := range sessionParams {
		cfg.RuntimeParams[k] = v
	}
	// maintenance_db names the database snapshots and restores connect to;
	// it is Lifebelt's parameter, not a server setting.
	delete(cfg.RuntimeParams, "maintenance_db")
	pg, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: cannot connect to %s: %s", t.String(), hidePassword(connectReason(err), t.Password))
	}
	c := &conn{pg: pg, cfg: cfg, target: t.String()}
	// Capture verifies images against the transaction's own per-table
	// counters; they only move when the server tracks counts.
	var tc string
	if err := pg.QueryRow(ctx, "SELECT current_setting('track_counts')").Scan(&tc); err != nil {
		pg.Close(context.Background())
		return nil, fmt.Errorf("postgres: reading settings of %s: %w", t.String(), err)
	}
	c.trackCounts = tc == "on"
	if c.trackCounts {
		// Ask for a flush now; the server does it when this query ends,
		// before it answers.
		var ok bool
		err := pg.QueryRow(ctx, `SELECT CASE WHEN pg_catalog.to_regprocedure('pg_catalog.pg_stat_force_next_flush()') IS NULL THEN false
			ELSE pg_catalog.has_function_privilege(pg_catalog.to_regprocedure('pg_catalog.pg_stat_force_next_flush()'), 'EXECUTE') END`).Scan(&ok)
		if err == nil && ok {
			_, err = pg.Exec(ctx, "SELECT pg_catalog.pg_stat_force_next_flush()")
			c.flushStats, c.statsClean = err == nil, err == nil
		}
		if err != nil {
			pg.Close(context.Background())
			return nil, fmt.Errorf("postgres: reading settings of %s: %w", t.String(), err)
		}
	}
	return c, nil
}

// configReason is the reason a connection string was rejected, without the
// connection string itself (which may hold a password).
func configReason(err error) string {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		if inner := errors.Unwrap(pe); inner != nil {
			return inner.Error()
		}
	}
	return err.Error()
}

// connectReason is the innermost cause of a failed connection: "server
// refused TLS connection", "password authentication failed ...".
func connectReason(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Message
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		if inner := errors.Unwrap(ce); inner != nil {
			err = inner
		}
	}
	// pgx joins per-host attempts with newlines; one sentence is enough.
	s := strings.TrimSpace(err.Error())
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		s = strings.TrimSpace(s[i+1:])
	}
	return s
}

func hidePassword(s, password string) string {
	if password == "" {
		return s
	}
	return strings.ReplaceAll(s, password, "xxxxx")
}

// conn is one pinned connection to a PostgreSQL database.
type conn struct {
	pg          *pgx.Conn
	cfg         *pgx.ConnConfig // for the short-lived second connection of DDL checks
	target      string          // the target URL without password, for messages
	trackCounts bool            // track_counts is on: per-table counters verify images
	cur         *pgTx           // the open transaction, if any
	// rels are table descriptions kept for the session, revalidated by
	// digest in each transaction (see fingerprintSQL).
	rels map[uint32]*relation
	// trees are the parse trees of statements Split returned, for Exec.
	trees treeCache
	// counters names the session's prepared statements of the change
	// counter readings (countersLocal, countersFull), "" until prepared
	// (see send); countersSeq numbers those names.
	counters    [2]string
	countersSeq int
	// flushStats: the server (15 and later) lets each transaction ask for
	// its statistics to be flushed when it ends, so that the next one's
	// change counters start at zero (see localCountersSQL). statsClean:
	// that happened after the last statement that could change rows.
	flushStats bool
	statsClean bool
}

// touch notes that a query ran in the open transaction, if any, and so
// fixed its snapshot.
func (c *conn) touch() {
	if c.cur != nil {
		c.cur.snapshot = true
	}
}

// Identity identifies server and database. ID is "<system identifier>/<db
// oid>"; without the privilege to read pg_control_system() it falls back to
// "<server address>:<port>/<db oid>" and says so in Extra["id_source"].
func (c *conn) Identity(ctx context.Context) (engine.Identity, error) {
	c.touch()
	var version, versionNum, db, dbOID, user, addr, port string
	var canControl bool
	err := c.pg.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('server_version_num'),
		current_database(), (SELECT oid::text FROM pg_database WHERE datname = current_database()),
		current_user, coalesce(host(inet_server_addr()), ''), coalesce(inet_server_port()::text, ''),
		has_function_privilege('pg_control_system()', 'EXECUTE')`).
		Scan(&version, &versionNum, &db, &dbOID, &user, &addr, &port, &canControl)
	if err != nil {
		return engine.Identity{}, fmt.Errorf("postgres: reading the identity of %s: %w", c.target, err)
	}
	id := engine.Identity{
		Dialect:       "postgres",
		ServerVersion: version,
		Database:      db,
		Extra: map[string]string{
			"server_version_num": versionNum,
			"host":               addr,
			"user":               user,
		},
	}
	if canControl {
		var sysID string
		if err := c.pg.QueryRow(ctx, "SELECT system_identifier::text FROM pg_control_system()").Scan(&sysID); err != nil {
			return engine.Identity{}, fmt.Errorf("postgres: reading the system identifier of %s: %w", c.target, err)
		}
		id.ID = sysID + "/" + dbOID
		id.Extra["id_source"] = "system identifier"
		return id, nil
	}
	if addr == "" {
		addr = c.cfg.Host // a Unix socket has no server address
	}
	id.ID = addr + ":" + port + "/" + dbOID
	id.Extra["id_source"] = "server address (no privilege to read pg_control_system())"
	return id, nil
}

// Begin starts a REPEATABLE READ transaction: every statement of the batch
// sees one snapshot, and a statement that would change a row another
// session changed since then fails with a serialization error instead of
// silently using the newer row. That is what makes images exact.
//
// BEGIN is sent with the transaction's first query (see beginTx).
func (c *conn) Begin(ctx context.Context) (engine.Tx, error) {
	if pc := c.pg.PgConn(); pc.IsClosed() || pc.TxStatus() != 'I' {
		return nil, fmt.Errorf("postgres: the connection to %s was lost or left inside a transaction; open the session again", c.target)
	}
	c.cur = &pgTx{c: c, tx: &beginTx{c: c}, fullCounts: !c.statsClean, watched: map[uint32]bool{}}
	return c.cur, nil
}

var _ engine.UndoBeginner = (*conn)(nil)

// BeginUndo starts an undo's transaction at READ COMMITTED. Undo needs no
// single snapshot: it locks every row it changes (Fetch ... FOR UPDATE
// reads the newest version, and a row changed since is a conflict), and
// its reference check must see rows other sessions committed while it
// ran, which a REPEATABLE READ snapshot would hide (see refs.go).
func (c *conn) BeginUndo(ctx context.Context) (engine.Tx, error) {
	// Statements prepared before (by an earlier undo, or a capture) may
	// name tables whose column types changed since, by the session or by
	// others: "cached plan must not change result type" would fail the
	// undo. It starts with none.
	if err := c.pg.DeallocateAll(ctx); err != nil {
		return nil, c.wrap("forgetting prepared statements before undo", err)
	}
	c.forgetCounters()
	tx, err := c.Begin(ctx)
	if err != nil {
		return nil, err
	}
	c.cur.tx.(*beginTx).begin = "BEGIN ISOLATION LEVEL READ COMMITTED"
	return tx, nil
}

// Close ends the session.
func (c *conn) Close() error { return c.pg.Close(context.Background()) }

// TxStatus reports whether a transaction recorded by TxID committed.
func (c *conn) TxStatus(ctx context.Context, txid string) (string, error) {
	if _, err := strconv.ParseUint(txid, 10, 64); err != nil {
		return "", fmt.Errorf("postgres: %q is not a transaction id", txid)
	}
	c.touch()
	var st *string
	if err := c.pg.QueryRow(ctx, "SELECT txid_status($1::bigint)", txid).Scan(&st); err != nil {
		return "", fmt.Errorf("postgres: checking transaction %s on %s: %w", txid, c.target, err)
	}
	if st == nil {
		return "unknown", nil // too old: the commit log no longer covers it
	}
	switch *st {
	case "committed", "aborted":
		return *st, nil
	}
	return "unknown", nil
}

// pgTx is a batch's transaction.
type pgTx struct {
	c  *conn
	tx txConn
	// snapshot is true once a statement has fixed the transaction's
	// snapshot; after that a table lock no longer guarantees that what the
	// snapshot shows is all the table holds (see lockForImage).
	snapshot bool
	seq      int // numbers savepoints
	// rels caches table descriptions for the transaction; DDL clears it.
	rels   map[uint32]*relation
	warned map[string]bool  // warnings given once per batch
	trace  func(sql string) // tests: sees every statement capture sends
	txid   string           // once known (TxID)
	// ddlRan: undo ran DDL (afterDDL); statements prepared since are
	// stale once the transaction rolls back.
	ddlRan bool
	// deferredKeys caches, per quoted table, whether it has a unique index
	// checked later than its insert (see TryInsert).
	deferredKeys map[string]bool
	// undoBase and undoOwn serve an undo that runs with foreign-key
	// actions on (no replica role, see actionsFired): the transaction's
	// update and delete counters by table before the undo wrote rows, and
	// the rows the undo itself updated or deleted, by quoted table.
	undoBase map[uint32]int64
	undoOwn  map[string]int64
	// replica: the undo runs with session_replication_role = replica.
	replica bool
	// fullCounts: the next reading of the change counters must cover every
	// table, as the transaction's counters may hold counts Lifebelt has
	// not seen (see localCountersSQL). watched are the tables every
	// reading covers besides those the transaction has locked.
	fullCounts bool
	watched    map[uint32]bool
	// stmtFull: every reading of the current statement covers every table
	// (see expectChanges).
	stmtFull bool
	// imaged are the tables (partitions: leaves) the batch imaged; settle
	// is set once code of the user's may have run (see Settle).
	imaged map[uint32]bool
	settle bool
}

// TxID is the transaction's id (it assigns one if needed). A change
// statement reads it in its own round trip (see counted), so asking after
// one costs nothing.
func (x *pgTx) TxID(ctx context.Context) (string, error) {
	if x.txid != "" {
		return x.txid, nil
	}
	x.snapshot = true
	if err := x.tx.QueryRow(ctx, "SELECT txid_current()::text").Scan(&x.txid); err != nil {
		return "", x.c.wrap("reading the transaction id", err)
	}
	return x.txid, nil
}

// Commit commits the batch.
func (x *pgTx) Commit(ctx context.Context) error {
	x.done()
	if err := x.tx.Commit(ctx); err != nil {
		return x.c.wrap("committing", err)
	}
	return nil
}

// Rollback rolls the batch back.
func (x *pgTx) Rollback(ctx context.Context) error {
	x.done()
	if err := x.tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return x.c.wrap("rolling back", err)
	}
	if x.ddlRan && !x.c.pg.IsClosed() {
		x.c.forgetCounters()
		if err := x.c.pg.DeallocateAll(context.WithoutCancel(ctx)); err != nil {
			return x.c.wrap("forgetting prepared statements after rolling back DDL", err)
		}
	}
	return nil
}

func (x *pgTx) done() {
	if x.c.cur == x {
		x.c.cur = nil
	}
}

// ErrConcurrentChange is the error (matched with errors.Is) of a statement
// that lost a race with another session under REPEATABLE READ.
var ErrConcurrentChange = errors.New("another session changed the same rows while this batch ran; nothing was changed — run it again")

// errDeadlock is the error of a statement chosen as a deadlock victim.
var errDeadlock = errors.New("this batch and another session were waiting for each other (deadlock); nothing was changed — run it again")

// concurrentError keeps the server's error for logs while reading as one
// sentence.
type concurrentError struct {
	sentinel error
	cause    error
}

func (e *concurrentError) Error() string        { return e.sentinel.Error() }
func (e *concurrentError) Is(target error) bool { return target == e.sentinel }
func (e *concurrentError) Unwrap() error        { return e.cause }

// wrap names the target and what was being done; serialization failures
// and deadlocks become one sentence the user can act on.
func (c *conn) wrap(doing string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "40001":
			return &concurrentError{sentinel: ErrConcurrentChange, cause: err}
		case "40P01":
			return &concurrentError{sentinel: errDeadlock, cause: err}
		}
	}
	return fmt.Errorf("postgres: %s on %s: %w", doing, c.target, err)
}

var _ engine.Autocommitter = (*conn)(nil)

// NeedsAutocommit reports statements PostgreSQL refuses inside a
// transaction block.
func (c *conn) NeedsAutocommit(st engine.Statement) bool {
	upper := strings.ToUpper(st.Text)
	switch {
	case st.Verb == "VACUUM", st.Object == "DATABASE" && (st.Verb == "CREATE" || st.Verb == "DROP"),
		st.Object == "TABLESPACE", st.Verb == "ALTER" && st.Object == "SYSTEM":
		return true
	case (st.Verb == "CREATE" || st.Verb == "DROP" || st.Verb == "REINDEX") && strings.Contains(upper, "CONCURRENTLY"):
		return true
	}
	return false
}

// ExecAutocommit runs such a statement on the session's connection, outside
// any transaction.
func (c *conn) ExecAutocommit(ctx context.Context, st engine.Statement) (engine.Result, error) {
	c.touch()
	c.statsClean = false // it may change rows without asking for a flush
	tag, err := c.pg.Exec(ctx, st.Text)
	if err != nil {
		return engine.Result{}, c.wrap("running "+st.Verb, err)
	}
	return engine.Result{RowsAffected: tag.RowsAffected()}, nil
}
