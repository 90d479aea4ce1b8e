package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"lifebelt/engine"
)

// defaultMaxRows caps the rows a read returns when ExecOptions leaves it 0.
const defaultMaxRows = 1000

// Exec runs one statement of a batch with exact images; see engine.Tx.
// Exec depends on nothing but the statement's text: its tree is the one
// Split made from that same text, when the session still holds it (see
// treeCache), else the text is parsed here.
func (x *pgTx) Exec(ctx context.Context, st engine.Statement, sink engine.Sink, opt engine.ExecOptions) (engine.Result, error) {
	x.stmtFull = false
	n := x.c.trees.take(st.Text)
	if n == nil {
		tree, err := pg_query.Parse(st.Text)
		if err != nil {
			return engine.Result{}, syntaxError(st.Text, err)
		}
		if len(tree.Stmts) != 1 {
			return engine.Result{}, fmt.Errorf("postgres: Exec takes exactly one statement, got %d", len(tree.Stmts))
		}
		n = tree.Stmts[0].Stmt
	}
	if opt.MaxResultRows <= 0 {
		opt.MaxResultRows = defaultMaxRows
	}
	if sink == nil {
		sink = discard{}
	}
	e := &execution{x: x, st: st, sink: sink, opt: opt}
	if !x.c.trackCounts {
		e.warnOnce("the server's track_counts setting is off, so Lifebelt cannot check images against the rows the server changed (rows changed by triggers go unnoticed)")
	}
	if n.GetTransactionStmt() != nil {
		return engine.Result{}, fmt.Errorf("postgres: %s cannot run inside a batch: Lifebelt commits or rolls back the whole batch itself", classify(n, st.Text).Verb)
	}
	switch {
	case n.GetInsertStmt() != nil:
		return e.insert(ctx, n.GetInsertStmt())
	case n.GetUpdateStmt() != nil:
		return e.update(ctx, n.GetUpdateStmt())
	case n.GetDeleteStmt() != nil:
		return e.delete(ctx, n.GetDeleteStmt())
	case n.GetMergeStmt() != nil:
		return e.unguarded(ctx, "MERGE is not imaged")
	}
	c := classify(n, st.Text)
	switch c.Kind {
	case engine.KindRead:
		return e.read(ctx)
	case engine.KindDDL:
		return e.ddl(ctx, n, c)
	case engine.KindDML:
		return e.unguarded(ctx, "its data-modifying WITH query or EXPLAIN ANALYZE is not imaged")
	}
	return e.other(ctx, n, c)
}

// discard is the sink of a caller that passed none.
type discard struct{}

func (discard) Table(engine.TableInfo) (int64, error)                      { return 0, nil }
func (discard) Row(int64, engine.Op, []engine.Value, []engine.Value) error { return nil }
func (discard) Object(engine.ObjectImage) error                            { return nil }
func (discard) Warn(string)                                                {}

// execution is the state of one Exec call.
type execution struct {
	x    *pgTx
	st   engine.Statement
	sink engine.Sink
	opt  engine.ExecOptions
	// handles are the sink's table handles by relation oid and level.
	handles map[[2]uint32]int64
}

func (e *execution) warnOnce(msg string) {
	if e.x.warned == nil {
		e.x.warned = map[string]bool{}
	}
	if !e.x.warned[msg] {
		e.x.warned[msg] = true
		e.sink.Warn(msg)
	}
}

// unguarded refuses the statement, or runs it without images when the
// caller allowed that.
func (e *execution) unguarded(ctx context.Context, reason string) (engine.Result, error) {
	if !e.opt.AllowUnguarded {
		return engine.Result{}, &engine.UnguardedError{Statement: e.st.Text, Reason: reason}
	}
	e.x.settle = true // it may run code that writes (see Settle)
	res, err := e.collect(ctx, e.st.Text)
	res.Unguarded = true
	return res, err
}

// table declares t (at level) to the sink once per Exec.
func (e *execution) table(t *relation, level int) (int64, error) {
	k := [2]uint32{t.oid, uint32(level)}
	if h, ok := e.handles[k]; ok {
		return h, nil
	}
	info := t.info
	info.Level = level
	h, err := e.sink.Table(info)
	if err != nil {
		return 0, fmt.Errorf("postgres: journaling table %s: %w", t.info.QualifiedName(), err)
	}
	if e.handles == nil {
		e.handles = map[[2]uint32]int64{}
	}
	e.handles[k] = h
	return h, nil
}

// step is one statement of a round trip (see send).
type step struct {
	sql string
	// rows sees each row as it arrives; its slices are valid only during
	// the call. Nil ignores rows.
	rows func(fields []pgconn.FieldDescription, row [][]byte) error
	// counts, when set, receives the rows as change counters: the step
	// reads them (countersSQL or localCountersSQL) and its sql is set by
	// send; full says which.
	counts *counts
	full   bool
	tag    pgconn.CommandTag
}

// Kinds of change counter readings, indexes of conn.counters.
const (
	countersLocal = iota
	countersFull
)

// send runs parameterless statements in one round trip with the simple
// query protocol: each text reaches the server exactly as written (no
// client-side placeholder handling), every column arrives in text format,
// and rows stream through without being held. Statements are separated by
// newlines around the semicolon, so a trailing line comment in one cannot
// swallow the next. A failing statement ends the round trip.
//
// Steps that read the change counters (counts set) run one of the
// session's prepared statements of the readings: planning them costs more
// than running them, and a change reads them twice. The first such step of
// a round trip reads every table if the transaction needs it
// (x.fullCounts), the others only the tables the transaction touched; all
// read every table if the statement needs it (x.stmtFull). The
// round trip that first needs a statement prepares it, under a name no
// earlier one had; a DEALLOCATE in a batch (see other) or an error saying
// it is gone has it prepared anew.
func (x *pgTx) send(ctx context.Context, steps ...*step) error {
	var preps []*step
	full := x.fullCounts || x.stmtFull
	for _, s := range steps {
		if s.counts == nil {
			continue
		}
		kind, arg := countersLocal, x.countersArg()
		if full {
			kind, arg, s.full, full = countersFull, "", true, x.stmtFull
		}
		name := x.c.counters[kind]
		if name == "" {
			x.c.countersSeq++
			name = fmt.Sprintf("lifebelt_counters_%d", x.c.countersSeq)
			x.c.counters[kind] = name
			sql := "PREPARE " + name + " AS " + countersSQL
			if kind == countersLocal {
				sql = "PREPARE " + name + "(pg_catalog.oid[]) AS " + localCountersSQL
			}
			preps = append(preps, &step{sql: sql})
		}
		s.sql = "EXECUTE " + name + arg
	}
	var pre []*step
	bt, lazy := x.tx.(*beginTx)
	if lazy {
		pre = bt.beginSteps() // BEGIN goes with the first round trip
	}
	err := x.sendSteps(ctx, append(append(pre, preps...), steps...))
	if lazy {
		bt.began(pre)
	}
	for _, p := range preps {
		if p.tag.String() != "PREPARE" {
			x.c.forgetCounters() // not prepared: the next round trip prepares it
		}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "26000" {
		for _, name := range x.c.counters {
			if name != "" && strings.Contains(pgErr.Message, name) {
				x.c.forgetCounters() // deallocated behind Lifebelt's back: this batch fails, the next prepares it again
			}
		}
	}
	return err
}

// sendSteps is send without the preparation of the counters statement.
func (x *pgTx) sendSteps(ctx context.Context, steps []*step) error {
	x.snapshot = true
	texts := make([]string, len(steps))
	for i, s := range steps {
		texts[i] = s.sql
		if x.trace != nil {
			x.trace(s.sql)
		}
	}
	mrr := x.c.pg.PgConn().Exec(ctx, strings.Join(texts, "\n;\n"))
	var fnErr error
	for i := 0; mrr.NextResult(); i++ {
		rr := mrr.ResultReader()
		var s *step
		if i < len(steps) {
			s = steps[i]
			if s.counts != nil {
				*s.counts = counts{}
			}
		}
		for rr.NextRow() {
			switch {
			case fnErr != nil || s == nil:
			case s.counts != nil:
				fnErr = s.counts.add(rr.Values())
			case s.rows != nil:
				fnErr = s.rows(rr.FieldDescriptions(), rr.Values())
			}
		}
		tag, err := rr.Close()
		if err != nil {
			mrr.Close()
			return err
		}
		if s != nil {
			s.tag = tag
			if s.counts != nil && fnErr == nil {
				x.sawCounts(*s.counts, s.full)
			}
		}
	}
	if err := mrr.Close(); err != nil {
		return err
	}
	return fnErr
}

// stream runs one statement; see send.
func (x *pgTx) stream(ctx context.Context, sql string, fn func(fields []pgconn.FieldDescription, row [][]byte) error) (pgconn.CommandTag, error) {
	s := &step{sql: sql, rows: fn}
	err := x.send(ctx, s)
	return s.tag, err
}

// counted runs a change between two readings of the change counters, in
// one round trip. When before is given (read earlier, before a capture
// that must precede the change) only the reading after is added.
func (x *pgTx) counted(ctx context.Context, change *step, before counts) (counts, counts, error) {
	if !x.c.trackCounts {
		return counts{}, counts{}, x.send(ctx, append([]*step{change}, x.txidStep()...)...)
	}
	var after counts
	steps := []*step{change, {counts: &after}}
	if before == nil {
		steps = append([]*step{{counts: &before}}, steps...)
	}
	err := x.send(ctx, append(steps, x.txidStep()...)...)
	return before, after, err
}

// txidStep reads the transaction id once a change has assigned one, in the
// change's own round trip, so that TxID needs none.
func (x *pgTx) txidStep() []*step {
	if x.txid != "" {
		return nil
	}
	return []*step{{sql: "SELECT txid_current_if_assigned()::text", rows: func(_ []pgconn.FieldDescription, row [][]byte) error {
		if len(row) == 1 && row[0] != nil {
			x.txid = string(row[0])
		}
		return nil
	}}}
}

// collector gathers a statement's columns and first rows into res.
func (e *execution) collector(res *engine.Result) func([]pgconn.FieldDescription, [][]byte) error {
	return func(fields []pgconn.FieldDescription, row [][]byte) error {
		if res.Columns == nil {
			res.Columns = make([]string, len(fields))
			for i, f := range fields {
				res.Columns[i] = f.Name
			}
		}
		if len(res.Rows) >= e.opt.MaxResultRows {
			res.Truncated = true
			return nil
		}
		res.Rows = append(res.Rows, rawToValues(row, nil))
		return nil
	}
}

// collect runs the statement as written and returns its first rows.
func (e *execution) collect(ctx context.Context, sql string) (engine.Result, error) {
	var res engine.Result
	tag, err := e.x.stream(ctx, sql, e.collector(&res))
	if err != nil {
		return engine.Result{}, e.x.c.wrap("running "+e.st.Verb, err)
	}
	res.RowsAffected = tag.RowsAffected()
	return res, nil
}

// read runs a read inside a savepoint between two readings of the
// transaction's per-table change counters (all in one round trip): a
// SELECT can call a function that writes, and such a change would go
// unimaged. Counters that moved on a table the first reading did not cover
// may be older counts that reading did not see (see localCountersSQL): the
// read is then rolled back and runs once more, after a full reading.
func (e *execution) read(ctx context.Context) (engine.Result, error) {
	for attempt := 0; ; attempt++ {
		res, again, err := e.readOnce(ctx, attempt == 0)
		if !again {
			return res, err
		}
	}
}

func (e *execution) readOnce(ctx context.Context, mayRetry bool) (engine.Result, bool, error) {
	e.x.seq++
	sp := fmt.Sprintf("lifebelt_sp_%d", e.x.seq)
	var res engine.Result
	var before, after counts
	user := &step{sql: e.st.Text, rows: e.collector(&res)}
	steps := []*step{{sql: "SAVEPOINT " + sp}, user}
	if e.x.c.trackCounts {
		steps = []*step{steps[0], {counts: &before}, user, {counts: &after}}
	}
	if err := e.x.send(ctx, steps...); err != nil {
		err = e.x.c.wrap("running "+e.st.Verb, err)
		if steps[0].tag.String() == "SAVEPOINT" {
			// Keep the batch's transaction usable after a failed read.
			if rbErr := e.x.rollbackTo(ctx, sp); rbErr != nil {
				return engine.Result{}, false, errors.Join(err, rbErr)
			}
		}
		return engine.Result{}, false, err
	}
	res.RowsAffected = user.tag.RowsAffected()
	if moved := after.minus(before); len(moved) > 0 {
		uncovered := false
		for oid := range moved {
			uncovered = uncovered || !before.covered(oid)
		}
		if uncovered && mayRetry {
			return engine.Result{}, true, e.x.rollbackTo(ctx, sp) // which makes the next reading a full one
		}
		if !e.opt.AllowUnguarded {
			if err := e.x.rollbackTo(ctx, sp); err != nil {
				return engine.Result{}, false, err
			}
			return engine.Result{}, false, &engine.UnguardedError{Statement: e.st.Text, Reason: "this query changed data (a function with side effects?)"}
		}
		res.Unguarded = true
		e.x.settle = true // see Settle
	}
	return res, false, e.x.release(ctx, sp)
}

// other handles statements that are neither reads, DML nor DDL.
func (e *execution) other(ctx context.Context, n *pg_query.Node, c engine.Statement) (engine.Result, error) {
	switch {
	case n.GetVariableSetStmt() != nil:
		s := n.GetVariableSetStmt()
		if s.Kind == pg_query.VariableSetKind_VAR_RESET_ALL {
			return engine.Result{}, fmt.Errorf("postgres: RESET ALL would undo the session settings Lifebelt's images rely on (DateStyle, TimeZone, ...); reset single settings instead")
		}
		if pinnedSetting(s.Name) {
			return engine.Result{}, fmt.Errorf("postgres: %s cannot be changed in a Lifebelt session: images rely on its value", s.Name)
		}
		return e.collect(ctx, e.st.Text)
	case n.GetLockStmt() != nil, n.GetListenStmt() != nil, n.GetUnlistenStmt() != nil,
		n.GetNotifyStmt() != nil, n.GetPrepareStmt() != nil, n.GetDeallocateStmt() != nil,
		n.GetClosePortalStmt() != nil, n.GetCheckPointStmt() != nil:
		// These change no rows or definitions.
		if n.GetDeallocateStmt() != nil {
			e.x.c.forgetCounters() // it may remove Lifebelt's prepared statements (see send)
		}
		return e.collect(ctx, e.st.Text)
	}
	if names, ok := grantTables(n.GetGrantStmt()); ok {
		return e.grant(ctx, names)
	}
	reason := c.Verb + " is not imaged"
	switch {
	case n.GetVacuumStmt() != nil, n.GetAlterSystemStmt() != nil:
		reason = c.Verb + " cannot run inside a transaction and is not imaged"
	case n.GetDoStmt() != nil, n.GetCallStmt() != nil, n.GetExecuteStmt() != nil:
		reason = c.Verb + " runs code whose changes Lifebelt cannot see in advance"
	case n.GetCopyStmt() != nil:
		reason = "COPY is not imaged"
	case n.GetGrantStmt() != nil, n.GetGrantRoleStmt() != nil:
		reason = "privilege changes are not imaged"
	}
	return e.unguarded(ctx, reason)
}

// pinnedSetting reports the settings whose value images depend on.
func pinnedSetting(name string) bool {
	switch strings.ToLower(name) {
	case "datestyle", "intervalstyle", "extra_float_digits", "bytea_output", "timezone",
		"client_encoding", "lc_monetary", "transaction_isolation", "transaction_read_only",
		"standard_conforming_strings", "session_replication_role", "transaction":
		return true
	}
	return false
}

func (x *pgTx) savepoint(ctx context.Context) (string, error) {
	x.seq++
	name := fmt.Sprintf("lifebelt_sp_%d", x.seq)
	if _, err := x.tx.Exec(ctx, "SAVEPOINT "+name); err != nil {
		return "", x.c.wrap("setting a savepoint", err)
	}
	return name, nil
}

// rollbackTo rolls back to a savepoint. The next reading of the change
// counters covers every table: the locks taken since the savepoint are
// gone, the counts of what changed in it are not.
func (x *pgTx) rollbackTo(ctx context.Context, sp string) error {
	x.fullCounts = true
	if _, err := x.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT "+sp); err != nil {
		return x.c.wrap("rolling back to a savepoint", err)
	}
	return x.release(ctx, sp)
}

func (x *pgTx) release(ctx context.Context, sp string) error {
	if _, err := x.tx.Exec(ctx, "RELEASE SAVEPOINT "+sp); err != nil {
		return x.c.wrap("releasing a savepoint", err)
	}
	return nil
}
