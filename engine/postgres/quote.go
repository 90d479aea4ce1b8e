package postgres

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"lifebelt/engine"
)

var _ engine.Scripter = Driver{}

// quoteIdent quotes one identifier part. It always quotes (pgx doubles
// embedded double quotes and drops NUL, which no PostgreSQL name can hold),
// so case, spaces, reserved words and unicode all survive unchanged.
func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

// quoteQualified quotes schema.name; an empty schema leaves the name
// unqualified so that search_path resolves it.
func quoteQualified(schema, name string) string {
	if schema == "" {
		return quoteIdent(name)
	}
	return pgx.Identifier{schema, name}.Sanitize()
}

// quoteLiteral renders s as a string literal the way libpq's
// PQescapeLiteral does: quotes are doubled, and a value holding a backslash
// becomes an E'...' string with doubled backslashes, so the literal means the
// same whatever standard_conforming_strings is.
func quoteLiteral(s string) string {
	s = strings.ReplaceAll(s, "\x00", "")
	q := "'" + strings.ReplaceAll(s, "'", "''") + "'"
	if strings.Contains(s, `\`) {
		return "E" + strings.ReplaceAll(q, `\`, `\\`)
	}
	return q
}

// valueText is a Value's PostgreSQL text representation. Values captured on
// PostgreSQL are always Text or Null; the other kinds are handled for values
// that came from elsewhere.
func valueText(v engine.Value) string {
	if v.K == engine.BytesKind {
		return `\x` + hex.EncodeToString(v.B)
	}
	if v.K == engine.TextKind {
		return v.S
	}
	return v.String()
}

// QuoteIdent quotes one identifier part.
func (Driver) QuoteIdent(name string) string { return quoteIdent(name) }

// Table renders the qualified, quoted table name.
func (Driver) Table(t engine.TableInfo) string { return quoteQualified(t.Schema, t.Name) }

// Literal renders v as 'text'::type (NULL for NULL). The text is the
// server's own output for the value, which its type's input function reads
// back exactly under the settings BeginScript establishes.
func (Driver) Literal(v engine.Value, c engine.Column) string {
	if v.K == engine.NullKind {
		return "NULL"
	}
	lit := quoteLiteral(valueText(v))
	if c.Type == "" {
		return lit
	}
	return lit + "::" + c.Type
}

// Matches renders a NULL-safe condition that holds exactly when col holds
// v (NULL, for a composite type, means NULL and not a row of NULLs).
// Exactness comes from comparing text forms, with the literal sent
// through the type's input and output functions in the running session
// (so a timestamptz captured at another time zone offset still matches,
// and 1.0 never matches 1.00, -0 never matches 0, '1 day' never matches
// '24:00:00'). For types with a btree equality operator a typed equality is
// added in front so an index on col can find the row.
func (Driver) Matches(col string, v engine.Value, c engine.Column) string {
	if v.K == engine.NullKind {
		// A composite value whose fields are all NULL IS NULL too; its
		// text, "(,)", is not. Built-in scalar types keep the plain test.
		if c.Type != "" && hasBtreeEquality(c.Type) {
			return col + " IS NULL"
		}
		return col + "::text IS NULL"
	}
	// COLLATE "C": a cast to text keeps the column's collation, and a
	// nondeterministic one would find 'abc' equal to 'ABC'.
	lit := quoteLiteral(valueText(v))
	if c.Type == "" {
		return col + `::text COLLATE "C" = ` + lit
	}
	typed := lit + "::" + c.Type
	exact := col + `::text COLLATE "C" = (` + typed + ")::text"
	if hasBtreeEquality(c.Type) {
		return "(" + col + " = " + typed + " AND " + exact + ")"
	}
	return exact
}

var typmodRE = regexp.MustCompile(`\([0-9, ]*\)`)

// btreeEquality lists built-in types (as format_type prints them, without
// type modifiers) whose = operator belongs to a btree operator class, so
// an index on such a column can serve the typed half of Matches.
var btreeEquality = map[string]bool{
	"smallint": true, "integer": true, "bigint": true, "numeric": true,
	"real": true, "double precision": true, "money": true, "oid": true,
	"text": true, "character varying": true, "character": true, `"char"`: true, "name": true,
	"boolean": true, "uuid": true, "bytea": true, "jsonb": true,
	"date": true, "timestamp without time zone": true, "timestamp with time zone": true,
	"time without time zone": true, "time with time zone": true, "interval": true,
	"inet": true, "cidr": true, "macaddr": true, "macaddr8": true,
	"bit": true, "bit varying": true,
}

func hasBtreeEquality(typ string) bool {
	base := strings.TrimSpace(typmodRE.ReplaceAllString(typ, ""))
	base = strings.TrimSuffix(base, "[]")
	base = strings.Join(strings.Fields(base), " ")
	if strings.HasPrefix(base, "interval") {
		return true
	}
	return btreeEquality[base]
}

// scriptSettings are the settings under which captured text values read back
// exactly; BeginScript sets them for the script's transaction.
const scriptSettings = `SET LOCAL client_encoding = 'UTF8';
SET LOCAL standard_conforming_strings = on;
SET LOCAL DateStyle = 'ISO';
SET LOCAL IntervalStyle = 'postgres';
SET LOCAL extra_float_digits = 3;
SET LOCAL bytea_output = 'hex';
`

// BeginScript opens the script's transaction (SERIALIZABLE, like a batch)
// and sets what the literals assume. Unlike Definition statements it is
// complete text with terminators.
func (Driver) BeginScript() string {
	return "BEGIN ISOLATION LEVEL SERIALIZABLE;\n" + scriptSettings
}

// CommitScript commits the script's transaction.
func (Driver) CommitScript() string { return "COMMIT;\n" }

// IfAbsent wraps stmts in a DO block that runs them only when the object is
// absent. Statements are returned without terminators, like Definition
// statements. An unknown kind cannot be checked: the statements come back
// unchanged after a comment saying so.
func (Driver) IfAbsent(kind, schema, name string, stmts []string) []string {
	return guarded(kind, schema, name, stmts, true)
}

// IfPresent wraps stmts in a DO block that runs them only when the object
// exists.
func (Driver) IfPresent(kind, schema, name string, stmts []string) []string {
	return guarded(kind, schema, name, stmts, false)
}

func guarded(kind, schema, name string, stmts []string, absent bool) []string {
	if len(stmts) == 0 {
		return nil
	}
	cond, err := existsCond(kind, schema, name)
	if err != nil {
		out := append([]string(nil), stmts...)
		out[0] = "-- lifebelt: " + err.Error() + "; this runs unconditionally\n" + out[0]
		return out
	}
	if absent {
		cond = "NOT " + cond
	}
	var b strings.Builder
	b.WriteString("BEGIN\n  IF " + cond + " THEN\n")
	for _, s := range stmts {
		tag := dollarTag("$lb", s)
		b.WriteString("    EXECUTE " + tag + s + tag + ";\n")
	}
	b.WriteString("  END IF;\nEND\n")
	body := b.String()
	tag := dollarTag("$lbdo", body)
	return []string{"DO " + tag + "\n" + body + tag}
}

// dollarTag picks a dollar-quote tag that cannot end the quoted text early:
// the first occurrence of the tag in text+tag must be the closing one (a
// text ending in "$lb" would otherwise close "$lb$" one byte too soon).
func dollarTag(prefix, text string) string {
	for i := 0; ; i++ {
		tag := prefix + "$"
		if i > 0 {
			tag = fmt.Sprintf("%s%d$", prefix, i)
		}
		if strings.Index(text+tag, tag) == len(text) {
			return tag
		}
	}
}

// existsCond renders a boolean SQL expression, made only of literals and
// catalog lookups, that is true when an object of the kind exists. An empty
// schema resolves through search_path. FUNCTION and PROCEDURE names may
// carry an argument list, "f(integer, text)"; without one any overload
// counts. TRIGGER, CONSTRAINT, POLICY and RULE names are looked up in the
// schema of their table.
func existsCond(kind, schema, name string) (string, error) {
	kind = strings.ToUpper(strings.Join(strings.Fields(kind), " "))
	rel := func(kinds string) string {
		return "EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass(" +
			quoteLiteral(quoteQualified(schema, name)) + ") AND c.relkind IN (" + kinds + "))"
	}
	nsp := func(col, oid string, visible string) string {
		if schema == "" {
			return visible + "(" + oid + ")"
		}
		return col + " = (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = " + quoteLiteral(schema) + ")"
	}
	switch kind {
	case "TABLE":
		return rel("'r','p','f'"), nil
	case "VIEW":
		return rel("'v'"), nil
	case "MATERIALIZED VIEW":
		return rel("'m'"), nil
	case "INDEX":
		return rel("'i','I'"), nil
	case "SEQUENCE":
		return rel("'S'"), nil
	case "FUNCTION", "PROCEDURE":
		kinds := "'f','w'"
		if kind == "PROCEDURE" {
			kinds = "'p'"
		}
		if fn, args, ok := splitSignature(name); ok {
			return "EXISTS (SELECT 1 FROM pg_catalog.pg_proc p WHERE p.oid = pg_catalog.to_regprocedure(" +
				quoteLiteral(quoteQualified(schema, fn)+"("+args+")") + ") AND p.prokind IN (" + kinds + "))", nil
		}
		return "EXISTS (SELECT 1 FROM pg_catalog.pg_proc p WHERE p.proname = " + quoteLiteral(name) +
			" AND p.prokind IN (" + kinds + ") AND " + nsp("p.pronamespace", "p.oid", "pg_catalog.pg_function_is_visible") + ")", nil
	case "TRIGGER":
		return "EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid WHERE t.tgname = " +
			quoteLiteral(name) + " AND NOT t.tgisinternal AND " + nsp("c.relnamespace", "c.oid", "pg_catalog.pg_table_is_visible") + ")", nil
	case "CONSTRAINT":
		if schema == "" {
			return "EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid WHERE k.conname = " +
				quoteLiteral(name) + " AND pg_catalog.pg_table_is_visible(c.oid))", nil
		}
		return "EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conname = " + quoteLiteral(name) + " AND " +
			nsp("k.connamespace", "", "") + ")", nil
	case "POLICY":
		return "EXISTS (SELECT 1 FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid WHERE p.polname = " +
			quoteLiteral(name) + " AND " + nsp("c.relnamespace", "c.oid", "pg_catalog.pg_table_is_visible") + ")", nil
	case "RULE":
		return "EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class WHERE r.rulename = " +
			quoteLiteral(name) + " AND " + nsp("c.relnamespace", "c.oid", "pg_catalog.pg_table_is_visible") + ")", nil
	case "SCHEMA":
		return "EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n WHERE n.nspname = " + quoteLiteral(name) + ")", nil
	case "TYPE":
		return "pg_catalog.to_regtype(" + quoteLiteral(quoteQualified(schema, name)) + ") IS NOT NULL", nil
	}
	return "", fmt.Errorf("postgres: cannot check whether a %s exists", kind)
}

// splitSignature splits "name(args)" into its parts.
func splitSignature(s string) (name, args string, ok bool) {
	i := strings.IndexByte(s, '(')
	if i <= 0 || !strings.HasSuffix(s, ")") {
		return "", "", false
	}
	return s[:i], s[i+1 : len(s)-1], true
}

// OneRow (engine.RowPicker) narrows cond to one physical row, for tables
// whose duplicates only a row's location tells apart.
func (d Driver) OneRow(t engine.TableInfo, cond string) string {
	return fmt.Sprintf("ctid = (SELECT ctid FROM %s WHERE %s LIMIT 1)", d.Table(t), cond)
}
