package postgres

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"
	"google.golang.org/protobuf/proto"
)

// Printing a rewritten statement with the deparser costs as much as
// parsing it. Most rewrites only add clauses to the user's statement, so
// its text is first tried as is, with Lifebelt's clauses spliced in at
// the keywords where they go. Nothing relies on the splice being right:
// exactSQL runs a spliced text only if it parses to exactly the rewritten
// tree, the same check (sameTree) deparseExact makes of the deparser's
// text, and prints the tree with the deparser otherwise. A wrong splice
// (a keyword found in the wrong place, a comment swallowing a clause)
// costs time, never meaning.

// exactSQL returns the text to run for the rewritten statement n: spliced
// if it parses to exactly n, else n printed by the deparser if that text
// does (see deparseExact). ok is false when neither does.
func exactSQL(n *pg_query.Node, spliced string) (string, bool) {
	enc, err := proto.Marshal(&pg_query.ParseResult{Version: parseVersion, Stmts: []*pg_query.RawStmt{{Stmt: n}}})
	if err != nil {
		return "", false
	}
	if spliced != "" {
		if back, err := parser.ParseToProtobuf(spliced); err == nil {
			a, okA := onlyStmt(enc)
			b, okB := onlyStmt(back)
			if okA && okB && sameTree(a, b) {
				return spliced, true
			}
		}
	}
	return deparseEncoded(enc)
}

// clauseTokens are the statement's tokens outside parentheses and
// brackets, comments left out.
func clauseTokens(text string) ([]*pg_query.ScanToken, bool) {
	res, err := pg_query.Scan(text)
	if err != nil {
		return nil, false
	}
	var out []*pg_query.ScanToken
	depth := 0
	for _, t := range res.Tokens {
		if t.Start < 0 || t.Start > t.End || int(t.End) > len(text) {
			return nil, false
		}
		switch t.Token {
		case pg_query.Token_SQL_COMMENT, pg_query.Token_C_COMMENT:
			continue
		case pg_query.Token_ASCII_40, pg_query.Token_ASCII_91: // ( [
			depth++
			continue
		case pg_query.Token_ASCII_41, pg_query.Token_ASCII_93: // ) ]
			depth--
			continue
		}
		if depth == 0 {
			out = append(out, t)
		}
	}
	return out, depth == 0
}

// find returns the index of the first token of kind k at or after from,
// or -1.
func find(toks []*pg_query.ScanToken, from int, k pg_query.Token) int {
	for i := from; i < len(toks); i++ {
		if toks[i].Token == k {
			return i
		}
	}
	return -1
}

// splicer builds a statement from pieces of the user's text and
// Lifebelt's own.
type splicer struct {
	strings.Builder
}

// user adds a piece of the user's text, without the white space around
// it. A line comment in it would run on into what follows, so the piece
// then ends with a newline.
func (s *splicer) user(piece string) {
	piece = strings.TrimSpace(piece)
	s.WriteString(piece)
	if strings.Contains(piece, "--") {
		s.WriteByte('\n')
	}
}

// relationText is rv as a FROM item names it: [ONLY] and the quoted,
// qualified name (no alias).
func relationText(rv *pg_query.RangeVar) string {
	var b strings.Builder
	if !rv.Inh {
		b.WriteString("ONLY ")
	}
	for _, p := range []string{rv.Catalogname, rv.Schemaname} {
		if p != "" {
			b.WriteString(quoteIdent(p) + ".")
		}
	}
	b.WriteString(quoteIdent(rv.Relname))
	return b.String()
}

// withReturning splices a RETURNING list in place of the statement's own,
// for rewrites that change nothing else (INSERT, DELETE). "" when the
// text's clauses are not where the tree says.
func withReturning(text string, hasReturning bool, returning string) string {
	toks, ok := clauseTokens(text)
	if !ok {
		return ""
	}
	end := len(text)
	if i := find(toks, 0, pg_query.Token_RETURNING); i >= 0 {
		if !hasReturning {
			return ""
		}
		end = int(toks[i].Start)
	} else if hasReturning {
		return ""
	}
	var s splicer
	s.user(text[:end])
	s.WriteString(" RETURNING " + returning)
	return s.String()
}

// spliceUpdate is updateRewrite (with the same names) done on the text:
//
//	<user's text up to the end of SET> FROM (<old rows>) AS old[, <user's FROM items>]
//	WHERE (<join>)[ AND (<user's condition>)] RETURNING <Lifebelt's list>
//
// "" when the text's clauses are not where the tree says.
func spliceUpdate(text string, u *pg_query.UpdateStmt, names helperNames) string {
	toks, ok := clauseTokens(text)
	if !ok {
		return ""
	}
	up := find(toks, 0, pg_query.Token_UPDATE)
	if up < 0 {
		return ""
	}
	set := find(toks, up+1, pg_query.Token_SET)
	if set < 0 {
		return ""
	}
	// FROM, WHERE and RETURNING after SET; a FROM of IS [NOT] DISTINCT
	// FROM in a SET value is not the clause.
	from, where, ret := -1, -1, -1
	for i := set + 1; i < len(toks); i++ {
		switch toks[i].Token {
		case pg_query.Token_FROM:
			if from < 0 && where < 0 && ret < 0 && toks[i-1].Token != pg_query.Token_DISTINCT {
				from = i
			}
		case pg_query.Token_WHERE:
			if where < 0 && ret < 0 {
				where = i
			}
		case pg_query.Token_RETURNING:
			if ret < 0 {
				ret = i
			}
		}
	}
	if (from >= 0) != (len(u.FromClause) > 0) || (where >= 0) != (u.WhereClause != nil) || (ret >= 0) != (len(u.ReturningList) > 0) {
		return ""
	}
	start := func(i int) int {
		if i < 0 {
			return len(text)
		}
		return int(toks[i].Start)
	}
	// The end of each user clause is the start of the next one present.
	next := func(cands ...int) int {
		for _, c := range cands {
			if c >= 0 {
				return start(c)
			}
		}
		return len(text)
	}
	ref := quoteIdent(refName(u.Relation))
	self, old := quoteIdent(names.name("self")), quoteIdent(names.name("old"))
	toid, ctid, row := quoteIdent(names.name("toid")), quoteIdent(names.name("ctid")), quoteIdent(names.name("row"))

	var s splicer
	s.user(text[:next(from, where, ret)])
	s.WriteString(" FROM (SELECT " + self + ".tableoid AS " + toid + ", " + self + ".ctid AS " + ctid + ", " + self + " AS " + row +
		" FROM " + relationText(u.Relation) + " AS " + self + ") AS " + old)
	if from >= 0 {
		s.WriteString(", ")
		s.user(text[toks[from].End:next(where, ret)])
	}
	s.WriteString(" WHERE (" + ref + ".ctid = " + old + "." + ctid + " AND " + ref + ".tableoid = " + old + "." + toid + ")")
	if where >= 0 {
		s.WriteString(" AND (")
		s.user(text[toks[where].End:next(ret)])
		s.WriteString(")")
	}
	s.WriteString(" RETURNING " + old + "." + toid + ", " + ref + ".tableoid, (" + old + "." + row + ").*, " + ref + ".*")
	return s.String()
}
