package engine

import "strings"

// Syntax selects the lexical rules SplitSQL applies.
type Syntax int

// Lexical syntaxes.
const (
	// SyntaxSQLite has '..' strings, "..", `..` and [..] identifiers, and
	// CREATE TRIGGER ... BEGIN ... END bodies that contain semicolons.
	SyntaxSQLite Syntax = iota
	// SyntaxPostgres has E'..' strings with backslash escapes, $tag$..$tag$
	// dollar quoting, nested /* */ comments, and BEGIN ATOMIC ... END bodies
	// of SQL-standard functions (tracked the way psql does).
	SyntaxPostgres
	// SyntaxTSQL has [..] identifiers with ]] escaping, N'..' strings, nested
	// /* */ comments (SQL Server nests them too), BEGIN ... END blocks, and
	// CREATE/ALTER PROCEDURE, FUNCTION or TRIGGER bodies, which run to the
	// end of the batch. T-SQL needs no semicolons, but statements are split
	// on semicolons only: GO batch separators are split beforehand by
	// go-mssqldb's batch.Split, and a batch whose statements carry no
	// semicolons is one statement here.
	SyntaxTSQL
)

// String returns the syntax's name: sqlite, postgres or tsql.
func (s Syntax) String() string {
	switch s {
	case SyntaxSQLite:
		return "sqlite"
	case SyntaxPostgres:
		return "postgres"
	case SyntaxTSQL:
		return "tsql"
	}
	return "unknown"
}

// SplitSQL splits text into statements and classifies each one.
//
// A statement ends at a semicolon outside strings, quoted identifiers,
// comments, parentheses and trigger or function bodies. Each Statement's
// Text runs from its first token to its last: comments inside it are kept,
// comments and whitespace around it are not (so a trailing line comment can
// never swallow SQL a dialect appends). Empty and comment-only statements
// are dropped. Text the lexer cannot finish (an unterminated string, quoted
// identifier, block comment or dollar quote, an unclosed parenthesis or
// body) fails with a *SyntaxError naming the byte offset where it opened.
//
// The rules are lexical: they do not need a parser, and they lean towards
// treating something as a write when unsure (see classify.go).
func SplitSQL(text string, syn Syntax) ([]Statement, error) {
	lx := lexer{text: text, syn: syn}
	var out []Statement
	var stmt []token // the current statement's tokens, reused
	sp := splitter{syn: syn}
	t, err := lx.next()
	for err == nil && t.kind != tEnd {
		var next token
		if next, err = lx.next(); err != nil {
			break
		}
		t.depth = sp.paren
		if t.kind == tPunct && len(t.val) == 1 {
			switch t.val[0] {
			case '(':
				if sp.paren == 0 {
					sp.parenAt = t.off
				}
				sp.paren++
			case ')':
				if sp.paren > 0 {
					sp.paren--
					t.depth = sp.paren
				}
			case ';':
				if sp.paren == 0 && sp.block == 0 && !sp.toEnd {
					if len(stmt) > 0 {
						out = append(out, newStatement(text, stmt, len(out), syn))
					}
					stmt, sp = stmt[:0], splitter{syn: syn}
					t = next
					continue
				}
			}
		}
		stmt = append(stmt, t)
		if t.kind == tWord {
			sp.word(stmt, next)
		}
		t = next
	}
	switch {
	case err != nil:
		return nil, err
	case sp.paren > 0:
		return nil, &SyntaxError{Offset: sp.parenAt, Msg: "opening parenthesis is never closed (missing ))"}
	case sp.block > 0:
		return nil, &SyntaxError{Offset: sp.blockAt, Msg: sp.blockWord + " has no matching END"}
	}
	for sp.toEnd && len(stmt) > 0 && stmt[len(stmt)-1].punct(';') {
		stmt = stmt[:len(stmt)-1] // a T-SQL module's own final semicolon
	}
	if len(stmt) > 0 {
		out = append(out, newStatement(text, stmt, len(out), syn))
	}
	return out, nil
}

func newStatement(text string, toks []token, index int, syn Syntax) Statement {
	st := Statement{Index: index, Offset: toks[0].off, Text: text[toks[0].off:toks[len(toks)-1].end]}
	classifyTokens(&st, toks, syn)
	return st
}

// splitter tracks, within one statement, what makes a semicolon not end it.
type splitter struct {
	syn       Syntax
	paren     int
	parenAt   int
	block     int // open BEGIN/CASE ... END nesting inside a body
	blockAt   int
	blockWord string
	body      int  // 0 unknown, 1 the statement has a body, -1 it has none
	toEnd     bool // T-SQL module body: runs to the end of the batch
}

// word updates the body tracking after the word stmt[len(stmt)-1]; next is
// the token after it.
func (sp *splitter) word(stmt []token, next token) {
	if sp.toEnd {
		return
	}
	if sp.body == 0 {
		sp.body = sp.hasBody(stmt)
	}
	if sp.body < 0 {
		return
	}
	w := stmt[len(stmt)-1]
	switch sp.syn {
	case SyntaxSQLite:
		if sp.body == 0 {
			return
		}
		// A trigger body is BEGIN ... END; CASE ... END can occur in the
		// WHEN clause and inside the body.
		switch {
		case w.is("BEGIN"):
			sp.open(w, "trigger body BEGIN")
		case w.is("CASE"):
			sp.open(w, "CASE")
		case w.is("END"):
			sp.close()
		}
	case SyntaxPostgres:
		// psql's heuristic (psqlscan.l): inside CREATE [OR REPLACE]
		// FUNCTION|PROCEDURE, BEGIN opens a block at parenthesis depth 0,
		// CASE opens one only inside a block, END closes one.
		if sp.body == 0 || w.depth != 0 {
			return
		}
		switch {
		case w.is("BEGIN"):
			sp.open(w, "BEGIN ATOMIC")
		case w.is("CASE"):
			if sp.block > 0 {
				sp.open(w, "CASE")
			}
		case w.is("END"):
			sp.close()
		}
	case SyntaxTSQL:
		// BEGIN ... END blocks (IF x BEGIN ...; ...; END) are tracked in
		// every statement; BEGIN TRAN and END CONVERSATION are statements.
		switch {
		case w.is("BEGIN"):
			if next.isAny("TRAN", "TRANSACTION", "DISTRIBUTED", "DIALOG", "CONVERSATION") {
				return
			}
			sp.open(w, "BEGIN")
		case w.is("CASE"):
			if sp.block > 0 {
				sp.open(w, "CASE")
			}
		case w.is("END"):
			if next.is("CONVERSATION") {
				return
			}
			sp.close()
		}
	}
}

func (sp *splitter) open(w token, what string) {
	if sp.block == 0 {
		sp.blockAt, sp.blockWord = w.off, what
	}
	sp.block++
}

func (sp *splitter) close() {
	if sp.block > 0 {
		sp.block--
	}
}

// hasBody decides from the leading words whether the statement can hold
// semicolons in a body: 1 yes, -1 no, 0 not known yet.
func (sp *splitter) hasBody(stmt []token) int {
	w := stmt
	for _, t := range stmt {
		if t.kind != tWord {
			// The statements with bodies start with keywords only.
			if sp.syn == SyntaxTSQL {
				return 1
			}
			return -1
		}
	}
	switch sp.syn {
	case SyntaxSQLite:
		// CREATE [TEMP|TEMPORARY] TRIGGER
		return matchHead(w, []string{"CREATE"}, []string{"TEMP", "TEMPORARY", ""}, []string{"TRIGGER"})
	case SyntaxPostgres:
		// CREATE [OR REPLACE] FUNCTION|PROCEDURE
		if r := matchHead(w, []string{"CREATE"}, []string{"FUNCTION", "PROCEDURE"}); r >= 0 {
			return r
		}
		return matchHead(w, []string{"CREATE"}, []string{"OR"}, []string{"REPLACE"}, []string{"FUNCTION", "PROCEDURE"})
	case SyntaxTSQL:
		// CREATE [OR ALTER] | ALTER  PROC[EDURE]|FUNCTION|TRIGGER must be
		// alone in its batch, and its body runs to the end of it.
		module := []string{"PROC", "PROCEDURE", "FUNCTION", "TRIGGER"}
		r := matchHead(w, []string{"CREATE", "ALTER"}, module)
		if r < 0 {
			r = matchHead(w, []string{"CREATE"}, []string{"OR"}, []string{"ALTER"}, module)
		}
		if r > 0 {
			sp.toEnd = true
		}
		if r == 0 {
			return 0
		}
		return 1 // BEGIN ... END blocks are tracked in every T-SQL statement
	}
	return -1
}

// matchHead matches the words w against a pattern of alternatives, one set
// per position ("" in a set makes the position optional): 1 when w starts
// with a match, 0 when w is a prefix of one, -1 otherwise.
func matchHead(w []token, pattern ...[]string) int {
	return matchFrom(w, pattern)
}

func matchFrom(w []token, pattern [][]string) int {
	if len(pattern) == 0 {
		return 1
	}
	if len(w) == 0 {
		return 0
	}
	best := -1
	for _, alt := range pattern[0] {
		var r int
		if alt == "" {
			r = matchFrom(w, pattern[1:])
		} else if w[0].is(alt) {
			r = matchFrom(w[1:], pattern[1:])
		} else {
			continue
		}
		if r > best {
			best = r
		}
	}
	return best
}

// tokKind classifies a token.
type tokKind uint8

const (
	tWord   tokKind = iota // unquoted identifier or keyword
	tQuoted                // quoted identifier; val holds it unescaped
	tString                // any string literal, dollar quotes included
	tNumber
	tPunct // one byte of punctuation or an operator character; also $1
	tEnd   // past the last token (see at)
)

// token is a lexical token; comments and whitespace are not tokens.
type token struct {
	kind     tokKind
	off, end int    // byte range in the text
	val      string // the token as written; tQuoted: the name unescaped
	depth    int    // parenthesis depth within the statement
}

// is reports whether t is the keyword kw (upper-case).
func (t token) is(kw string) bool {
	return t.kind == tWord && len(t.val) == len(kw) && strings.EqualFold(t.val, kw)
}

func (t token) isAny(kws ...string) bool {
	for _, kw := range kws {
		if t.is(kw) {
			return true
		}
	}
	return false
}

// punct reports whether t is the punctuation byte c.
func (t token) punct(c byte) bool {
	return t.kind == tPunct && len(t.val) == 1 && t.val[0] == c
}

// lexer splits text into tokens, skipping whitespace and comments.
type lexer struct {
	text string
	syn  Syntax
	pos  int
}

// next returns the next token, or a tEnd token at the end of the text.
func (lx *lexer) next() (token, error) {
	text, syn := lx.text, lx.syn
	n := len(text)
	for i := lx.pos; i < n; {
		c := text[i]
		tok := token{off: i}
		var err error
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == '-' && i+1 < n && text[i+1] == '-':
			// A line comment ends at a newline; PostgreSQL and SQL Server
			// also end it at a carriage return, SQLite does not.
			eol := "\n"
			if syn != SyntaxSQLite {
				eol = "\r\n"
			}
			if j := strings.IndexAny(text[i:], eol); j >= 0 {
				i += j + 1
			} else {
				i = n
			}
			continue
		case c == '/' && i+1 < n && text[i+1] == '*':
			// PostgreSQL and SQL Server nest block comments; SQLite does not.
			if i, err = blockComment(text, i, syn != SyntaxSQLite); err != nil {
				return token{}, err
			}
			continue
		case c == '\'':
			tok.kind = tString
			tok.end, _, err = scanQuoted(text, i, '\'', '\'', "string literal")
		case c == '"':
			tok.kind = tQuoted
			tok.end, tok.val, err = scanQuoted(text, i, '"', '"', "quoted identifier")
		case c == '`' && syn == SyntaxSQLite:
			tok.kind = tQuoted
			tok.end, tok.val, err = scanQuoted(text, i, '`', '`', "quoted identifier")
		case c == '[' && syn == SyntaxSQLite:
			// SQLite's [..] has no escape: the first ] ends it.
			tok.kind = tQuoted
			j := strings.IndexByte(text[i+1:], ']')
			if j < 0 {
				err = &SyntaxError{Offset: i, Msg: "quoted identifier is never closed (missing ])"}
				break
			}
			tok.end, tok.val = i+j+2, text[i+1:i+1+j]
		case c == '[' && syn == SyntaxTSQL:
			tok.kind = tQuoted
			tok.end, tok.val, err = scanQuoted(text, i, '[', ']', "quoted identifier")
		case c == '$' && syn == SyntaxPostgres:
			tok.kind, tok.end, err = dollar(text, i)
		case isWordStart(c, syn):
			j := i + 1
			for j < n && isWordCont(text[j], syn) {
				j++
			}
			tok.kind, tok.end = tWord, j
			if syn == SyntaxPostgres && j == i+1 && (c == 'e' || c == 'E') && j < n && text[j] == '\'' {
				tok.kind = tString
				tok.end, err = eString(text, j)
			}
		case c >= '0' && c <= '9':
			j := i + 1
			for j < n && (isWordCont(text[j], SyntaxSQLite) && text[j] != '$' || text[j] == '.') {
				j++
			}
			tok.kind, tok.end = tNumber, j
		default:
			tok.kind, tok.end = tPunct, i+1
		}
		if err != nil {
			return token{}, err
		}
		if tok.kind != tQuoted {
			tok.val = text[tok.off:tok.end]
		}
		lx.pos = tok.end
		return tok, nil
	}
	lx.pos = n
	return token{kind: tEnd, off: n, end: n}, nil
}

func isWordStart(c byte, syn Syntax) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80 ||
		syn == SyntaxTSQL && (c == '@' || c == '#')
}

func isWordCont(c byte, syn Syntax) bool {
	return isWordStart(c, syn) || c >= '0' && c <= '9' || c == '$'
}

// blockComment returns the offset after the comment that starts at i.
func blockComment(text string, i int, nested bool) (int, error) {
	depth := 0
	for j := i; j+1 < len(text); {
		switch {
		case text[j] == '/' && text[j+1] == '*' && (nested || depth == 0):
			depth++
			j += 2
		case text[j] == '*' && text[j+1] == '/':
			depth--
			j += 2
			if depth == 0 {
				return j, nil
			}
		default:
			j++
		}
	}
	return 0, &SyntaxError{Offset: i, Msg: "block comment is never closed (missing */)"}
}

// scanQuoted scans a quoted token opened by open at i and closed by close, in
// which a doubled close stands for itself. It returns the offset after it
// and its unescaped content.
func scanQuoted(text string, i int, open, close byte, what string) (int, string, error) {
	var b strings.Builder
	from := i + 1
	for j := i + 1; j < len(text); j++ {
		if text[j] != close {
			continue
		}
		if j+1 < len(text) && text[j+1] == close {
			b.WriteString(text[from : j+1])
			j++
			from = j + 1
			continue
		}
		if b.Len() == 0 {
			return j + 1, text[i+1 : j], nil
		}
		b.WriteString(text[from:j])
		return j + 1, b.String(), nil
	}
	return 0, "", &SyntaxError{Offset: i, Msg: what + " is never closed (missing " + string(close) + ")"}
}

// eString scans PostgreSQL's E'..' string whose quote is at i: a backslash
// escapes the next byte, and a string continued on a later line
// ('a'<newline>'b') keeps the E rules, as in PostgreSQL's scanner.
func eString(text string, i int) (int, error) {
	for j := i + 1; j < len(text); j++ {
		switch text[j] {
		case '\\':
			j++
		case '\'':
			if j+1 < len(text) && text[j+1] == '\'' {
				j++
				continue
			}
			if k := quoteContinue(text, j+1); k > 0 {
				j = k
				continue
			}
			return j + 1, nil
		}
	}
	return 0, &SyntaxError{Offset: i - 1, Msg: "string literal is never closed (missing ')"}
}

// quoteContinue returns the offset of the quote that continues a string
// literal ending before i (whitespace with at least one newline, line
// comments allowed after it), or 0.
func quoteContinue(text string, i int) int {
	newline := false
	for i < len(text) {
		switch c := text[i]; {
		case c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\r':
			i++
		case c == '\n':
			newline = true
			i++
		case c == '-' && newline && i+1 < len(text) && text[i+1] == '-':
			j := strings.IndexByte(text[i:], '\n')
			if j < 0 {
				return 0
			}
			i += j
		case c == '\'' && newline:
			return i
		default:
			return 0
		}
	}
	return 0
}

// dollar scans what starts with $ at i in PostgreSQL: a $1 parameter, a
// $tag$..$tag$ string, or a lone $.
func dollar(text string, i int) (tokKind, int, error) {
	j := i + 1
	if j < len(text) && text[j] >= '0' && text[j] <= '9' {
		for j < len(text) && text[j] >= '0' && text[j] <= '9' {
			j++
		}
		return tPunct, j, nil
	}
	// The tag is an identifier that does not start with a digit, and has
	// no $ of its own.
	for j < len(text) && isWordCont(text[j], SyntaxPostgres) && text[j] != '$' {
		j++
	}
	if j >= len(text) || text[j] != '$' {
		return tPunct, i + 1, nil
	}
	delim := text[i : j+1]
	k := strings.Index(text[j+1:], delim)
	if k < 0 {
		return 0, 0, &SyntaxError{Offset: i, Msg: "dollar-quoted string is never closed (missing " + delim + ")"}
	}
	return tString, j + 1 + k + len(delim), nil
}
