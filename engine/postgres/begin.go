package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// txConn is what a batch's transaction offers capture and undo: pgx.Tx
// (tests) or beginTx.
type txConn interface {
	querier
	Conn() *pgx.Conn
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// beginTx is a transaction whose BEGIN travels with its first query
// instead of in a round trip of its own: most batches start with a
// catalog query (QueryRow) or a round trip of send, and a guarded
// single-row statement then needs one round trip less. Until that first
// query nothing has happened on the server, so COMMIT and ROLLBACK of a
// transaction that never began send nothing.
type beginTx struct {
	c     *conn
	begun bool
	// begin is the BEGIN statement; "" is beginSQL.
	begin string
}

func (b *beginTx) beginStmt() string {
	if b.begin == "" {
		return beginSQL
	}
	return b.begin
}

// beginSQL starts a batch's transaction: REPEATABLE READ, so that every
// statement of the batch sees one snapshot (see conn.Begin).
const beginSQL = "BEGIN ISOLATION LEVEL REPEATABLE READ"

var _ txConn = (*beginTx)(nil)

// ensure begins the transaction in a round trip of its own, if it has not
// begun yet.
func (b *beginTx) ensure(ctx context.Context) error {
	if b.begun {
		return nil
	}
	if _, err := b.c.pg.Exec(ctx, b.beginStmt()); err != nil {
		return err
	}
	b.begun = true
	return nil
}

func (b *beginTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := b.ensure(ctx); err != nil {
		return pgconn.CommandTag{}, err
	}
	return b.c.pg.Exec(ctx, sql, args...)
}

func (b *beginTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := b.ensure(ctx); err != nil {
		return nil, err
	}
	return b.c.pg.Query(ctx, sql, args...)
}

// QueryRow sends BEGIN and the query in one round trip when the
// transaction has not begun.
func (b *beginTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if b.begun {
		return b.c.pg.QueryRow(ctx, sql, args...)
	}
	batch := &pgx.Batch{}
	batch.Queue(b.beginStmt())
	batch.Queue(sql, args...)
	return &beginRow{b: b, br: b.c.pg.SendBatch(ctx, batch)}
}

// beginRow is the row of a query sent with BEGIN.
type beginRow struct {
	b  *beginTx
	br pgx.BatchResults
}

func (r *beginRow) Scan(dest ...any) error {
	if _, err := r.br.Exec(); err != nil {
		return errors.Join(err, r.br.Close())
	}
	r.b.begun = true
	err := r.br.QueryRow().Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

// beginSteps are the steps send puts before its own when the transaction
// has not begun; began marks it begun once they ran.
func (b *beginTx) beginSteps() []*step {
	if b.begun {
		return nil
	}
	return []*step{{sql: b.beginStmt()}}
}

func (b *beginTx) began(steps []*step) {
	if len(steps) > 0 && steps[0].tag.String() == "BEGIN" {
		b.begun = true
	}
}

func (b *beginTx) Conn() *pgx.Conn { return b.c.pg }

// Commit commits; a transaction that never began has nothing to commit.
func (b *beginTx) Commit(ctx context.Context) error {
	tag, err := b.end(ctx, "COMMIT")
	if err == nil && tag == "ROLLBACK" {
		// The transaction had failed: the server rolled it back.
		err = pgx.ErrTxCommitRollback
	}
	return err
}

// Rollback rolls back; a transaction that never began has nothing to roll
// back.
func (b *beginTx) Rollback(ctx context.Context) error {
	_, err := b.end(ctx, "ROLLBACK")
	return err
}

// end sends COMMIT or ROLLBACK and, where the server allows it, in the
// same round trip and outside the transaction, asks for this connection's
// statistics to be flushed before it next answers, so that the next
// transaction's change counters start at zero (see localCountersSQL). It
// is not asked for in the transaction itself: any SELECT there would fix
// the snapshot, which capture must be able to take after its locks (see
// lockTables). It returns the command tag of COMMIT or ROLLBACK.
func (b *beginTx) end(ctx context.Context, verb string) (string, error) {
	if !b.begun {
		return "", nil // nothing ran: the counters are as they were
	}
	b.begun = false
	b.c.statsClean = false
	sql := verb
	if b.c.flushStats {
		sql += "; SELECT pg_catalog.pg_stat_force_next_flush()"
	}
	// The outcome is that of the first statement; the flush request may
	// fail on its own (a role without the right to call it), which only
	// leaves the next transaction's counters unknown.
	mrr := b.c.pg.PgConn().Exec(ctx, sql)
	var tag string
	var err error
	n := 0
	for mrr.NextResult() {
		t, rerr := mrr.ResultReader().Close()
		if n == 0 {
			tag, err = t.String(), rerr
		}
		n++
	}
	if cerr := mrr.Close(); n == 0 {
		err = cerr
		if err == nil {
			err = errors.New("postgres: no reply to " + verb)
		}
	}
	if err != nil {
		b.abandon(ctx)
		return "", err
	}
	b.c.statsClean = b.c.flushStats && n == 2
	return tag, nil
}

// abandon makes sure a transaction whose COMMIT or ROLLBACK failed is not
// left open on the connection, where the next batch's statements would
// join it (a context cancelled before anything was sent, say): it rolls
// back with a context of its own, and closes the connection if that
// fails too.
func (b *beginTx) abandon(ctx context.Context) {
	pc := b.c.pg.PgConn()
	if pc.IsClosed() || pc.TxStatus() == 'I' {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := b.c.pg.Exec(rctx, "ROLLBACK"); err != nil || pc.TxStatus() != 'I' {
		b.c.pg.Close(rctx)
	}
}
