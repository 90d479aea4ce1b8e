package engine

import "strings"

// Classification is keyword based: it reads the statement's tokens outside
// strings and comments, and only at the statement's own parenthesis level
// (a WHERE inside a subquery does not make an UPDATE restricted). When the
// tokens leave room for doubt it errs towards the class that is guarded or
// refused rather than run freely: a data-modifying CTE makes the whole
// statement DML, EXPLAIN ANALYZE of a write is that write. A read can still
// change data through the functions it calls (SELECT nextval(..),
// SELECT my_cleanup()); no lexical classifier can see that.

// maxNesting bounds the recursion through EXPLAIN, WITH and parentheses;
// deeper statements are classified as KindOther with no Verb, which is
// never run as a plain read.
const maxNesting = 32

type classifier struct {
	syn   Syntax
	level int
}

// classifyTokens fills st's classification fields from its tokens.
func classifyTokens(st *Statement, toks []token, syn Syntax) {
	c := classifier{syn: syn}
	r := c.stmt(toks)
	st.Kind, st.Verb, st.Object, st.Targets = r.Kind, r.Verb, r.Object, r.Targets
	st.HasWhere, st.Cascade, st.OrReplace, st.IfExists = r.HasWhere, r.Cascade, r.OrReplace, r.IfExists
	st.DropsColumn = r.DropsColumn
}

// stmt classifies one statement (or a parenthesised part of one whose
// tokens sit at the depth of toks[0]).
func (c *classifier) stmt(toks []token) Statement {
	if len(toks) == 0 {
		return Statement{Kind: KindOther}
	}
	c.level++
	defer func() { c.level-- }()
	if c.level > maxNesting {
		return Statement{Kind: KindOther}
	}
	if toks[0].punct('(') {
		// (SELECT ...) UNION (SELECT ...): classify the first operand.
		return c.stmt(toks[1:closeOf(toks, 0)])
	}
	verb := keyword(toks[0])
	switch verb {
	case "SELECT":
		return c.selectStmt(toks)
	case "VALUES", "TABLE", "SHOW":
		return Statement{Kind: KindRead, Verb: verb}
	case "WITH":
		return c.with(toks)
	case "EXPLAIN":
		return c.explain(toks)
	case "PRAGMA":
		return c.pragma(toks)
	case "INSERT", "REPLACE", "UPDATE", "DELETE", "MERGE":
		return c.dml(toks, verb)
	case "CREATE", "ALTER", "DROP", "TRUNCATE", "COMMENT", "RENAME", "GRANT", "REVOKE":
		st := c.ddl(toks, verb)
		st.DropsColumn = verb == "ALTER" && st.Object == "TABLE" && c.dropsColumn(toks)
		return st
	case "BEGIN", "START", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE", "ABORT", "PREPARE", "SAVE":
		return c.tx(toks, verb)
	}
	return Statement{Kind: KindOther, Verb: verb}
}

// selectStmt: SELECT ... INTO new_table (PostgreSQL, T-SQL) creates a table.
func (c *classifier) selectStmt(toks []token) Statement {
	if c.syn != SyntaxSQLite {
		for i, t := range toks {
			if t.depth != toks[0].depth || !t.is("INTO") {
				continue
			}
			j := skipWords(toks, i+1, "TEMP", "TEMPORARY", "UNLOGGED", "TABLE")
			st := Statement{Kind: KindDDL, Verb: "SELECT", Object: "TABLE"}
			if n, _, ok := c.name(toks, j); ok {
				st.Targets = []Name{n}
			}
			return st
		}
	}
	return Statement{Kind: KindRead, Verb: "SELECT"}
}

// with classifies WITH ... main-statement. A CTE whose body writes
// (PostgreSQL's WITH d AS (DELETE ... RETURNING *) SELECT ...) makes the
// statement DML even when the main statement reads: its Verb is then the
// first CTE write's. Targets list the main statement's targets, then the
// CTE writes' in order. For an UPDATE or DELETE verb, HasWhere holds only
// when every UPDATE and DELETE in the statement has a WHERE; a main INSERT
// hides an unrestricted DELETE in a CTE from Destructive, which is why the
// PostgreSQL dialect re-checks statements with pg_query's parse tree.
func (c *classifier) with(toks []token) Statement {
	base := toks[0].depth
	var writes []Statement
	main := Statement{Kind: KindRead, Verb: "SELECT"}
	for i := 1; i < len(toks); i++ {
		t := toks[i]
		if t.depth != base {
			continue
		}
		if t.punct('(') && toks[i-1].isAny("AS", "MATERIALIZED") {
			end := closeOf(toks, i)
			switch body := c.stmt(toks[i+1 : end]); body.Kind {
			case KindRead:
			case KindDML:
				writes = append(writes, body)
			default:
				// Not a valid CTE body; whatever it is, it is no read.
				return Statement{Kind: KindOther, Verb: "WITH"}
			}
			i = end
			continue
		}
		if t.isAny("SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES", "TABLE", "REPLACE") && !cteName(toks, i) {
			main = c.stmt(toks[i:])
			break
		}
	}
	if len(writes) == 0 {
		return main
	}
	st := main
	if main.Kind == KindRead {
		st = writes[0]
		st.Targets = nil
	}
	st.Targets = append([]Name(nil), st.Targets...)
	restricted := main.Verb != "UPDATE" && main.Verb != "DELETE" || main.HasWhere
	for _, w := range writes {
		st.Targets = append(st.Targets, w.Targets...)
		if (w.Verb == "UPDATE" || w.Verb == "DELETE") && !w.HasWhere {
			restricted = false
		}
	}
	st.HasWhere = restricted && (st.Verb == "UPDATE" || st.Verb == "DELETE")
	return st
}

// cteName reports whether the keyword at toks[i] names a CTE (PostgreSQL
// lets unreserved keywords such as update be names): name [(cols)] AS.
func cteName(toks []token, i int) bool {
	if tokAt(toks, i+1).punct('(') {
		return tokAt(toks, closeOf(toks, i+1)+1).is("AS")
	}
	return tokAt(toks, i+1).is("AS")
}

// explain: EXPLAIN reads, but PostgreSQL's EXPLAIN ANALYZE runs the
// statement, so EXPLAIN ANALYZE of a write is classified as that write.
// SQLite's EXPLAIN never runs its statement.
func (c *classifier) explain(toks []token) Statement {
	i, analyze := 1, false
	if tokAt(toks, i).punct('(') {
		end := closeOf(toks, i)
		for j := i + 1; j < end; j++ {
			if toks[j].depth != toks[i].depth+1 || !toks[j].isAny("ANALYZE", "ANALYSE") {
				continue
			}
			v := tokAt(toks, j+1)
			analyze = !(v.isAny("FALSE", "OFF") || v.val == "0" || v.val == "'false'" || v.val == "'off'")
		}
		i = end + 1
	} else {
		for tokAt(toks, i).isAny("ANALYZE", "ANALYSE", "VERBOSE", "QUERY", "PLAN") {
			analyze = analyze || tokAt(toks, i).isAny("ANALYZE", "ANALYSE")
			i++
		}
	}
	if analyze && c.syn != SyntaxSQLite && i < len(toks) {
		if inner := c.stmt(toks[i:]); inner.Kind != KindRead {
			return inner
		}
	}
	return Statement{Kind: KindRead, Verb: "EXPLAIN"}
}

// SQLite pragmas that take an argument only to name what to report on.
var readPragmas = map[string]bool{
	"table_info": true, "table_xinfo": true, "table_list": true, "index_info": true,
	"index_xinfo": true, "index_list": true, "foreign_key_list": true,
	"foreign_key_check": true, "integrity_check": true, "quick_check": true,
}

// SQLite pragmas that change the database even without an argument.
var actingPragmas = map[string]bool{
	"optimize": true, "shrink_memory": true, "wal_checkpoint": true, "incremental_vacuum": true,
}

// pragma: PRAGMA x reads, PRAGMA x = v and PRAGMA x(v) set (except the
// reporting pragmas that take a table or index name).
func (c *classifier) pragma(toks []token) Statement {
	other := Statement{Kind: KindOther, Verb: "PRAGMA"}
	if c.syn != SyntaxSQLite {
		return other
	}
	n, i, ok := c.name(toks, 1)
	if !ok {
		return other
	}
	name := strings.ToLower(n.Name)
	switch {
	case tokAt(toks, i).punct('='):
		return other
	case tokAt(toks, i).punct('('):
		if !readPragmas[name] {
			return other
		}
	case actingPragmas[name]:
		return other
	}
	return Statement{Kind: KindRead, Verb: "PRAGMA"}
}

// dml classifies INSERT, REPLACE, UPDATE, DELETE and MERGE.
func (c *classifier) dml(toks []token, verb string) Statement {
	st := Statement{Kind: KindDML, Verb: verb}
	i := c.skipTop(toks, 1)
	if tokAt(toks, i).is("OR") { // SQLite: INSERT OR REPLACE, UPDATE OR IGNORE
		if verb == "INSERT" && tokAt(toks, i+1).is("REPLACE") {
			st.Verb = "REPLACE"
		}
		i += 2
	}
	switch verb {
	case "INSERT", "REPLACE", "MERGE":
		i = skipWords(toks, i, "INTO")
	case "DELETE":
		i = skipWords(toks, i, "FROM")
	}
	i = c.skipTop(toks, i)
	i = skipWords(toks, i, "ONLY")
	if n, _, ok := c.name(toks, i); ok {
		st.Targets = []Name{n}
	}
	base := toks[0].depth
	for j := i; j < len(toks); j++ {
		t := toks[j]
		if t.depth != base {
			continue
		}
		switch {
		case t.is("WHERE") && (verb == "UPDATE" || verb == "DELETE"):
			st.HasWhere = true // WHERE CURRENT OF counts: it names one row
		case t.is("ON") && tokAt(toks, j+1).is("CONFLICT") && st.Verb == "INSERT":
			st.Verb = "UPSERT"
		}
	}
	return st
}

// skipTop skips T-SQL's TOP (n) [PERCENT].
func (c *classifier) skipTop(toks []token, i int) int {
	if c.syn != SyntaxTSQL || !tokAt(toks, i).is("TOP") {
		return i
	}
	i++
	if tokAt(toks, i).punct('(') {
		i = closeOf(toks, i) + 1
	} else {
		i++
	}
	return skipWords(toks, i, "PERCENT")
}

// tx classifies transaction control. BEGIN is a transaction everywhere but
// in T-SQL, where BEGIN without TRAN opens a block (BEGIN ... END, BEGIN
// TRY) and END closes one.
func (c *classifier) tx(toks []token, verb string) Statement {
	tx := Statement{Kind: KindTxControl, Verb: verb}
	next := tokAt(toks, 1)
	switch verb {
	case "BEGIN":
		if c.syn == SyntaxTSQL && !next.isAny("TRAN", "TRANSACTION", "DISTRIBUTED") {
			break
		}
		return tx
	case "SAVE":
		if next.isAny("TRAN", "TRANSACTION") {
			return tx
		}
	case "START", "PREPARE":
		if next.is("TRANSACTION") {
			return tx
		}
	case "END":
		if c.syn != SyntaxTSQL {
			return tx
		}
	default:
		return tx
	}
	return Statement{Kind: KindOther, Verb: verb}
}

// keyword returns the upper-case keyword of a word token, or "".
func keyword(t token) string {
	if t.kind != tWord {
		return ""
	}
	return strings.ToUpper(t.val)
}

// tokAt returns toks[i], or an end token past the end.
func tokAt(toks []token, i int) token {
	if i < 0 || i >= len(toks) {
		return token{kind: tEnd}
	}
	return toks[i]
}

// skipWords skips any of the given keywords from toks[i] on.
func skipWords(toks []token, i int, kws ...string) int {
	for tokAt(toks, i).isAny(kws...) {
		i++
	}
	return i
}

// closeOf returns the index of the parenthesis closing toks[i], or
// len(toks) when it is not in toks.
func closeOf(toks []token, i int) int {
	for j := i + 1; j < len(toks); j++ {
		if toks[j].depth == toks[i].depth && toks[j].punct(')') {
			return j
		}
	}
	return len(toks)
}

// ident returns an identifier part: quoted ones unescaped, unquoted ones
// folded to lower case on PostgreSQL (ASCII only, as PostgreSQL does with
// UTF-8), kept as written elsewhere.
func (c *classifier) ident(t token) string {
	if t.kind != tWord || c.syn != SyntaxPostgres {
		return t.val
	}
	b := []byte(t.val)
	for i, ch := range b {
		if ch >= 'A' && ch <= 'Z' {
			b[i] = ch + 'a' - 'A'
		}
	}
	return string(b)
}

// name parses a possibly qualified name at toks[i] (a.b, "we.ird"."x",
// [dbo].[t], db..t in T-SQL) and returns it with the index after it. The
// last two parts are the schema and the name.
func (c *classifier) name(toks []token, i int) (Name, int, bool) {
	parts, i := c.parts(toks, i)
	return partsName(parts), i, len(parts) > 0
}

func partsName(parts []string) Name {
	switch len(parts) {
	case 0:
		return Name{}
	case 1:
		return Name{Name: parts[0]}
	}
	return Name{Schema: parts[len(parts)-2], Name: parts[len(parts)-1]}
}

// parts returns the dot-separated parts of the name at toks[i].
func (c *classifier) parts(toks []token, i int) ([]string, int) {
	var parts []string
	for {
		t := tokAt(toks, i)
		switch {
		case t.kind == tWord || t.kind == tQuoted:
			parts = append(parts, c.ident(t))
			i++
		case t.punct('.') && c.syn == SyntaxTSQL && len(parts) > 0:
			parts = append(parts, "") // db..t: the default schema
		default:
			return nil, i
		}
		if !tokAt(toks, i).punct('.') {
			return parts, i
		}
		i++
	}
}

// DDL object kinds written in more than one word.
var objectWords = [][]string{
	{"MATERIALIZED", "VIEW"}, {"FOREIGN", "DATA", "WRAPPER"}, {"FOREIGN", "TABLE"},
	{"EVENT", "TRIGGER"}, {"TEXT", "SEARCH", "CONFIGURATION"}, {"TEXT", "SEARCH", "DICTIONARY"},
	{"TEXT", "SEARCH", "PARSER"}, {"TEXT", "SEARCH", "TEMPLATE"}, {"ACCESS", "METHOD"},
	{"USER", "MAPPING"}, {"OPERATOR", "CLASS"}, {"OPERATOR", "FAMILY"},
	{"DEFAULT", "PRIVILEGES"}, {"LARGE", "OBJECT"}, {"XML", "SCHEMA", "COLLECTION"},
	{"FOREIGN", "SERVER"},
}

// Words between CREATE and the object kind: CREATE UNIQUE INDEX is an INDEX.
var createModifiers = []string{
	"TEMP", "TEMPORARY", "UNLOGGED", "GLOBAL", "LOCAL", "UNIQUE", "CLUSTERED",
	"NONCLUSTERED", "VIRTUAL", "RECURSIVE", "TRUSTED", "PROCEDURAL", "CONSTRAINT",
	"COLUMNSTORE", "FULLTEXT", "SPATIAL", "PRIMARY", "XML",
}

// Object kinds whose statements name no object right after the kind.
var namelessObjects = map[string]bool{
	"SYSTEM": true, "DEFAULT PRIVILEGES": true, "OWNED": true, "USER MAPPING": true,
	"LARGE OBJECT": true, "CAST": true,
}

// Object kinds that live on a table: NAME ON TABLE (RULE ... TO TABLE).
var onTable = map[string]bool{"INDEX": true, "TRIGGER": true, "POLICY": true, "RULE": true, "CONSTRAINT": true}

// ddl classifies CREATE, ALTER, DROP, TRUNCATE, COMMENT, RENAME, GRANT and
// REVOKE. Targets are the defined or dropped objects (all of them for DROP
// and TRUNCATE), then the table an index, trigger, policy or rule is on.
// IfExists is set by IF EXISTS only, not by CREATE ... IF NOT EXISTS.
func (c *classifier) ddl(toks []token, verb string) Statement {
	st := Statement{Kind: KindDDL, Verb: verb}
	st.Cascade = cascades(toks)
	i := 1
	switch verb {
	case "GRANT", "REVOKE":
		c.grant(toks, &st)
		return st
	case "COMMENT":
		i = skipWords(toks, i, "ON")
	case "TRUNCATE":
		st.Object = "TABLE"
		i = skipWords(toks, i, "TABLE")
	case "CREATE":
		if tokAt(toks, i).is("OR") && tokAt(toks, i+1).isAny("REPLACE", "ALTER") {
			st.OrReplace = true
			i += 2
		}
	}
	if st.Object == "" {
		if verb == "CREATE" {
			for !objectAt(toks, i) && tokAt(toks, i).isAny(createModifiers...) {
				i++
			}
		}
		st.Object, i = objectKind(toks, i)
	}
	i = skipWords(toks, i, "CONCURRENTLY")
	if tokAt(toks, i).is("IF") {
		if tokAt(toks, i+1).is("EXISTS") {
			st.IfExists = true
			i += 2
		} else if tokAt(toks, i+1).is("NOT") && tokAt(toks, i+2).is("EXISTS") {
			i += 3
		}
	}
	i = skipWords(toks, i, "ONLY")
	switch {
	case namelessObjects[st.Object], tokAt(toks, i).is("ALL") && tokAt(toks, i+1).is("IN"):
		return st // ALTER TABLE ALL IN TABLESPACE ...
	case st.Object == "SCHEMA" && tokAt(toks, i).is("AUTHORIZATION"):
		// CREATE SCHEMA AUTHORIZATION role names the schema after the role.
		if n, _, ok := c.name(toks, i+1); ok {
			st.Targets = []Name{{Name: n.Name}}
		}
		return st
	case st.Object == "COLUMN":
		// COMMENT ON COLUMN [schema.]table.column: the target is the table.
		if p, _ := c.parts(toks, i); len(p) > 1 {
			st.Targets = []Name{partsName(p[:len(p)-1])}
		}
		return st
	}
	multi := verb == "DROP" || verb == "TRUNCATE"
	for !(st.Object == "INDEX" && tokAt(toks, i).is("ON")) { // CREATE INDEX ON t
		n, j, ok := c.name(toks, i)
		if !ok {
			break
		}
		if st.Object == "SCHEMA" || st.Object == "DATABASE" {
			n = Name{Name: n.Name}
		}
		st.Targets = append(st.Targets, n)
		i = j
		if tokAt(toks, i).punct('(') { // FUNCTION f(int)
			i = closeOf(toks, i) + 1
		}
		if tokAt(toks, i).punct('*') { // TRUNCATE t *
			i++
		}
		if !multi || !tokAt(toks, i).punct(',') {
			break
		}
		i = skipWords(toks, i+1, "ONLY")
	}
	if onTable[st.Object] {
		c.onTable(toks, i, &st)
	}
	return st
}

// objectAt reports whether a multi-word object kind starts at toks[i].
func objectAt(toks []token, i int) bool {
	_, j := objectKind(toks, i)
	return j > i+1
}

// objectKind reads the object kind at toks[i].
func objectKind(toks []token, i int) (string, int) {
	for _, words := range objectWords {
		k := 0
		for k < len(words) && tokAt(toks, i+k).is(words[k]) {
			k++
		}
		if k == len(words) {
			return strings.Join(words, " "), i + k
		}
	}
	kind := keyword(tokAt(toks, i))
	if kind == "" {
		return "", i
	}
	if kind == "PROC" {
		kind = "PROCEDURE"
	}
	return kind, i + 1
}

// onTable adds the table after ON (or, for CREATE RULE, after TO) to the
// targets of an index, trigger, policy, rule or constraint.
func (c *classifier) onTable(toks []token, i int, st *Statement) {
	kw := "ON"
	if st.Object == "RULE" && st.Verb == "CREATE" {
		kw = "TO"
	}
	for ; i < len(toks); i++ {
		if toks[i].depth == toks[0].depth && toks[i].is(kw) {
			break
		}
	}
	j := skipWords(toks, i+1, "ONLY")
	if i >= len(toks) || tokAt(toks, j).isAny("DATABASE", "ALL") { // T-SQL DDL triggers
		return
	}
	t, _, ok := c.name(toks, j)
	if !ok {
		return
	}
	if st.Object == "INDEX" && len(st.Targets) > 0 {
		ix := &st.Targets[0]
		switch {
		case c.syn == SyntaxSQLite && t.Schema == "":
			t.Schema = ix.Schema // the table is in the index's database
		case c.syn == SyntaxPostgres && ix.Schema == "":
			ix.Schema = t.Schema // the index is in the table's schema
		}
	}
	st.Targets = append(st.Targets, t)
}

// cascades reports a CASCADE at the statement's level that is not a
// referential action (ON DELETE CASCADE).
// dropsColumn reports whether ALTER TABLE text drops a column. SQLite's
// only DROP in ALTER TABLE is DROP [COLUMN] name, whatever the name. In
// T-SQL, DROP takes a list of [CONSTRAINT] name and COLUMN name items.
// Elsewhere (PostgreSQL's lexical fallback, MySQL): DROP [COLUMN] name at
// the statement's level, not DROP CONSTRAINT, DROP DEFAULT and the like,
// or a DROP inside ALTER [COLUMN] name.
func (c *classifier) dropsColumn(toks []token) bool {
	body := alterBody(toks)
	switch c.syn {
	case SyntaxSQLite:
		for _, t := range toks[body:] {
			if t.depth == toks[0].depth && t.is("DROP") {
				return true
			}
		}
		return false
	case SyntaxTSQL:
		dropping := false
		for _, t := range toks[body:] {
			if t.depth != toks[0].depth {
				continue
			}
			switch {
			case t.is("DROP"):
				dropping = true
			case t.isAny("ADD", "ALTER", "WITH", "CHECK", "NOCHECK", "SET", "ENABLE", "DISABLE", "SWITCH", "REBUILD"):
				dropping = false
			case dropping && t.is("COLUMN"):
				return true
			}
		}
		return false
	}
	for i := body; i < len(toks); i++ {
		t := toks[i]
		if t.depth != toks[0].depth || !t.is("DROP") {
			continue
		}
		next := tokAt(toks, i+1)
		switch {
		case next.is("COLUMN"):
			return true
		case next.isAny("CONSTRAINT", "DEFAULT", "NOT", "INDEX", "KEY", "PRIMARY", "FOREIGN", "CHECK", "PARTITION",
			"IDENTITY", "EXPRESSION", "PERIOD", "SYSTEM", "TRIGGER", "RULE", "STATISTICS"):
			continue
		case tokAt(toks, i-1).isAny("SET", "ALTER", "ON", "RENAME", "COLUMN", "TO"):
			continue
		}
		// ALTER [COLUMN] c DROP ... changes a column, it drops none.
		if inAlterColumn(toks, body, i) {
			continue
		}
		return true
	}
	return false
}

// alterBody is where ALTER TABLE's subcommands start: after ALTER TABLE,
// IF EXISTS, ONLY and the (qualified) table name.
func alterBody(toks []token) int {
	i := 2
	if tokAt(toks, i).is("IF") && tokAt(toks, i+1).is("EXISTS") {
		i += 2
	}
	if tokAt(toks, i).is("ONLY") {
		i++
	}
	i++ // the name
	for tokAt(toks, i).punct('.') {
		i += 2
	}
	return min(i, len(toks))
}

// inAlterColumn reports whether the DROP at toks[i] belongs to an ALTER
// [COLUMN] name subcommand (the last ALTER or comma before it, after the
// table's name, decides).
func inAlterColumn(toks []token, body, i int) bool {
	for j := i - 1; j >= body; j-- {
		t := toks[j]
		if t.depth != toks[0].depth {
			continue
		}
		if t.punct(',') {
			return false
		}
		if t.is("ALTER") || t.is("MODIFY") || t.is("CHANGE") {
			return true
		}
	}
	return false
}

func cascades(toks []token) bool {
	for i, t := range toks {
		if t.depth == toks[0].depth && t.is("CASCADE") && !tokAt(toks, i-1).isAny("DELETE", "UPDATE") {
			return true
		}
	}
	return false
}

// grant classifies GRANT/REVOKE privileges ON [kind] names TO/FROM roles;
// without ON it grants role membership (Object ROLE).
func (c *classifier) grant(toks []token, st *Statement) {
	i := 1
	for i < len(toks) && !(toks[i].depth == toks[0].depth && toks[i].is("ON")) {
		i++
	}
	if i >= len(toks) {
		st.Object = "ROLE"
		return
	}
	i++
	switch {
	case tokAt(toks, i).is("ALL") && tokAt(toks, i+2).is("IN") && tokAt(toks, i+3).is("SCHEMA"):
		st.Object, i = "SCHEMA", i+4 // ALL TABLES IN SCHEMA s
	case c.syn == SyntaxTSQL && tokAt(toks, i+1).punct(':') && tokAt(toks, i+2).punct(':'):
		st.Object, i = keyword(tokAt(toks, i)), i+3 // OBJECT::dbo.t
	default:
		st.Object = "TABLE"
		if tokAt(toks, i).isAny("TABLE", "SEQUENCE", "FUNCTION", "PROCEDURE", "ROUTINE", "SCHEMA",
			"DATABASE", "DOMAIN", "TYPE", "LANGUAGE", "TABLESPACE", "FOREIGN", "LARGE", "PARAMETER") {
			st.Object, i = objectKind(toks, i)
		}
	}
	for {
		n, j, ok := c.name(toks, i)
		if !ok || tokAt(toks, i).isAny("TO", "FROM") {
			return
		}
		st.Targets = append(st.Targets, n)
		i = j
		if tokAt(toks, i).punct('(') {
			i = closeOf(toks, i) + 1
		}
		if !tokAt(toks, i).punct(',') {
			return
		}
		i++
	}
}
