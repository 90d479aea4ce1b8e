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

// DROP TABLE and TRUNCATE remove rows that no snapshot protects: a row
// another session committed after this transaction's snapshot is invisible
// to the capture yet gone afterwards. So the tables are locked before their
// rows are read.
//
// If the transaction has no snapshot yet, the lock comes first and the
// snapshot then sees every committed row: exact by construction.
// Otherwise the tables are locked in EXCLUSIVE mode (no writers; readers
// still allowed) and a short-lived second connection, whose fresh snapshot
// sees everything committed, checks that no other session wrote to them
// since this transaction's snapshot:
//
//   - no row version is newer than the snapshot, unless this transaction
//     made it (then it is uncommitted and the second connection does not
//     see it), and
//   - every row version the capture read that predates the snapshot is
//     still there.
//
// If either fails the batch stops with ErrConcurrentChange.

// lockTables locks the named tables (and their partitions and children)
// and returns the check to run after their rows are read, or nil when the
// lock preceded the snapshot. With missingOK an absent table is skipped.
func (e *execution) lockTables(ctx context.Context, names []engine.Name, missingOK bool) (*snapCheck, error) {
	mode := "ACCESS EXCLUSIVE"
	var chk *snapCheck
	if e.x.snapshot {
		mode = "EXCLUSIVE"
		chk = &snapCheck{}
	}
	lock := func(ns []engine.Name) error {
		q := make([]string, len(ns))
		for i, n := range ns {
			q[i] = quoteQualified(n.Schema, n.Name)
		}
		_, err := e.x.tx.Exec(ctx, fmt.Sprintf("LOCK TABLE %s IN %s MODE", strings.Join(q, ", "), mode))
		return err
	}
	if !missingOK {
		if err := lock(names); err != nil {
			return nil, e.x.c.wrap("locking "+names[0].String(), err)
		}
	} else {
		// LOCK TABLE has no IF EXISTS: try each table in a savepoint (which
		// takes no snapshot either).
		for _, n := range names {
			sp, err := e.x.savepoint(ctx)
			if err != nil {
				return nil, err
			}
			if err := lock([]engine.Name{n}); err != nil {
				var pgErr *pgconn.PgError
				if !errors.As(err, &pgErr) || (pgErr.Code != "42P01" && pgErr.Code != "3F000") {
					return nil, e.x.c.wrap("locking "+n.String(), err)
				}
				if err := e.x.rollbackTo(ctx, sp); err != nil {
					return nil, err
				}
				continue
			}
			if err := e.x.release(ctx, sp); err != nil {
				return nil, err
			}
		}
	}
	e.x.snapshot = true
	if chk != nil {
		var snap string
		if err := e.x.tx.QueryRow(ctx, "SELECT pg_catalog.pg_current_snapshot()::text").Scan(&snap); err != nil {
			return nil, e.x.c.wrap("reading the transaction's snapshot", err)
		}
		if err := chk.parse(snap); err != nil {
			return nil, err
		}
	}
	return chk, nil
}

// snapCheck verifies that no other session wrote to the locked tables
// after the transaction's snapshot.
type snapCheck struct {
	xmin, xmax uint32 // the snapshot's bounds, as 32-bit xids
	xip        map[uint32]bool
	tables     []*checkTable
}

// checkTable is one table's part of the check: the row versions the capture
// read that predate the snapshot, by tableoid.
type checkTable struct {
	chk *snapCheck
	rel *relation
	old map[string][]string
}

// parse reads pg_current_snapshot() output: "xmin:xmax:xip,xip,...".
func (s *snapCheck) parse(text string) error {
	parts := strings.Split(text, ":")
	if len(parts) != 3 {
		return fmt.Errorf("postgres: unexpected snapshot %q", text)
	}
	xid := func(p string) (uint32, error) {
		v, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("postgres: unexpected snapshot %q", text)
		}
		return uint32(v), nil // the low 32 bits are what tuples carry
	}
	var err error
	if s.xmin, err = xid(parts[0]); err != nil {
		return err
	}
	if s.xmax, err = xid(parts[1]); err != nil {
		return err
	}
	s.xip = map[uint32]bool{}
	if parts[2] != "" {
		for _, p := range strings.Split(parts[2], ",") {
			v, err := xid(p)
			if err != nil {
				return err
			}
			s.xip[v] = true
		}
	}
	return nil
}

// precedes compares 32-bit xids modulo 2^32, as the server does.
func precedes(a, b uint32) bool { return int32(a-b) < 0 }

// visible reports whether a row version created by xid is in the snapshot.
// Versions this transaction created are not (its xids are in progress or
// newer), which is what the check needs: those are not other sessions'.
func (s *snapCheck) visible(xid uint32) bool {
	switch {
	case xid < 3: // invalid, bootstrap and frozen xids
		return true
	case precedes(xid, s.xmin):
		return true
	case !precedes(xid, s.xmax):
		return false
	}
	return !s.xip[xid]
}

func (s *snapCheck) add(rel *relation) *checkTable {
	t := &checkTable{chk: s, rel: rel, old: map[string][]string{}}
	s.tables = append(s.tables, t)
	return t
}

func (t *checkTable) note(toid, ctid, xmin string) {
	x, err := strconv.ParseUint(xmin, 10, 32)
	if err != nil || !t.chk.visible(uint32(x)) {
		return // made by this transaction
	}
	t.old[toid] = append(t.old[toid], ctid)
}

// checkConcurrent runs the check on a second connection.
func (e *execution) checkConcurrent(ctx context.Context, chk *snapCheck) error {
	if chk == nil || len(chk.tables) == 0 {
		return nil
	}
	c2, err := pgx.ConnectConfig(ctx, e.x.c.cfg)
	if err != nil {
		return fmt.Errorf("postgres: opening a second connection to check for concurrent changes: %s", connectReason(err))
	}
	defer c2.Close(context.Background())
	// An earlier statement of this batch may hold a lock that keeps the
	// second connection from reading the table (ALTER TABLE ... RENAME
	// takes ACCESS EXCLUSIVE until the batch ends): waiting would never end.
	if _, err := c2.Exec(ctx, "SET lock_timeout = '5s'"); err != nil {
		return fmt.Errorf("postgres: preparing the check for concurrent changes: %w", err)
	}
	changed := func(rel *relation) error {
		return &concurrentError{sentinel: ErrConcurrentChange,
			cause: fmt.Errorf("postgres: another session changed %s after this batch's snapshot", rel.info.QualifiedName())}
	}
	for _, t := range chk.tables {
		// The second connection sees the table as last committed: by the
		// name it had then, or not at all when this transaction created it
		// (then no other session can have written to it).
		var name *string
		if err := c2.QueryRow(ctx, `SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c
			JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1`, t.rel.oid).Scan(&name); errors.Is(err, pgx.ErrNoRows) {
			continue
		} else if err != nil || name == nil {
			return fmt.Errorf("postgres: checking %s for concurrent changes: %v", t.rel.info.QualifiedName(), err)
		}
		scan := *name
		if t.rel.relkind != 'p' {
			scan = "ONLY " + scan
		}
		// Versions at least as new as the snapshot's xmin; age() measures
		// from the next xid, so a smaller age is newer.
		rows, err := c2.Query(ctx, fmt.Sprintf("SELECT x.xmin::text FROM %s AS x WHERE pg_catalog.age(x.xmin) <= pg_catalog.age($1::text::xid)", scan),
			strconv.FormatUint(uint64(chk.xmin), 10))
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55P03" {
			return fmt.Errorf("postgres: %s cannot be checked for changes other sessions made during this batch, because an earlier statement of the batch locked it against reading; run this statement in a batch of its own", t.rel.info.QualifiedName())
		}
		if err != nil {
			return fmt.Errorf("postgres: checking %s for concurrent changes: %w", t.rel.info.QualifiedName(), err)
		}
		newer, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("postgres: checking %s for concurrent changes: %w", t.rel.info.QualifiedName(), err)
		}
		for _, x := range newer {
			v, err := strconv.ParseUint(x, 10, 32)
			if err == nil && !chk.visible(uint32(v)) {
				return changed(t.rel)
			}
		}
		for toid, ctids := range t.old {
			var n int
			err := c2.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s AS x WHERE x.tableoid = $1::oid AND x.ctid = ANY($2::text[]::tid[])", scan),
				toid, ctids).Scan(&n)
			if err != nil {
				return fmt.Errorf("postgres: checking %s for concurrent changes: %w", t.rel.info.QualifiedName(), err)
			}
			if n != len(ctids) {
				return changed(t.rel)
			}
		}
	}
	return nil
}
