package sqlite

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"lifebelt/engine"
)

// tableMeta is what capture and undo need to know about one table.
type tableMeta struct {
	info         engine.TableInfo // Level 0
	sql          string           // its CREATE statement
	virtual      bool
	withoutRowid bool
	strict       bool
	autoinc      bool
	// virtualCols (lower-case names) are the VIRTUAL generated columns,
	// whose values the pre-update hook cannot report.
	virtualCols map[string]bool
	// rowidName is a rowid alias no column shadows ("" when all are
	// taken): undo addresses one of several identical rows of a KeyRow
	// table through it.
	rowidName string
}

// object is one row of sqlite_schema.
type object struct {
	typ, name, table, sql string
}

// schemaInfo is the metadata of the main database at one schema version.
// The pre-update callback runs inside sqlite3_step, where no SQL may run
// on the connection, so everything it needs is loaded beforehand.
type schemaInfo struct {
	version  int64
	tables   map[string]*tableMeta // by exact name
	lower    map[string]*tableMeta // by ASCII-lower-case name
	children map[string][]string   // lower parent name -> lower child names
	objects  []object
}

func (s *schemaInfo) table(name string) *tableMeta {
	if t := s.tables[name]; t != nil {
		return t
	}
	return s.lower[lowerASCII(name)]
}

// find returns the sqlite_schema entry of that type and name.
func (s *schemaInfo) find(typ, name string) (object, bool) {
	ln := lowerASCII(name)
	for _, o := range s.objects {
		if o.typ == typ && lowerASCII(o.name) == ln {
			return o, true
		}
	}
	return object{}, false
}

// descendants is the set of tables reachable from roots by foreign keys
// (children, grandchildren, ...), roots included, all lower-case.
func (s *schemaInfo) descendants(roots []string) map[string]bool {
	seen := map[string]bool{}
	stack := make([]string, 0, len(roots))
	for _, r := range roots {
		stack = append(stack, lowerASCII(r))
	}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[n] {
			continue
		}
		seen[n] = true
		stack = append(stack, s.children[n]...)
	}
	return seen
}

// schema returns the metadata, reloading it when the schema version moved.
func (c *conn) schema(ctx context.Context) (*schemaInfo, error) {
	var version int64
	err := c.cc.query(ctx, "PRAGMA main.schema_version", nil, func(r []engine.Value) error {
		version = r[0].I
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading the schema version: %w", err)
	}
	if c.meta != nil && c.meta.version == version {
		return c.meta, nil
	}
	m, err := loadSchema(ctx, c.cc)
	if err != nil {
		return nil, err
	}
	m.version = version
	c.meta = m
	return m, nil
}

const (
	qObjects = `SELECT type, name, tbl_name, coalesce(sql, '') FROM main.sqlite_schema ORDER BY rowid`
	qTables  = `SELECT name, type, wr, strict FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'shadow', 'virtual')`
	// Virtual tables are left out: listing their columns may need a module
	// this build lacks, and their rows are never imaged.
	qColumns = `SELECT t.name, x.name, x.type, x."notnull", x.pk, x.hidden
		FROM pragma_table_list t, pragma_table_xinfo(t.name, 'main') x
		WHERE t.schema = 'main' AND t.type IN ('table', 'shadow') ORDER BY t.name, x.cid`
	qUnique = `SELECT t.name, il.name, ii.cid
		FROM pragma_table_list t, pragma_index_list(t.name, 'main') il, pragma_index_info(il.name, 'main') ii
		WHERE t.schema = 'main' AND t.type IN ('table', 'shadow') AND il."unique" AND NOT il.partial
		ORDER BY t.name, il.name, ii.seqno`
	qForeign = `SELECT t.name, f."table"
		FROM pragma_table_list t, pragma_foreign_key_list(t.name, 'main') f
		WHERE t.schema = 'main' AND t.type IN ('table', 'shadow')`
)

func loadSchema(ctx context.Context, cc *cconn) (*schemaInfo, error) {
	s := &schemaInfo{tables: map[string]*tableMeta{}, lower: map[string]*tableMeta{}, children: map[string][]string{}}
	sqlOf := map[string]string{}
	err := cc.query(ctx, qObjects, nil, func(r []engine.Value) error {
		o := object{typ: r[0].S, name: r[1].S, table: r[2].S, sql: r[3].S}
		s.objects = append(s.objects, o)
		if o.typ == "table" {
			sqlOf[o.name] = o.sql
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing schema objects: %w", err)
	}
	err = cc.query(ctx, qTables, nil, func(r []engine.Value) error {
		if schemaTables[lowerASCII(r[0].S)] {
			return nil
		}
		t := &tableMeta{
			info:         engine.TableInfo{Name: r[0].S},
			virtual:      r[1].S == "virtual",
			withoutRowid: r[2].I != 0,
			strict:       r[3].I != 0,
			sql:          sqlOf[r[0].S],
		}
		t.autoinc = hasAutoincrement(t.sql)
		s.tables[t.info.Name] = t
		s.lower[lowerASCII(t.info.Name)] = t
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing tables: %w", err)
	}
	pk := map[string][]pkCol{}
	err = cc.query(ctx, qColumns, nil, func(r []engine.Value) error {
		t := s.tables[r[0].S]
		if t == nil {
			return nil
		}
		// hidden: 2 is a VIRTUAL generated column, 3 a STORED one.
		col := engine.Column{Name: r[1].S, Type: r[2].S, NotNull: r[3].I != 0, Generated: r[5].I == 2 || r[5].I == 3}
		if r[5].I == 2 {
			if t.virtualCols == nil {
				t.virtualCols = map[string]bool{}
			}
			t.virtualCols[lowerASCII(col.Name)] = true
		}
		if r[4].I > 0 {
			pk[t.info.Name] = append(pk[t.info.Name], pkCol{pos: len(t.info.Columns), ord: r[4].I})
		}
		t.info.Columns = append(t.info.Columns, col)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing table columns: %w", err)
	}
	uniques := map[string][][]int64{} // table -> index column lists (cid)
	lastIdx := ""
	err = cc.query(ctx, qUnique, nil, func(r []engine.Value) error {
		key := r[0].S + "\x00" + r[1].S
		if key != lastIdx {
			uniques[r[0].S] = append(uniques[r[0].S], nil)
			lastIdx = key
		}
		u := uniques[r[0].S]
		u[len(u)-1] = append(u[len(u)-1], r[2].I)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing unique indexes: %w", err)
	}
	err = cc.query(ctx, qForeign, nil, func(r []engine.Value) error {
		parent, child := lowerASCII(r[1].S), lowerASCII(r[0].S)
		if !slices.Contains(s.children[parent], child) {
			s.children[parent] = append(s.children[parent], child)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing foreign keys: %w", err)
	}
	for name, t := range s.tables {
		if !t.virtual {
			chooseKey(t, pk[name], uniques[name])
		}
	}
	return s, nil
}

type pkCol struct {
	pos int
	ord int64
}

// chooseKey picks the row identity: the PRIMARY KEY; else a UNIQUE index
// over NOT NULL columns (fewest columns first); else the whole row. Outside
// WITHOUT ROWID tables SQLite lets PRIMARY KEY columns hold NULL (unless
// it is the INTEGER PRIMARY KEY or they are declared NOT NULL), and NULL
// keys need not be unique, so such a key is treated like a nullable UNIQUE
// one. The rowid is never an identity on its own: VACUUM may renumber it
// unless an INTEGER PRIMARY KEY makes it a column.
func chooseKey(t *tableMeta, pk []pkCol, uniques [][]int64) {
	t.rowidName = rowidAlias(t.info.Columns)
	if len(pk) > 0 {
		sort.Slice(pk, func(i, j int) bool { return pk[i].ord < pk[j].ord })
		usable := t.withoutRowid || (len(pk) == 1 && strings.EqualFold(t.info.Columns[pk[0].pos].Type, "INTEGER"))
		if !usable {
			usable = true
			for _, c := range pk {
				usable = usable && t.info.Columns[c.pos].NotNull
			}
		}
		if usable {
			t.info.KeyKind = engine.KeyPrimary
			for _, c := range pk {
				t.info.Key = append(t.info.Key, c.pos)
			}
			return
		}
	}
	var best []int
	for _, cids := range uniques {
		cols := make([]int, 0, len(cids))
		for _, cid := range cids {
			// cid -1 is the rowid and -2 an expression: neither is a column.
			if cid < 0 || int(cid) >= len(t.info.Columns) || !t.info.Columns[cid].NotNull || t.info.Columns[cid].Generated {
				cols = nil
				break
			}
			cols = append(cols, int(cid))
		}
		if len(cols) > 0 && (best == nil || len(cols) < len(best)) {
			best = cols
		}
	}
	if best != nil {
		t.info.KeyKind = engine.KeyUnique
		t.info.Key = best
		return
	}
	t.info.KeyKind = engine.KeyRow
	for i, c := range t.info.Columns {
		if !c.Generated {
			t.info.Key = append(t.info.Key, i)
		}
	}
}

// rowidAlias returns a name for the rowid that no column shadows.
func rowidAlias(cols []engine.Column) string {
	for _, alias := range []string{"rowid", "_rowid_", "oid"} {
		taken := false
		for _, c := range cols {
			if strings.EqualFold(c.Name, alias) {
				taken = true
				break
			}
		}
		if !taken {
			return alias
		}
	}
	return ""
}

// tableDefinition is everything needed to re-create table t: its CREATE
// statement, then (after the rows) its indexes, triggers and
// AUTOINCREMENT counter.
func (c *conn) tableDefinition(ctx context.Context, s *schemaInfo, t *tableMeta) (engine.Definition, error) {
	name := t.info.Name
	def := engine.Definition{Create: []string{t.sql}, Drop: []string{"DROP TABLE " + QuoteIdent(name)}}
	ln := lowerASCII(name)
	for _, typ := range []string{"index", "trigger"} {
		for _, o := range s.objects {
			if o.typ == typ && o.sql != "" && lowerASCII(o.table) == ln {
				def.PostData = append(def.PostData, o.sql)
			}
		}
	}
	if t.autoinc {
		if _, ok := s.find("table", "sqlite_sequence"); ok {
			err := c.cc.query(ctx, "SELECT seq FROM main.sqlite_sequence WHERE name = ?", []engine.Value{textValue(name)}, func(r []engine.Value) error {
				if r[0].K == kInt {
					def.PostData = append(def.PostData, sequenceRestore(name, r[0].I)...)
				}
				return nil
			})
			if err != nil {
				return def, fmt.Errorf("sqlite: reading the AUTOINCREMENT counter of %s: %w", name, err)
			}
		}
	}
	def.Text = definitionText(def.Create, def.PostData)
	return def, nil
}

// sequenceRestore moves table's AUTOINCREMENT counter back to at least
// seq (sqlite_sequence has no unique key, hence UPDATE then INSERT).
func sequenceRestore(table string, seq int64) []string {
	name := literal(textValue(table))
	n := fmt.Sprint(seq)
	return []string{
		"UPDATE sqlite_sequence SET seq = " + n + " WHERE name = " + name + " AND seq < " + n,
		"INSERT INTO sqlite_sequence(name, seq) SELECT " + name + ", " + n +
			" WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = " + name + ")",
	}
}

// objectDefinition is the definition of a view, index or trigger.
func objectDefinition(o object) engine.Definition {
	return engine.Definition{
		Create: []string{o.sql},
		Drop:   []string{"DROP " + strings.ToUpper(o.typ) + " " + QuoteIdent(o.name)},
		Text:   definitionText([]string{o.sql}, nil),
	}
}

func definitionText(parts ...[]string) string {
	var all []string
	for _, p := range parts {
		all = append(all, p...)
	}
	if len(all) == 0 {
		return ""
	}
	return strings.Join(all, ";\n\n") + ";"
}

func textValue(s string) engine.Value { return engine.Value{K: kText, S: s} }
