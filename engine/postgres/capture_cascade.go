package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"lifebelt/engine"
)

// Foreign-key actions change rows RETURNING does not show. Before the
// statement runs, capture selects the rows each action will change (the
// children of the rows the statement deletes or re-keys, level by level)
// from the same REPEATABLE READ snapshot the statement uses. Afterwards it
// checks that exactly those rows changed: the server's change counters must
// match the images and every imaged row version must be gone. A
// non-deterministic WHERE (random(), say) therefore cannot produce wrong
// images, only a stopped batch.

// maxCascadeLevels bounds the depth of cascaded deletes capture follows.
const maxCascadeLevels = 64

// fkEdge is a foreign key whose action changes child rows.
type fkEdge struct {
	fk     fkChild
	parent *relation
	child  *relation
	op     engine.Op // OpDelete: ON DELETE CASCADE; OpUpdate: SET NULL/DEFAULT, ON UPDATE CASCADE
}

// cascade is the capture of one statement's foreign-key actions.
type cascade struct {
	e      *execution
	target *relation
	names  helperNames
	edges  map[uint32][]fkEdge // by parent oid
	// exclude, when set, selects (tableoid, ctid) of the statement's own
	// rows, which a self-referencing action must not image twice.
	exclude string
	seen    map[uint32]map[string]bool // imaged row versions per table: "tableoid/ctid"
	counts  map[uint32]int64           // rows imaged per table
	rels    map[uint32]*relation
	pending map[uint32][]pendingUpdate // rows awaiting after-images, per table
}

type pendingUpdate struct {
	level  int
	before []engine.Value
}

// planDelete finds the foreign keys whose ON DELETE action the deletion of
// target rows can fire, following cascades. It returns a reason when an
// action cannot be imaged exactly; then nothing may run.
func (e *execution) planDelete(ctx context.Context, target *relation) (*cascade, string, error) {
	c := &cascade{e: e, target: target, edges: map[uint32][]fkEdge{}, rels: map[uint32]*relation{}}
	visited := map[uint32]bool{}
	var walk func(p *relation) (string, error)
	walk = func(p *relation) (string, error) {
		if visited[p.oid] {
			return "", nil
		}
		visited[p.oid] = true
		for _, fk := range p.fks {
			var op engine.Op
			switch fk.OnDelete {
			case 'c':
				op = engine.OpDelete
			case 'n', 'd':
				op = engine.OpUpdate
			default:
				continue // NO ACTION / RESTRICT: the statement fails instead
			}
			child, err := e.x.relation(ctx, fk.Child)
			if err != nil {
				return "", err
			}
			if why, err := e.checkEdge(ctx, fk, child, op); why != "" || err != nil {
				return why, err
			}
			c.edges[p.oid] = append(c.edges[p.oid], fkEdge{fk: fk, parent: p, child: child, op: op})
			c.rels[child.oid] = child
			if op == engine.OpDelete {
				if why, err := walk(child); why != "" || err != nil {
					return why, err
				}
			}
		}
		return "", nil
	}
	why, err := walk(target)
	return c, why, err
}

// planUpdate finds the foreign keys whose ON UPDATE action fires when the
// statement changes the referenced columns in cols.
func (e *execution) planUpdate(ctx context.Context, target *relation, cols map[string]bool) (*cascade, string, error) {
	c := &cascade{e: e, target: target, edges: map[uint32][]fkEdge{}, rels: map[uint32]*relation{}}
	for _, fk := range target.fks {
		if fk.OnUpdate != 'c' && fk.OnUpdate != 'n' && fk.OnUpdate != 'd' || !anyIn(fk.ParentCols, cols) {
			continue
		}
		child, err := e.x.relation(ctx, fk.Child)
		if err != nil {
			return nil, "", err
		}
		if child.oid == target.oid {
			return nil, fmt.Sprintf("the foreign key on %s references the table itself with an ON UPDATE action", child.info.QualifiedName()), nil
		}
		if why, err := e.checkEdge(ctx, fk, child, engine.OpUpdate); why != "" || err != nil {
			return nil, why, err
		}
		c.edges[target.oid] = append(c.edges[target.oid], fkEdge{fk: fk, parent: target, child: child, op: engine.OpUpdate})
		c.rels[child.oid] = child
	}
	return c, "", nil
}

// checkEdge returns why rows changed through fk cannot be imaged exactly.
func (e *execution) checkEdge(ctx context.Context, fk fkChild, child *relation, op engine.Op) (string, error) {
	name := child.info.QualifiedName()
	if child.hasRules {
		return fmt.Sprintf("foreign-key actions change %s, which has rewrite rules", name), nil
	}
	if op == engine.OpDelete {
		return "", nil
	}
	// The action rewrites the foreign-key columns; the row is found again
	// afterwards by its key, which must not be among them.
	if child.info.KeyKind == engine.KeyRow {
		return fmt.Sprintf("a foreign-key action updates rows of %s, which has no primary key or NOT NULL unique key to find them again", name), nil
	}
	fkCols := map[string]bool{}
	for _, col := range fk.ChildCols {
		fkCols[col] = true
	}
	for _, k := range child.info.Key {
		if fkCols[child.info.Columns[k].Name] {
			return fmt.Sprintf("a foreign-key action changes key columns of %s", name), nil
		}
	}
	for _, g := range child.fks {
		if (g.OnUpdate == 'c' || g.OnUpdate == 'n' || g.OnUpdate == 'd') && anyIn(g.ParentCols, fkCols) {
			return fmt.Sprintf("foreign-key actions on %s cascade further", name), nil
		}
	}
	return "", nil
}

func anyIn(cols []string, set map[string]bool) bool {
	for _, c := range cols {
		if set[c] {
			return true
		}
	}
	return false
}

func (c *cascade) empty() bool { return len(c.edges) == 0 }

// capture images the rows the actions will change. src returns the query
// selecting (tableoid, ctid, row) of the target rows whose children an
// edge's action reaches. Deleted rows are streamed to the sink; updated
// rows wait for their after-images (see finish).
func (c *cascade) capture(ctx context.Context, src func(fkEdge) (string, error)) error {
	c.seen, c.counts, c.pending = map[uint32]map[string]bool{}, map[uint32]int64{}, map[uint32][]pendingUpdate{}
	type frontier struct {
		rel   *relation
		sql   string // nil for the target: then src supplies it per edge
		level int
	}
	queue := []frontier{{rel: c.target}}
	for len(queue) > 0 {
		f := queue[0]
		queue = queue[1:]
		if f.level >= maxCascadeLevels {
			return fmt.Errorf("postgres: foreign-key cascades from %s go deeper than %d levels; Lifebelt does not image them", c.target.info.QualifiedName(), maxCascadeLevels)
		}
		for _, edge := range c.edges[f.rel.oid] {
			parentSQL := f.sql
			if f.level == 0 {
				var err error
				if parentSQL, err = src(edge); err != nil {
					return err
				}
			}
			q := c.childQuery(edge, parentSQL)
			n, err := c.captureEdge(ctx, edge, q, f.level+1)
			if err != nil {
				return err
			}
			if edge.op == engine.OpDelete && n > 0 {
				queue = append(queue, frontier{rel: edge.child, sql: q, level: f.level + 1})
			}
		}
	}
	return nil
}

// childQuery selects (tableoid, ctid, row) of the child rows referencing
// the parent rows parentSQL selects.
func (c *cascade) childQuery(edge fkEdge, parentSQL string) string {
	ca, pa, za := quoteIdent(c.names.name("c")), quoteIdent(c.names.name("p")), quoteIdent(c.names.name("z"))
	toid, ctid := quoteIdent(c.names.name("toid")), quoteIdent(c.names.name("ctid"))
	q := fmt.Sprintf("SELECT %[1]s.tableoid AS %[2]s, %[1]s.ctid AS %[3]s, %[1]s.* FROM %[4]s AS %[1]s WHERE (%[5]s) IN (SELECT %[6]s FROM (%[7]s) AS %[8]s)",
		ca, toid, ctid, edge.child.scan(), columnList(ca, edge.fk.ChildCols), columnList(pa, edge.fk.ParentCols), parentSQL, pa)
	if c.exclude != "" && edge.child.oid == c.target.oid {
		q += fmt.Sprintf(" AND (%[1]s.tableoid, %[1]s.ctid) NOT IN (SELECT %[2]s.%[3]s, %[2]s.%[4]s FROM (%[5]s) AS %[2]s)", ca, za, toid, ctid, c.exclude)
	}
	return q
}

func (c *cascade) captureEdge(ctx context.Context, edge fkEdge, q string, level int) (int64, error) {
	child := edge.child
	h, err := c.e.table(child, level)
	if err != nil {
		return 0, err
	}
	seen := c.seen[child.oid]
	if seen == nil {
		seen = map[string]bool{}
		c.seen[child.oid] = seen
	}
	var n int64
	var vals []engine.Value
	_, err = c.e.x.stream(ctx, q, func(_ []pgconn.FieldDescription, row [][]byte) error {
		if len(row) != 2+len(child.info.Columns) {
			return fmt.Errorf("postgres: capturing rows of %s: expected %d columns, got %d", child.info.QualifiedName(), len(child.info.Columns), len(row)-2)
		}
		id := string(row[0]) + "/" + string(row[1])
		if seen[id] {
			return nil
		}
		seen[id] = true
		n++
		if edge.op == engine.OpUpdate {
			c.pending[child.oid] = append(c.pending[child.oid], pendingUpdate{level: level, before: rawToValues(row[2:], nil)})
			return nil
		}
		vals = rawToValues(row[2:], vals)
		return c.e.sink.Row(h, engine.OpDelete, vals, nil)
	})
	if err != nil {
		return 0, c.e.x.c.wrap("capturing rows of "+child.info.QualifiedName()+" that foreign-key actions change", err)
	}
	c.counts[child.oid] += n
	return n, nil
}

// expects adds the imaged cascade rows to want, merging a table the
// statement itself changes.
func (c *cascade) expects(want []*expect) []*expect {
	for oid, n := range c.counts {
		if n == 0 {
			continue
		}
		var w *expect
		for _, x := range want {
			if x.rel.oid == oid {
				w = x
			}
		}
		if w == nil {
			w = &expect{rel: c.rels[oid]}
			want = append(want, w)
		}
		// Only totals are compared for these tables.
		w.del += n
	}
	return want
}

// finish runs after the statement: every imaged row version must be gone
// (so the images are exactly the rows the actions changed), and updated
// rows get their after-images, found by key.
func (c *cascade) finish(ctx context.Context) error {
	for oid, seen := range c.seen {
		if len(seen) == 0 {
			continue
		}
		rel := c.rels[oid]
		byTable := map[string][]string{}
		for id := range seen {
			toid, ctid, _ := strings.Cut(id, "/")
			byTable[toid] = append(byTable[toid], ctid)
		}
		for toid, ctids := range byTable {
			var left int64
			err := c.e.x.tx.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s AS x WHERE x.tableoid = $1::oid AND x.ctid = ANY($2::text[]::tid[])", rel.scan()),
				toid, ctids).Scan(&left)
			if err != nil {
				return c.e.x.c.wrap("checking cascaded rows of "+rel.info.QualifiedName(), err)
			}
			if left != 0 {
				return fmt.Errorf("postgres: %d imaged rows of %s were not changed by the foreign-key action (is the statement's WHERE non-deterministic?); stopping the batch because its images would not be exact", left, rel.info.QualifiedName())
			}
		}
	}
	for oid, rows := range c.pending {
		if err := c.afterImages(ctx, c.rels[oid], rows); err != nil {
			return err
		}
	}
	return nil
}

// afterImages reads the rows a SET NULL / SET DEFAULT / ON UPDATE CASCADE
// action updated, by key, and sends before and after together.
func (c *cascade) afterImages(ctx context.Context, rel *relation, rows []pendingUpdate) error {
	info := rel.info
	keyArrays := make([]any, len(info.Key))
	var on []string
	byKey := map[string]pendingUpdate{}
	for i, k := range info.Key {
		arr := make([]*string, len(rows))
		for j, r := range rows {
			v := r.before[k]
			if !v.IsNull() {
				s := v.S
				arr[j] = &s
			}
		}
		keyArrays[i] = arr
		on = append(on, fmt.Sprintf("x.%s = k.k%d::%s", quoteIdent(info.Columns[k].Name), i, info.Columns[k].Type))
	}
	for _, r := range rows {
		byKey[keyString(info.KeyOf(r.before))] = r
	}
	var params, cols []string
	for i := range info.Key {
		params = append(params, fmt.Sprintf("$%d::text[]", i+1))
		cols = append(cols, fmt.Sprintf("k%d", i))
	}
	sql := fmt.Sprintf("SELECT x.* FROM %s AS x JOIN unnest(%s) AS k(%s) ON %s",
		rel.scan(), strings.Join(params, ", "), strings.Join(cols, ", "), strings.Join(on, " AND "))
	res, err := queryText(ctx, c.e.x.tx, sql, keyArrays...)
	if err != nil {
		return c.e.x.c.wrap("reading rows of "+info.QualifiedName()+" after foreign-key actions", err)
	}
	defer res.Close()
	handles := map[int]int64{}
	var after []engine.Value
	found := 0
	for res.Next() {
		after = rawToValues(res.RawValues(), after)
		r, ok := byKey[keyString(info.KeyOf(after))]
		if !ok {
			continue
		}
		delete(byKey, keyString(info.KeyOf(after)))
		found++
		h, ok := handles[r.level]
		if !ok {
			if h, err = c.e.table(rel, r.level); err != nil {
				return err
			}
			handles[r.level] = h
		}
		if err := c.e.sink.Row(h, engine.OpUpdate, r.before, after); err != nil {
			return err
		}
	}
	if err := res.Err(); err != nil {
		return c.e.x.c.wrap("reading rows of "+info.QualifiedName()+" after foreign-key actions", err)
	}
	if found != len(rows) {
		return fmt.Errorf("postgres: %d rows of %s updated by a foreign-key action could not be found again by key; stopping the batch because its images would not be exact", len(rows)-found, info.QualifiedName())
	}
	return nil
}

// keyString joins key values unambiguously.
func keyString(vals []engine.Value) string {
	var b strings.Builder
	for _, v := range vals {
		if v.IsNull() {
			b.WriteString("N;")
			continue
		}
		fmt.Fprintf(&b, "%d:%s;", len(v.S), v.S)
	}
	return b.String()
}
