package sqlite

import (
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"lifebelt/engine"
)

// QuoteIdent quotes one identifier part for SQLite: wrapped in double
// quotes with embedded double quotes doubled. Every name this package puts
// into SQL goes through it. SQLite cannot represent a NUL byte in an
// identifier; such a name fails when the statement is prepared.
func QuoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// quoteQualified quotes schema.name, or just name when schema is empty.
func quoteQualified(schema, name string) string {
	if schema == "" {
		return QuoteIdent(name)
	}
	return QuoteIdent(schema) + "." + QuoteIdent(name)
}

// lowerASCII folds ASCII letters only, the way SQLite compares names.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// token is one lexical token of SQLite text. The package does not parse
// statements (SQLite's own parser and authorizer classify them); it only
// needs to find a few keywords at known places.
type token struct {
	word   string // upper-case bare word, "" otherwise
	ident  string // identifier value (bare or quoted), "" for strings and punctuation
	punct  byte
	start  int
	end    int
	quoted bool
}

// lexTokens returns up to max tokens of text (all when max <= 0),
// skipping whitespace and comments.
func lexTokens(text string, max int) []token {
	var toks []token
	i := 0
	for i < len(text) && (max <= 0 || len(toks) < max) {
		c := text[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && strings.HasPrefix(text[i:], "--"):
			if j := strings.IndexByte(text[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				i = len(text)
			}
		case c == '/' && strings.HasPrefix(text[i:], "/*"):
			if j := strings.Index(text[i+2:], "*/"); j >= 0 {
				i += j + 4
			} else {
				i = len(text)
			}
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			var b strings.Builder
			for j < len(text) {
				if text[j] == c {
					if j+1 < len(text) && text[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(text[j])
				j++
			}
			t := token{start: i, end: min(j+1, len(text)), quoted: true}
			if c != '\'' {
				t.ident = b.String()
			}
			toks = append(toks, t)
			i = t.end
		case c == '[':
			j := strings.IndexByte(text[i:], ']')
			if j < 0 {
				j = len(text) - i - 1
			}
			toks = append(toks, token{ident: text[i+1 : i+j], start: i, end: i + j + 1, quoted: true})
			i += j + 1
		case isWordByte(c):
			j := i
			for j < len(text) && isWordByte(text[j]) {
				j++
			}
			w := text[i:j]
			toks = append(toks, token{word: strings.ToUpper(w), ident: w, start: i, end: j})
			i = j
		default:
			toks = append(toks, token{punct: c, start: i, end: i + 1})
			i++
		}
	}
	return toks
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// firstWord is the upper-case leading keyword of text.
func firstWord(text string) string {
	if t := lexTokens(text, 1); len(t) == 1 {
		return t[0].word
	}
	return ""
}

// hasAutoincrement reports whether a CREATE TABLE statement declares
// AUTOINCREMENT (as a keyword, not inside a string or quoted name).
func hasAutoincrement(createSQL string) bool {
	for _, t := range lexTokens(createSQL, 0) {
		if t.word == "AUTOINCREMENT" {
			return true
		}
	}
	return false
}

// alterAction finds what an ALTER TABLE statement does: "RENAME TO" (with
// the new name), "RENAME COLUMN", "ADD COLUMN" or "DROP COLUMN".
func alterAction(text string) (action, newName string) {
	toks := lexTokens(text, 12)
	i := 0
	if i+1 < len(toks) && toks[i].word == "ALTER" && toks[i+1].word == "TABLE" {
		i += 2
	} else {
		return "", ""
	}
	i++ // table name
	if i+1 < len(toks) && toks[i].punct == '.' {
		i += 2
	}
	if i >= len(toks) {
		return "", ""
	}
	switch toks[i].word {
	case "RENAME":
		if i+2 < len(toks) && toks[i+1].word == "TO" {
			return "RENAME TO", toks[i+2].ident
		}
		return "RENAME COLUMN", ""
	case "ADD":
		return "ADD COLUMN", ""
	case "DROP":
		return "DROP COLUMN", ""
	}
	return "", ""
}

// Driver implements engine.Scripter for exported undo scripts.
var _ engine.Scripter = Driver{}

// QuoteIdent quotes one identifier part.
func (Driver) QuoteIdent(name string) string { return QuoteIdent(name) }

// Table renders the table's quoted, possibly schema-qualified name.
func (Driver) Table(t engine.TableInfo) string { return quoteQualified(t.Schema, t.Name) }

// Literal renders v keeping its storage class: SQLite is dynamically
// typed, so 1, 1.0, '1' and X'31' are four different values. The column
// type is not needed.
func (Driver) Literal(v engine.Value, _ engine.Column) string { return literal(v) }

func literal(v engine.Value) string {
	switch v.K {
	case kInt:
		if v.I == math.MinInt64 {
			// 9223372036854775808 alone does not fit an integer.
			return "(-9223372036854775807-1)"
		}
		return strconv.FormatInt(v.I, 10)
	case kFloat:
		return floatLiteral(v.F)
	case kText:
		if utf8.ValidString(v.S) && strings.IndexByte(v.S, 0) < 0 {
			return "'" + strings.ReplaceAll(v.S, "'", "''") + "'"
		}
		// A NUL or invalid UTF-8 would not survive a text file or
		// SQLite's tokenizer; spell the bytes instead.
		return "CAST(X'" + hex.EncodeToString([]byte(v.S)) + "' AS TEXT)"
	case kBytes:
		return "X'" + hex.EncodeToString(v.B) + "'"
	}
	return "NULL"
}

// floatLiteral renders a REAL that SQLite reads back as the same REAL:
// always with a decimal point or exponent (1 would be an INTEGER).
func floatLiteral(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "9e999"
	case math.IsInf(f, -1):
		return "-9e999"
	case math.IsNaN(f):
		return "NULL" // SQLite stores NaN as NULL
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

// Matches renders a condition true only when col holds exactly v: the
// same storage class and, for text, the same bytes whatever the column's
// collation. A generated column matches any value: its value is derived
// from the others, and a VIRTUAL one is imaged as NULL (SQLite's hook
// cannot report it).
func (Driver) Matches(col string, v engine.Value, c engine.Column) string {
	if c.Generated {
		return "TRUE"
	}
	lit := literal(v)
	switch v.K {
	case kInt:
		return "(" + col + " IS " + lit + " AND typeof(" + col + ") = 'integer')"
	case kFloat:
		if math.IsNaN(v.F) {
			return "(" + col + " IS NULL)"
		}
		return "(" + col + " IS " + lit + " AND typeof(" + col + ") = 'real')"
	case kText:
		return "(" + col + " IS " + lit + " COLLATE BINARY AND typeof(" + col + ") = 'text')"
	case kBytes:
		return "(" + col + " IS " + lit + " AND typeof(" + col + ") = 'blob')"
	}
	return "(" + col + " IS NULL)"
}

// BeginScript opens the script's transaction (terminated: the engine
// writes it as is). The sqlite3 shell goes on after a failed statement
// and would commit the rest: .bail on makes it stop at the first error,
// and the open transaction rolls back as it exits. Other tools stop at
// the dot command itself, before anything ran.
func (Driver) BeginScript() string {
	return "-- For the sqlite3 shell: stop at the first error (the transaction then rolls back).\n.bail on\nBEGIN IMMEDIATE;"
}

// CommitScript commits it.
func (Driver) CommitScript() string { return "COMMIT;" }

// IfAbsent rewrites each CREATE TABLE/INDEX/VIEW/TRIGGER to CREATE ... IF
// NOT EXISTS. SQLite has no procedural IF; statement-level guards are
// enough because the engine writes row statements idempotently.
func (Driver) IfAbsent(kind, schema, name string, stmts []string) []string {
	out := make([]string, len(stmts))
	for i, s := range stmts {
		out[i] = guard(s, "CREATE", " IF NOT EXISTS")
	}
	return out
}

// IfPresent rewrites each DROP TABLE/INDEX/VIEW/TRIGGER to DROP ... IF EXISTS.
func (Driver) IfPresent(kind, schema, name string, stmts []string) []string {
	out := make([]string, len(stmts))
	for i, s := range stmts {
		out[i] = guard(s, "DROP", " IF EXISTS")
	}
	return out
}

// guard inserts clause after the object keyword of a CREATE or DROP
// statement unless it already has one; other text is returned unchanged.
func guard(stmt, verb, clause string) string {
	toks := lexTokens(stmt, 8)
	if len(toks) == 0 || toks[0].word != verb {
		return stmt
	}
	i := 1
	for i < len(toks) {
		switch toks[i].word {
		case "TEMP", "TEMPORARY", "UNIQUE", "VIRTUAL":
			i++
			continue
		}
		break
	}
	if i >= len(toks) {
		return stmt
	}
	switch toks[i].word {
	case "TABLE", "INDEX", "VIEW", "TRIGGER":
	default:
		return stmt
	}
	if i+1 < len(toks) && toks[i+1].word == "IF" {
		return stmt
	}
	at := toks[i].end
	return stmt[:at] + clause + stmt[at:]
}

// OneRow (engine.RowPicker) narrows cond to one physical row. Tables that
// need it have no usable key, so they are rowid tables.
func (d Driver) OneRow(t engine.TableInfo, cond string) string {
	return "rowid = (SELECT rowid FROM " + d.Table(t) + " WHERE " + cond + " LIMIT 1)"
}
