package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"lifebelt/engine"
)

// defBuilder collects a Definition's statements.
type defBuilder struct {
	create, post, drop []string
	// last: columns rendered after the others, as they stand once added
	// back to the table (the definition a DROP COLUMN's undo gives).
	last map[string]bool
}

func (b *defBuilder) definition() *engine.Definition {
	d := &engine.Definition{Create: b.create, PostData: b.post, Drop: b.drop}
	var all []string
	all = append(all, b.create...)
	all = append(all, b.post...)
	if len(all) > 0 {
		d.Text = strings.Join(all, ";\n") + ";\n"
	}
	return d
}

// comment renders COMMENT ON target IS 'text'.
func comment(target, text string) string {
	return "COMMENT ON " + target + " IS " + quoteLiteral(text)
}

// withOptions renders reloptions ("k=v") as WITH (k='v', ...).
func withOptions(opts []string, prefix string) string {
	if len(opts) == 0 {
		return ""
	}
	parts := make([]string, len(opts))
	for i, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		if prefix != "" {
			k = quoteIdent(prefix) + "." + quoteIdent(k)
		} else {
			k = quoteIdent(k)
		}
		parts[i] = k + "=" + quoteLiteral(v)
	}
	return " WITH (" + strings.Join(parts, ", ") + ")"
}

// tableMeta is what pg_class says about a table.
type tableMeta struct {
	schema, name, kind, persistence string
	options, toastOptions           []string
	tablespace, am, partKey         string
	isPartition                     bool
	partBound                       string
	replident, replIndex            string
	rowSecurity, forceRowSecurity   bool
	comment                         string
}

// tableDefinition renders everything needed to re-create a table (and, for
// a partitioned table, its partitions): Create holds owned sequences, the
// CREATE TABLE with columns, defaults, identity, generated columns, NOT
// NULL and CHECK constraints, column settings and partition attachment;
// PostData holds primary/unique/exclusion/foreign keys, indexes, rules,
// triggers, extended statistics, row security and policies, replica
// identity, privileges granted to other roles (table, column and owned
// sequence), comments and sequence positions. Ownership is not captured:
// the re-created table belongs to the role that re-creates it.
func tableDefinition(ctx context.Context, q querier, oid uint32) (*engine.Definition, error) {
	return tableDefinitionLast(ctx, q, oid, nil)
}

// tableDefinitionLast is tableDefinition with the columns in last
// rendered after the others.
func tableDefinitionLast(ctx context.Context, q querier, oid uint32, last map[string]bool) (*engine.Definition, error) {
	b := defBuilder{last: last}
	var schema, name string
	err := withCatalogPath(ctx, q, func() error {
		m, err := tableStatements(ctx, q, oid, &b)
		schema, name = m.schema, m.name
		if err != nil {
			return err
		}
		b.drop = []string{"DROP TABLE " + m.qualified()}
		return nil
	})
	if err != nil {
		if schema != "" {
			return nil, fmt.Errorf("postgres: capturing the definition of table %s.%s: %w", schema, name, err)
		}
		return nil, fmt.Errorf("postgres: capturing the definition of table %d: %w", oid, err)
	}
	return b.definition(), nil
}

// qualified is the table's quoted name; a temporary table is named
// through pg_temp, since pg_temp_N differs from session to session.
func (m tableMeta) qualified() string {
	if m.persistence == "t" {
		return quoteQualified("pg_temp", m.name)
	}
	return quoteQualified(m.schema, m.name)
}

func loadTableMeta(ctx context.Context, q querier, oid uint32) (tableMeta, error) {
	var m tableMeta
	err := q.QueryRow(ctx, `SELECT n.nspname, c.relname, c.relkind::text, c.relpersistence::text,
			coalesce(c.reloptions, '{}'), coalesce(tc.reloptions, '{}'),
			coalesce(ts.spcname::text, ''), coalesce(am.amname::text, ''),
			CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) ELSE '' END,
			c.relispartition, coalesce(pg_catalog.pg_get_expr(c.relpartbound, c.oid), ''),
			c.relreplident::text,
			coalesce((SELECT ic.relname::text FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
				WHERE i.indrelid = c.oid AND i.indisreplident), ''),
			c.relrowsecurity, c.relforcerowsecurity,
			coalesce(pg_catalog.obj_description(c.oid, 'pg_class'), '')
		FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_catalog.pg_class tc ON tc.oid = c.reltoastrelid
		LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = c.reltablespace
		LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
		WHERE c.oid = $1`, oid).Scan(&m.schema, &m.name, &m.kind, &m.persistence, &m.options, &m.toastOptions,
		&m.tablespace, &m.am, &m.partKey, &m.isPartition, &m.partBound, &m.replident, &m.replIndex,
		&m.rowSecurity, &m.forceRowSecurity, &m.comment)
	if err != nil {
		return m, fmt.Errorf("reading pg_class: %w", err)
	}
	if m.kind != "r" && m.kind != "p" {
		return m, fmt.Errorf("%s.%s is not a table (relkind %s)", m.schema, m.name, m.kind)
	}
	return m, nil
}

// tableStatements appends the table's statements (and its partitions') to
// b. It runs under withCatalogPath.
func tableStatements(ctx context.Context, q querier, oid uint32, b *defBuilder) (tableMeta, error) {
	m, err := loadTableMeta(ctx, q, oid)
	if err != nil {
		return m, err
	}
	tbl := m.qualified()
	seqs, err := ownedSequences(ctx, q, oid)
	if err != nil {
		return m, err
	}
	cols, err := defColumns(ctx, q, oid)
	if err != nil {
		return m, err
	}
	if len(b.last) > 0 {
		var moved []defColumn
		for _, c := range cols {
			if !b.last[c.name] {
				moved = append(moved, c)
			}
		}
		for _, c := range cols {
			if b.last[c.name] {
				moved = append(moved, c)
			}
		}
		cols = moved
	}
	// Serial sequences exist before the table whose defaults call them;
	// identity sequences are created by the column clause.
	identity := map[int16]seqInfo{}
	for _, s := range seqs {
		if s.identity {
			identity[s.col] = s
			continue
		}
		b.create = append(b.create, s.createStatement())
	}
	var lines []string
	for _, c := range cols {
		lines = append(lines, c.clause(identity))
	}
	checks, err := checkConstraints(ctx, q, oid)
	if err != nil {
		return m, err
	}
	for _, k := range checks {
		if k.validated {
			lines = append(lines, "CONSTRAINT "+quoteIdent(k.name)+" "+k.def)
		}
	}
	var create strings.Builder
	create.WriteString("CREATE ")
	switch m.persistence {
	case "u":
		create.WriteString("UNLOGGED ")
	case "t":
		create.WriteString("TEMPORARY ")
	}
	create.WriteString("TABLE " + tbl + " (")
	if len(lines) > 0 {
		create.WriteString("\n    " + strings.Join(lines, ",\n    ") + "\n")
	}
	create.WriteString(")")
	if !m.isPartition {
		parents, err := inheritParents(ctx, q, oid)
		if err != nil {
			return m, err
		}
		if len(parents) > 0 {
			create.WriteString(" INHERITS (" + strings.Join(parents, ", ") + ")")
		}
	}
	if m.partKey != "" {
		create.WriteString(" PARTITION BY " + m.partKey)
	}
	if m.am != "" && m.am != "heap" && m.kind == "r" {
		create.WriteString(" USING " + quoteIdent(m.am))
	}
	if w := mergeOptions(m.options, m.toastOptions); w != "" {
		create.WriteString(w)
	}
	if m.tablespace != "" {
		create.WriteString(" TABLESPACE " + quoteIdent(m.tablespace))
	}
	b.create = append(b.create, create.String())
	if m.isPartition {
		ps, pn, err := partitionParent(ctx, q, oid)
		if err != nil {
			return m, err
		}
		b.create = append(b.create, "ALTER TABLE "+quoteQualified(ps, pn)+" ATTACH PARTITION "+tbl+" "+m.partBound)
	}
	for _, s := range seqs {
		if !s.identity {
			b.create = append(b.create, "ALTER SEQUENCE "+quoteQualified(s.schema, s.name)+" OWNED BY "+tbl+"."+quoteIdent(cols[s.colIndex(cols)].name))
		}
	}
	for _, c := range cols {
		b.create = append(b.create, c.settings(tbl)...)
	}
	// Partitions are created (and attached) before any row is restored;
	// their post-data follows the parent's, so that keys, indexes and
	// triggers added to the parent reach them first.
	var sub defBuilder
	if m.kind == "p" {
		parts, err := partitions(ctx, q, oid)
		if err != nil {
			return m, err
		}
		for _, p := range parts {
			if _, err := tableStatements(ctx, q, p, &sub); err != nil {
				return m, err
			}
		}
		b.create = append(b.create, sub.create...)
	}
	for _, k := range checks {
		if !k.validated {
			b.post = append(b.post, "ALTER TABLE "+tbl+" ADD CONSTRAINT "+quoteIdent(k.name)+" "+k.def)
		}
	}
	if err := postData(ctx, q, oid, m, tbl, cols, seqs, b); err != nil {
		return m, err
	}
	b.post = append(b.post, sub.post...)
	return m, nil
}

// mergeOptions renders table and TOAST storage parameters as one WITH clause.
func mergeOptions(table, toast []string) string {
	w := withOptions(table, "")
	t := withOptions(toast, "toast")
	switch {
	case w == "":
		return t
	case t == "":
		return w
	}
	return strings.TrimSuffix(w, ")") + ", " + strings.TrimPrefix(t, " WITH (")
}

func inheritParents(ctx context.Context, q querier, oid uint32) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT n.nspname, c.relname FROM pg_catalog.pg_inherits i
		JOIN pg_catalog.pg_class c ON c.oid = i.inhparent JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE i.inhrelid = $1 ORDER BY i.inhseqno`, oid)
	if err != nil {
		return nil, fmt.Errorf("reading parents: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s, n string
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out = append(out, quoteQualified(s, n))
	}
	return out, rows.Err()
}

func partitionParent(ctx context.Context, q querier, oid uint32) (string, string, error) {
	var s, n string
	err := q.QueryRow(ctx, `SELECT n.nspname, c.relname FROM pg_catalog.pg_inherits i
		JOIN pg_catalog.pg_class c ON c.oid = i.inhparent JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE i.inhrelid = $1`, oid).Scan(&s, &n)
	if err != nil {
		return "", "", fmt.Errorf("reading partition parent: %w", err)
	}
	return s, n, nil
}

func partitions(ctx context.Context, q querier, oid uint32) ([]uint32, error) {
	rows, err := q.Query(ctx, `SELECT i.inhrelid FROM pg_catalog.pg_inherits i
		JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = $1 AND c.relispartition ORDER BY c.relname`, oid)
	if err != nil {
		return nil, fmt.Errorf("listing partitions: %w", err)
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var p uint32
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// defColumn is one column as a CREATE TABLE needs it.
type defColumn struct {
	num                       int16
	name, typ, collation      string // collation: quoted, when not the type's
	notNull                   bool
	generated, identity       string
	def                       string
	statTarget                int
	storage, typStorage, comp string
	comment                   string
	options                   []string // attribute options (n_distinct=...)
	domain                    bool     // its type is a domain
}

func defColumns(ctx context.Context, q querier, oid uint32) ([]defColumn, error) {
	rows, err := q.Query(ctx, `SELECT a.attnum, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
			coalesce(cn.nspname::text, ''), coalesce(co.collname::text, ''),
			a.attnotnull, a.attgenerated::text, a.attidentity::text,
			coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid), ''),
			a.attstattarget, a.attstorage::text, t.typstorage::text, a.attcompression::text,
			coalesce(pg_catalog.col_description(a.attrelid, a.attnum), ''),
			coalesce(a.attoptions, '{}'), t.typtype = 'd'
		FROM pg_catalog.pg_attribute a
		JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
		LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation AND a.attcollation <> t.typcollation
		LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, oid)
	if err != nil {
		return nil, fmt.Errorf("reading columns: %w", err)
	}
	defer rows.Close()
	var out []defColumn
	for rows.Next() {
		var c defColumn
		var collSchema, coll string
		if err := rows.Scan(&c.num, &c.name, &c.typ, &collSchema, &coll, &c.notNull, &c.generated, &c.identity,
			&c.def, &c.statTarget, &c.storage, &c.typStorage, &c.comp, &c.comment, &c.options, &c.domain); err != nil {
			return nil, fmt.Errorf("reading columns: %w", err)
		}
		if coll != "" {
			c.collation = quoteQualified(collSchema, coll)
		}
		// The attribute options PostgreSQL defines; a server may keep
		// others of its own there, which no ALTER sets.
		c.options = slices.DeleteFunc(c.options, func(o string) bool {
			return !strings.HasPrefix(o, "n_distinct=") && !strings.HasPrefix(o, "n_distinct_inherited=")
		})
		out = append(out, c)
	}
	return out, rows.Err()
}

// clause renders the column for CREATE TABLE.
func (c defColumn) clause(identity map[int16]seqInfo) string {
	s := quoteIdent(c.name) + " " + c.typ
	if c.collation != "" {
		s += " COLLATE " + c.collation
	}
	switch {
	case c.generated == "s":
		s += " GENERATED ALWAYS AS (" + c.def + ") STORED"
	case c.identity != "":
		kind := "ALWAYS"
		if c.identity == "d" {
			kind = "BY DEFAULT"
		}
		s += " GENERATED " + kind + " AS IDENTITY"
		if seq, ok := identity[c.num]; ok {
			s += " (SEQUENCE NAME " + quoteQualified(seq.schema, seq.name) + " " + seq.options() + ")"
		}
	case c.def != "":
		s += " DEFAULT " + c.def
	}
	if c.notNull {
		s += " NOT NULL"
	}
	return s
}

var storageNames = map[string]string{"p": "PLAIN", "e": "EXTERNAL", "x": "EXTENDED", "m": "MAIN"}
var compressionNames = map[string]string{"p": "pglz", "l": "lz4"}

// settings renders per-column settings that CREATE TABLE cannot express.
func (c defColumn) settings(tbl string) []string {
	col := "ALTER TABLE " + tbl + " ALTER COLUMN " + quoteIdent(c.name)
	var out []string
	if c.statTarget >= 0 {
		out = append(out, col+" SET STATISTICS "+strconv.Itoa(c.statTarget))
	}
	if c.storage != c.typStorage && storageNames[c.storage] != "" {
		out = append(out, col+" SET STORAGE "+storageNames[c.storage])
	}
	if n := compressionNames[c.comp]; n != "" {
		out = append(out, col+" SET COMPRESSION "+n)
	}
	if len(c.options) > 0 {
		out = append(out, col+" SET ("+strings.Join(c.options, ", ")+")")
	}
	return out
}

// seqInfo is a sequence with its options and position.
type seqInfo struct {
	oid                         uint32
	col                         int16 // owning column (0: none)
	identity                    bool
	schema, name, typ           string
	start, inc, max, min, cache int64
	cycle                       bool
	persistence                 string
	lastValue                   int64
	isCalled                    bool
	comment                     string
}

func (s seqInfo) colIndex(cols []defColumn) int {
	for i, c := range cols {
		if c.num == s.col {
			return i
		}
	}
	return 0
}

// options renders the sequence parameters; every value is explicit so the
// re-created sequence does not depend on defaults.
func (s seqInfo) options() string {
	o := fmt.Sprintf("START WITH %d INCREMENT BY %d MINVALUE %d MAXVALUE %d CACHE %d", s.start, s.inc, s.min, s.max, s.cache)
	if s.cycle {
		return o + " CYCLE"
	}
	return o + " NO CYCLE"
}

func (s seqInfo) createStatement() string {
	kw := "CREATE SEQUENCE "
	if s.persistence == "u" {
		kw = "CREATE UNLOGGED SEQUENCE "
	}
	return kw + quoteQualified(s.schema, s.name) + " AS " + s.typ + " " + s.options()
}

// setval restores the sequence position exactly (last_value and is_called).
func (s seqInfo) setval() string {
	return fmt.Sprintf("SELECT pg_catalog.setval(%s, %d, %t)", quoteLiteral(quoteQualified(s.schema, s.name)), s.lastValue, s.isCalled)
}

const seqColumns = `s.oid, sn.nspname, s.relname, pg_catalog.format_type(q.seqtypid, NULL),
	q.seqstart, q.seqincrement, q.seqmax, q.seqmin, q.seqcache, q.seqcycle, s.relpersistence::text,
	coalesce(pg_catalog.obj_description(s.oid, 'pg_class'), '')`

func scanSeq(row interface{ Scan(...any) error }, s *seqInfo, extra ...any) error {
	return row.Scan(append([]any{&s.oid, &s.schema, &s.name, &s.typ, &s.start, &s.inc, &s.max, &s.min,
		&s.cache, &s.cycle, &s.persistence, &s.comment}, extra...)...)
}

// ownedSequences lists the sequences owned by the table's columns (serial
// and identity), with their positions.
func ownedSequences(ctx context.Context, q querier, oid uint32) ([]seqInfo, error) {
	rows, err := q.Query(ctx, `SELECT `+seqColumns+`, d.refobjsubid::int2, d.deptype = 'i'
		FROM pg_catalog.pg_depend d
		JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'
		JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
		JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid
		WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
			AND d.refobjid = $1 AND d.deptype IN ('a', 'i')
		ORDER BY d.refobjsubid, s.relname`, oid)
	if err != nil {
		return nil, fmt.Errorf("reading owned sequences: %w", err)
	}
	var out []seqInfo
	for rows.Next() {
		var s seqInfo
		if err := scanSeq(rows, &s, &s.col, &s.identity); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading owned sequences: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading owned sequences: %w", err)
	}
	for i := range out {
		if err := out[i].readPosition(ctx, q); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readPosition reads last_value and is_called from the sequence itself
// (pg_sequence_last_value loses last_value when is_called is false).
func (s *seqInfo) readPosition(ctx context.Context, q querier) error {
	err := q.QueryRow(ctx, "SELECT last_value, is_called FROM "+quoteQualified(s.schema, s.name)).Scan(&s.lastValue, &s.isCalled)
	if err != nil {
		return fmt.Errorf("reading the position of sequence %s.%s: %w", s.schema, s.name, err)
	}
	return nil
}

// constraintDef is a constraint of a table.
type constraintDef struct {
	name, kind, def string
	validated       bool
	parent          bool // inherited from a partitioned parent's constraint
	comment         string
}

func checkConstraints(ctx context.Context, q querier, oid uint32) ([]constraintDef, error) {
	all, err := constraints(ctx, q, oid)
	if err != nil {
		return nil, err
	}
	var out []constraintDef
	for _, k := range all {
		if k.kind == "c" {
			out = append(out, k)
		}
	}
	return out, nil
}

func constraints(ctx context.Context, q querier, oid uint32) ([]constraintDef, error) {
	rows, err := q.Query(ctx, `SELECT k.conname, k.contype::text, pg_catalog.pg_get_constraintdef(k.oid), k.convalidated,
			k.conparentid <> 0, coalesce(pg_catalog.obj_description(k.oid, 'pg_constraint'), '')
		FROM pg_catalog.pg_constraint k WHERE k.conrelid = $1
		ORDER BY CASE k.contype WHEN 'c' THEN 0 WHEN 'p' THEN 1 WHEN 'u' THEN 2 WHEN 'x' THEN 3 ELSE 4 END, k.conname`, oid)
	if err != nil {
		return nil, fmt.Errorf("reading constraints: %w", err)
	}
	defer rows.Close()
	var out []constraintDef
	for rows.Next() {
		var k constraintDef
		if err := rows.Scan(&k.name, &k.kind, &k.def, &k.validated, &k.parent, &k.comment); err != nil {
			return nil, fmt.Errorf("reading constraints: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}
