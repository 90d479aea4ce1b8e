package postgres

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"lifebelt/engine"
)

// counts are the transaction's change counters per relation: rows
// inserted, updated and deleted so far (including rolled-back
// subtransactions; only differences matter).
type counts map[uint32][3]int64

// The change counters are read in one of two ways.
//
// countersSQL reads every table of the database. Its cost grows with the
// number of tables (about 8 ms with 3,000 of them), so it runs only when
// the transaction's counters may hold counts Lifebelt has not seen (see
// pgTx.fullCounts). It calls the functions behind pg_stat_xact_user_tables
// directly: the view computes every column for every table and costs
// several times more. Toast tables and catalogs are left out, as there.
//
// localCountersSQL reads only the tables the transaction has touched (any
// relation lock it holds: a change takes at least ROW EXCLUSIVE, held until
// the transaction ends) and the tables in $1 (those whose counters were
// seen moving, whose locks a rolled-back savepoint may have released, and
// the tables the statement is expected to change). A table in neither has
// not changed since the transaction's counters were last known, provided
// they started at zero: pg_stat_get_xact_* also report counts of earlier
// transactions of the same connection that the server has not yet flushed
// to its shared statistics. On PostgreSQL 15 and later each transaction
// therefore asks for a flush when it ends (pg_stat_force_next_flush, in
// the round trip of COMMIT or ROLLBACK), and the next one starts at zero;
// elsewhere the first reading of each transaction is a full one.
//
// A local reading returns a row for every table it covers, zero or not,
// so that a table it did not cover can be told apart (counts.covered).
// Code running inside a statement can roll back a subtransaction of its
// own (a PL/pgSQL exception block) and so leave counts on a table it no
// longer locks. Hence: both readings of a statement on a table with
// triggers or rules cover every table (expectChanges); a read whose
// counters moved on a table its first reading did not cover runs again
// after a full one; and any other change that moved such a table makes
// the next reading a full one.
const countersSQL = `SELECT c.oid, c.i, c.u, c.d FROM (
	SELECT c.oid, pg_catalog.pg_stat_get_xact_tuples_inserted(c.oid) AS i,
		pg_catalog.pg_stat_get_xact_tuples_updated(c.oid) AS u,
		pg_catalog.pg_stat_get_xact_tuples_deleted(c.oid) AS d
	FROM pg_catalog.pg_class c
	WHERE c.relkind IN ('r', 'm', 'p') AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)) c
WHERE c.i + c.u + c.d > 0`

const localCountersSQL = `SELECT c.oid, c.i, c.u, c.d FROM (
	SELECT c.oid, pg_catalog.pg_stat_get_xact_tuples_inserted(c.oid) AS i,
		pg_catalog.pg_stat_get_xact_tuples_updated(c.oid) AS u,
		pg_catalog.pg_stat_get_xact_tuples_deleted(c.oid) AS d
	FROM pg_catalog.pg_class c
	WHERE c.oid IN (SELECT l.relation FROM pg_catalog.pg_locks l
			WHERE l.locktype = 'relation' AND l.pid = pg_catalog.pg_backend_pid()
				AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
			UNION ALL SELECT pg_catalog.unnest($1::pg_catalog.oid[]))
		AND c.relkind IN ('r', 'm', 'p') AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)) c`

// counters reads the counters in a round trip of their own.
func (x *pgTx) counters(ctx context.Context) (counts, error) {
	var c counts
	if !x.c.trackCounts {
		return counts{}, nil
	}
	if err := x.send(ctx, &step{sql: countersSQL, counts: &c}); err != nil {
		return nil, x.c.wrap("reading change counters", err)
	}
	return c, nil
}

// expectChanges adds the tables a statement is expected to change to every
// later reading of the transaction's counters, locked or not. When one of
// them has user triggers or rules, whose code may write to any table
// (and, in an exception block, roll back what it wrote, leaving counts on
// tables it no longer locks), both of the statement's readings cover
// every table.
func (x *pgTx) expectChanges(rels ...*relation) {
	if x.watched == nil {
		x.watched = map[uint32]bool{}
	}
	if x.imaged == nil {
		x.imaged = map[uint32]bool{}
	}
	for _, r := range rels {
		for _, m := range r.members {
			x.watched[m] = true
			x.imaged[m] = true
		}
		if r.triggers || r.hasRules {
			x.stmtFull, x.settle = true, true
		}
	}
}

// countersArg is the array of watched tables, as countersLocalSQL's
// argument in an EXECUTE.
func (x *pgTx) countersArg() string {
	oids := make([]uint32, 0, len(x.watched))
	for oid := range x.watched {
		oids = append(oids, oid)
	}
	sort.Slice(oids, func(i, j int) bool { return oids[i] < oids[j] })
	var b strings.Builder
	b.WriteString("('{")
	for i, oid := range oids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(oid), 10))
	}
	b.WriteString("}')")
	return b.String()
}

// sawCounts notes a reading: every table whose counters moved is watched
// from now on (a rolled-back savepoint releases the locks taken in it but
// keeps its counts), and after a full reading the local ones suffice.
func (x *pgTx) sawCounts(c counts, full bool) {
	if x.watched == nil {
		x.watched = map[uint32]bool{}
	}
	for oid := range c {
		if oid != fullMark {
			x.watched[oid] = true
		}
	}
	if full {
		c[fullMark] = [3]int64{}
		x.fullCounts = false
	}
}

// fullMark is the key a full reading holds besides its tables (the
// invalid oid, never a table's). A local reading holds a row, zero or not,
// for every table it covered: a table missing from one has a baseline
// that reading did not see.
const fullMark = 0

// covered reports whether a reading saw oid's counters.
func (c counts) covered(oid uint32) bool {
	_, full := c[fullMark]
	_, ok := c[oid]
	return full || ok
}

// forgetCounters has the counter statements prepared anew.
func (c *conn) forgetCounters() { c.counters = [2]string{} }

// addCounter parses one row of countersSQL.
func (c counts) add(row [][]byte) error {
	if len(row) != 4 {
		return fmt.Errorf("postgres: unexpected change counter row")
	}
	oid, err := strconv.ParseUint(string(row[0]), 10, 32)
	if err != nil {
		return fmt.Errorf("postgres: unexpected change counter row: %w", err)
	}
	var v [3]int64
	for i := range v {
		if v[i], err = strconv.ParseInt(string(row[i+1]), 10, 64); err != nil {
			return fmt.Errorf("postgres: unexpected change counter row: %w", err)
		}
	}
	c[uint32(oid)] = v
	return nil
}

// minus returns the counters that moved since before.
func (a counts) minus(before counts) counts {
	d := counts{}
	for oid, c := range a {
		b := before[oid]
		if oid != fullMark && c != b {
			d[oid] = [3]int64{c[0] - b[0], c[1] - b[1], c[2] - b[2]}
		}
	}
	return d
}

// expect is what a statement's images say it changed in one table.
type expect struct {
	rel           *relation
	ins, upd, del int64
	// byKind compares inserts and updates separately (an upsert); else
	// only the total is compared (an update moving a row to another
	// partition counts as a delete and an insert there).
	byKind bool
}

// verify checks the images against the server's own counters: every table
// the images cover must have changed by exactly as many rows as were
// imaged, or the batch stops. Tables changed that were not imaged (by
// triggers, say) are reported in a warning.
func (e *execution) verify(ctx context.Context, before, after counts, want []*expect, target *relation, event string) error {
	if !e.x.c.trackCounts {
		return nil
	}
	delta := after.minus(before)
	owner := map[uint32]int{}
	for i, w := range want {
		for _, m := range w.rel.members {
			owner[m] = i
		}
	}
	got := make([][3]int64, len(want))
	unimaged := map[uint32]int64{}
	for oid, d := range delta {
		i, ok := owner[oid]
		if !ok {
			unimaged[oid] = d[0] + d[1] + d[2]
			if !before.covered(oid) {
				// Its count before is unknown, taken as zero: the next
				// reading re-reads every table.
				e.x.fullCounts = true
			}
			continue
		}
		for k := range d {
			got[i][k] += d[k]
		}
	}
	for i, w := range want {
		g := got[i]
		exact := g[0]+g[1]+g[2] == w.ins+w.upd+w.del
		if w.byKind {
			exact = g[0] == w.ins && g[1] == w.upd && g[2] == w.del
		}
		if !exact {
			return fmt.Errorf("postgres: the statement changed %d rows of %s but %d were imaged (a trigger or rule changing %s itself?); stopping the batch because its images would not be exact",
				g[0]+g[1]+g[2], w.rel.info.QualifiedName(), w.ins+w.upd+w.del, w.rel.info.QualifiedName())
		}
	}
	if len(unimaged) == 0 {
		return nil
	}
	e.x.settle = true // code that writes ran (see Settle)
	return e.warnUnimaged(ctx, unimaged, target, event)
}

// rowsIn names counts of rows per table: the total, and "N in TABLE, ...".
func (x *pgTx) rowsIn(ctx context.Context, rows map[uint32]int64) (int64, string, error) {
	var parts []string
	var total int64
	for oid, n := range rows {
		schema, name, _, err := relationName(ctx, x.tx, oid)
		if err != nil {
			return 0, "", err
		}
		total += n
		parts = append(parts, fmt.Sprintf("%d in %s", n, quoteQualified(schema, name)))
	}
	sort.Strings(parts)
	return total, strings.Join(parts, ", "), nil
}

func (e *execution) warnUnimaged(ctx context.Context, unimaged map[uint32]int64, target *relation, event string) error {
	total, parts, err := e.x.rowsIn(ctx, unimaged)
	if err != nil {
		return err
	}
	var trigs []string
	if target != nil {
		var err error
		if trigs, err = userTriggers(ctx, e.x.tx, target.oid, event); err != nil {
			return err
		}
	}
	rowsText := fmt.Sprintf("changed %d rows (%s)", total, parts)
	if len(trigs) > 0 {
		e.sink.Warn(fmt.Sprintf("trigger(s) %s on %s %s; those rows are not imaged and undo will not restore them",
			strings.Join(trigs, ", "), target.info.QualifiedName(), rowsText))
		return nil
	}
	e.sink.Warn(fmt.Sprintf("something other than the statement itself (a trigger or rule on another table it changed?) %s; those rows are not imaged and undo will not restore them", rowsText))
	return nil
}

// Settle implements engine.Settler. Once code of the user's may have run in
// the batch (a table with triggers or rules was changed, a statement
// changed tables it did not image, a read wrote, an unguarded statement
// ran), it fires the deferred constraint triggers and checks now, as
// COMMIT would (SET CONSTRAINTS ALL IMMEDIATE: no statement of the batch
// follows), between two readings of every table's change counters.
// Deferred triggers that changed rows of an imaged table fail the batch;
// rows they changed elsewhere are reported in a warning.
func (x *pgTx) Settle(ctx context.Context, sink engine.Sink) error {
	if !x.settle || !x.c.trackCounts {
		return nil
	}
	x.stmtFull = true
	defer func() { x.stmtFull = false }()
	before, after, err := x.counted(ctx, &step{sql: "SET CONSTRAINTS ALL IMMEDIATE"}, nil)
	if err != nil {
		return x.c.wrap("running the deferred constraint checks and triggers", err)
	}
	imaged, other := map[uint32]int64{}, map[uint32]int64{}
	for oid, d := range after.minus(before) {
		if x.imaged[oid] {
			imaged[oid] = d[0] + d[1] + d[2]
		} else {
			other[oid] = d[0] + d[1] + d[2]
		}
	}
	if len(imaged) > 0 {
		_, parts, err := x.rowsIn(ctx, imaged)
		if err != nil {
			return err
		}
		return fmt.Errorf("postgres: deferred triggers changed rows the batch had imaged (%s) at its end; stopping the batch because its images would not be exact", parts)
	}
	if len(other) > 0 {
		total, parts, err := x.rowsIn(ctx, other)
		if err != nil {
			return err
		}
		sink.Warn(fmt.Sprintf("deferred triggers changed %d rows (%s) at the end of the batch; those rows are not imaged and undo will not restore them", total, parts))
	}
	return nil
}
