package postgres

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"

	"lifebelt/engine"
)

// Split splits a batch with PostgreSQL's own parser (pg_query) and
// classifies each statement from its parse tree.
// The statements' trees are kept for Exec (see treeCache).
func (c *conn) Split(sql string) ([]engine.Statement, error) {
	sts, trees, err := splitTrees(sql)
	if err != nil {
		return nil, err
	}
	texts := make([]string, len(sts))
	for i, st := range sts {
		texts[i] = st.Text
	}
	c.trees.put(texts, trees)
	return sts, nil
}

// split parses the whole batch once: the parser's statement locations are
// the exact boundaries SplitWithParser would report, and the same parse
// yields the trees that classify each statement.
func split(text string) ([]engine.Statement, error) {
	sts, _, err := splitTrees(text)
	return sts, err
}

// splitTrees is split that also returns each statement's parse tree.
func splitTrees(text string) ([]engine.Statement, []*pg_query.Node, error) {
	if i := strings.IndexByte(text, 0); i >= 0 {
		return nil, nil, &engine.SyntaxError{Offset: i, Msg: "the text contains a NUL byte, which PostgreSQL does not accept"}
	}
	if !utf8.ValidString(text) {
		return nil, nil, &engine.SyntaxError{Offset: firstInvalidUTF8(text), Msg: "the text is not valid UTF-8"}
	}
	res, err := pg_query.Parse(text)
	if err != nil {
		return nil, nil, syntaxError(text, err)
	}
	out := make([]engine.Statement, 0, len(res.Stmts))
	trees := make([]*pg_query.Node, 0, len(res.Stmts))
	for _, raw := range res.Stmts {
		start := int(raw.StmtLocation)
		end := len(text)
		if raw.StmtLen > 0 {
			end = start + int(raw.StmtLen)
		}
		if start < 0 || end > len(text) || start > end {
			return nil, nil, &engine.SyntaxError{Offset: 0, Msg: "the parser reported a statement outside the text"}
		}
		seg := text[start:end]
		trimmed := strings.TrimLeft(seg, " \t\r\n\f\v")
		start += len(seg) - len(trimmed)
		trimmed = strings.TrimRight(trimmed, " \t\r\n\f\v")
		if trimmed == "" {
			continue
		}
		st := classify(raw.Stmt, trimmed)
		st.Index = len(out)
		st.Offset = start
		st.Text = trimmed
		out = append(out, st)
		trees = append(trees, raw.Stmt)
	}
	return out, trees, nil
}

// syntaxError turns a parser error into an *engine.SyntaxError. The parser
// reports a 1-based character position; the engine wants a byte offset.
func syntaxError(text string, err error) error {
	pos := 0
	var pe *parser.Error
	if errors.As(err, &pe) {
		pos = pe.Cursorpos
	}
	return &engine.SyntaxError{Offset: byteOffset(text, pos-1), Msg: err.Error()}
}

// byteOffset is the byte offset of the n-th character (0-based) of s,
// clamped to the text.
func byteOffset(s string, n int) int {
	if n <= 0 {
		return 0
	}
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}

func firstInvalidUTF8(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return i
			}
		}
	}
	return 0
}

// classify derives Kind, Verb, Object, Targets and flags from a statement's
// parse tree; text is the statement's source, used only to name the verb of
// statements this function does not know.
func classify(n *pg_query.Node, text string) engine.Statement {
	st := engine.Statement{Kind: engine.KindOther}
	switch {
	case n.GetSelectStmt() != nil, n.GetInsertStmt() != nil, n.GetUpdateStmt() != nil, n.GetDeleteStmt() != nil, n.GetMergeStmt() != nil:
		// Their verb comes from the tree, below; the others' first keyword
		// takes a scan of the text.
	default:
		st.Verb = firstKeyword(text)
	}
	switch {
	case n.GetSelectStmt() != nil:
		s := n.GetSelectStmt()
		if s.IntoClause != nil {
			st.Kind, st.Verb, st.Object = engine.KindDDL, "CREATE", "TABLE"
			st.Targets = []engine.Name{rangeVarName(s.IntoClause.Rel)}
			return st
		}
		if m := modifyingCTE(s.WithClause); m != nil {
			return dmlOf(m, st)
		}
		// VALUES, TABLE and WITH ... SELECT are selects too.
		st.Kind, st.Verb = engine.KindRead, "SELECT"
	case n.GetInsertStmt() != nil, n.GetUpdateStmt() != nil, n.GetDeleteStmt() != nil, n.GetMergeStmt() != nil:
		return dmlOf(n, st)
	case n.GetExplainStmt() != nil:
		e := n.GetExplainStmt()
		st.Kind, st.Verb = engine.KindRead, "EXPLAIN"
		if explainAnalyze(e) {
			if inner := dmlOf(e.Query, engine.Statement{}); inner.Kind == engine.KindDML {
				// EXPLAIN ANALYZE runs the statement.
				st.Kind, st.Targets, st.HasWhere = engine.KindDML, inner.Targets, true
			}
		}
	case n.GetVariableShowStmt() != nil:
		st.Kind, st.Verb = engine.KindRead, "SHOW"
	case n.GetDeclareCursorStmt() != nil, n.GetFetchStmt() != nil:
		st.Kind = engine.KindRead
	case n.GetTransactionStmt() != nil:
		st.Kind, st.Verb = engine.KindTxControl, txVerb(n.GetTransactionStmt().Kind)
	default:
		classifyDDL(n, &st)
	}
	return st
}

// dmlOf classifies an INSERT/UPDATE/DELETE/MERGE node (or a top-level
// statement whose data-modifying CTE it is).
func dmlOf(n *pg_query.Node, st engine.Statement) engine.Statement {
	switch {
	case n.GetInsertStmt() != nil:
		s := n.GetInsertStmt()
		st.Kind, st.Verb = engine.KindDML, "INSERT"
		if s.OnConflictClause != nil {
			st.Verb = "UPSERT"
		}
		st.Targets = []engine.Name{rangeVarName(s.Relation)}
	case n.GetUpdateStmt() != nil:
		s := n.GetUpdateStmt()
		st.Kind, st.Verb, st.HasWhere = engine.KindDML, "UPDATE", s.WhereClause != nil
		st.Targets = []engine.Name{rangeVarName(s.Relation)}
	case n.GetDeleteStmt() != nil:
		s := n.GetDeleteStmt()
		st.Kind, st.Verb, st.HasWhere = engine.KindDML, "DELETE", s.WhereClause != nil
		st.Targets = []engine.Name{rangeVarName(s.Relation)}
	case n.GetMergeStmt() != nil:
		s := n.GetMergeStmt()
		st.Kind, st.Verb, st.HasWhere = engine.KindDML, "MERGE", true
		st.Targets = []engine.Name{rangeVarName(s.Relation)}
	}
	return st
}

// modifyingCTE returns the query of the first data-modifying CTE (which
// PostgreSQL allows only at the top level), or nil.
func modifyingCTE(w *pg_query.WithClause) *pg_query.Node {
	if w == nil {
		return nil
	}
	for _, c := range w.Ctes {
		q := c.GetCommonTableExpr().GetCtequery()
		if q == nil {
			continue
		}
		if q.GetInsertStmt() != nil || q.GetUpdateStmt() != nil || q.GetDeleteStmt() != nil || q.GetMergeStmt() != nil {
			return q
		}
	}
	return nil
}

func explainAnalyze(e *pg_query.ExplainStmt) bool {
	for _, o := range e.Options {
		d := o.GetDefElem()
		if d == nil || d.Defname != "analyze" {
			continue
		}
		if d.Arg == nil {
			return true
		}
		// EXPLAIN (ANALYZE false) does not run the statement.
		switch v := strings.ToLower(defElemText(d.Arg)); v {
		case "false", "off", "0", "no":
			return false
		}
		return true
	}
	return false
}

func defElemText(n *pg_query.Node) string {
	if s := n.GetString_(); s != nil {
		return s.Sval
	}
	if b := n.GetBoolean(); b != nil {
		if b.Boolval {
			return "true"
		}
		return "false"
	}
	if i := n.GetInteger(); i != nil {
		if i.Ival == 0 {
			return "0"
		}
		return "1"
	}
	if c := n.GetAConst(); c != nil {
		if c.GetBoolval() != nil && !c.GetBoolval().Boolval {
			return "false"
		}
		if c.GetSval() != nil {
			return c.GetSval().Sval
		}
		if c.GetIval() != nil && c.GetIval().Ival == 0 {
			return "0"
		}
	}
	return "true"
}

func txVerb(k pg_query.TransactionStmtKind) string {
	switch k {
	case pg_query.TransactionStmtKind_TRANS_STMT_BEGIN, pg_query.TransactionStmtKind_TRANS_STMT_START:
		return "BEGIN"
	case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT:
		return "COMMIT"
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK, pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		return "ROLLBACK"
	case pg_query.TransactionStmtKind_TRANS_STMT_SAVEPOINT:
		return "SAVEPOINT"
	case pg_query.TransactionStmtKind_TRANS_STMT_RELEASE:
		return "RELEASE"
	case pg_query.TransactionStmtKind_TRANS_STMT_PREPARE:
		return "PREPARE TRANSACTION"
	case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT_PREPARED:
		return "COMMIT PREPARED"
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_PREPARED:
		return "ROLLBACK PREPARED"
	}
	return "BEGIN"
}

// firstKeyword is the statement's first token, upper-cased, skipping
// comments; "" when the text has none.
func firstKeyword(text string) string {
	res, err := pg_query.Scan(text)
	if err != nil {
		return ""
	}
	for _, t := range res.Tokens {
		if t.Token == pg_query.Token_SQL_COMMENT || t.Token == pg_query.Token_C_COMMENT {
			continue
		}
		if int(t.End) > len(text) || t.Start < 0 || t.Start > t.End {
			return ""
		}
		return strings.ToUpper(text[t.Start:t.End])
	}
	return ""
}

func rangeVarName(rv *pg_query.RangeVar) engine.Name {
	if rv == nil {
		return engine.Name{}
	}
	return engine.Name{Schema: rv.Schemaname, Name: rv.Relname}
}

// listName turns a qualified name given as a list of String nodes
// ([catalog.][schema.]name) into a Name.
func listName(items []*pg_query.Node) engine.Name {
	var parts []string
	for _, it := range items {
		if s := it.GetString_(); s != nil {
			parts = append(parts, s.Sval)
		}
	}
	switch len(parts) {
	case 0:
		return engine.Name{}
	case 1:
		return engine.Name{Name: parts[0]}
	}
	return engine.Name{Schema: parts[len(parts)-2], Name: parts[len(parts)-1]}
}

// objectTypeName is the SQL spelling of an object type: TABLE,
// MATERIALIZED VIEW, FOREIGN TABLE, ...
func objectTypeName(t pg_query.ObjectType) string {
	switch t {
	case pg_query.ObjectType_OBJECT_MATVIEW:
		return "MATERIALIZED VIEW"
	case pg_query.ObjectType_OBJECT_TABCONSTRAINT, pg_query.ObjectType_OBJECT_DOMCONSTRAINT:
		return "CONSTRAINT"
	case pg_query.ObjectType_OBJECT_FDW:
		return "FOREIGN DATA WRAPPER"
	case pg_query.ObjectType_OBJECT_FOREIGN_SERVER:
		return "SERVER"
	case pg_query.ObjectType_OBJECT_LARGEOBJECT:
		return "LARGE OBJECT"
	case pg_query.ObjectType_OBJECT_STATISTIC_EXT:
		return "STATISTICS"
	case pg_query.ObjectType_OBJECT_TSCONFIGURATION:
		return "TEXT SEARCH CONFIGURATION"
	case pg_query.ObjectType_OBJECT_TSDICTIONARY:
		return "TEXT SEARCH DICTIONARY"
	case pg_query.ObjectType_OBJECT_TSPARSER:
		return "TEXT SEARCH PARSER"
	case pg_query.ObjectType_OBJECT_TSTEMPLATE:
		return "TEXT SEARCH TEMPLATE"
	case pg_query.ObjectType_OBJECT_OPCLASS:
		return "OPERATOR CLASS"
	case pg_query.ObjectType_OBJECT_OPFAMILY:
		return "OPERATOR FAMILY"
	}
	return strings.ReplaceAll(strings.TrimPrefix(t.String(), "OBJECT_"), "_", " ")
}

// classifyDDL classifies definition and utility statements. Statements it
// does not name explicitly are classed by their node type: Create*, Define*,
// Alter*, Drop* and Rename* nodes are DDL, the rest KindOther.
func classifyDDL(n *pg_query.Node, st *engine.Statement) {
	ddl := func(verb, object string, targets ...engine.Name) {
		st.Kind, st.Verb, st.Object = engine.KindDDL, verb, object
		for _, t := range targets {
			if t.Name != "" {
				st.Targets = append(st.Targets, t)
			}
		}
	}
	switch {
	case n.GetCreateStmt() != nil:
		ddl("CREATE", "TABLE", rangeVarName(n.GetCreateStmt().Relation))
	case n.GetCreateForeignTableStmt() != nil:
		ddl("CREATE", "FOREIGN TABLE", rangeVarName(n.GetCreateForeignTableStmt().GetBaseStmt().GetRelation()))
	case n.GetCreateTableAsStmt() != nil:
		s := n.GetCreateTableAsStmt()
		ddl("CREATE", objectTypeName(s.Objtype), rangeVarName(s.GetInto().GetRel()))
	case n.GetViewStmt() != nil:
		s := n.GetViewStmt()
		ddl("CREATE", "VIEW", rangeVarName(s.View))
		st.OrReplace = s.Replace
	case n.GetCreateFunctionStmt() != nil:
		s := n.GetCreateFunctionStmt()
		obj := "FUNCTION"
		if s.IsProcedure {
			obj = "PROCEDURE"
		}
		ddl("CREATE", obj, listName(s.Funcname))
		st.OrReplace = s.Replace
	case n.GetIndexStmt() != nil:
		s := n.GetIndexStmt()
		ddl("CREATE", "INDEX", engine.Name{Schema: s.GetRelation().GetSchemaname(), Name: s.Idxname}, rangeVarName(s.Relation))
	case n.GetCreateTrigStmt() != nil:
		s := n.GetCreateTrigStmt()
		ddl("CREATE", "TRIGGER", engine.Name{Schema: s.GetRelation().GetSchemaname(), Name: s.Trigname}, rangeVarName(s.Relation))
		st.OrReplace = s.Replace
	case n.GetCreateSeqStmt() != nil:
		ddl("CREATE", "SEQUENCE", rangeVarName(n.GetCreateSeqStmt().Sequence))
	case n.GetCreateSchemaStmt() != nil:
		ddl("CREATE", "SCHEMA", engine.Name{Name: n.GetCreateSchemaStmt().Schemaname})
	case n.GetCreatedbStmt() != nil:
		ddl("CREATE", "DATABASE", engine.Name{Name: n.GetCreatedbStmt().Dbname})
	case n.GetDropdbStmt() != nil:
		ddl("DROP", "DATABASE", engine.Name{Name: n.GetDropdbStmt().Dbname})
		st.IfExists = n.GetDropdbStmt().MissingOk
	case n.GetCompositeTypeStmt() != nil:
		ddl("CREATE", "TYPE", rangeVarName(n.GetCompositeTypeStmt().Typevar))
	case n.GetCreateEnumStmt() != nil:
		ddl("CREATE", "TYPE", listName(n.GetCreateEnumStmt().TypeName))
	case n.GetCreateRangeStmt() != nil:
		ddl("CREATE", "TYPE", listName(n.GetCreateRangeStmt().TypeName))
	case n.GetCreateDomainStmt() != nil:
		ddl("CREATE", "DOMAIN", listName(n.GetCreateDomainStmt().Domainname))
	case n.GetDefineStmt() != nil:
		s := n.GetDefineStmt()
		ddl("CREATE", objectTypeName(s.Kind), listName(s.Defnames))
		st.OrReplace = s.Replace
	case n.GetCreateExtensionStmt() != nil:
		ddl("CREATE", "EXTENSION", engine.Name{Name: n.GetCreateExtensionStmt().Extname})
	case n.GetAlterTableStmt() != nil:
		s := n.GetAlterTableStmt()
		ddl("ALTER", objectTypeName(s.Objtype), rangeVarName(s.Relation))
		st.IfExists = s.MissingOk
		for _, c := range s.Cmds {
			if c.GetAlterTableCmd().GetSubtype() == pg_query.AlterTableType_AT_DropColumn {
				st.DropsColumn = true
			}
		}
	case n.GetAlterSeqStmt() != nil:
		ddl("ALTER", "SEQUENCE", rangeVarName(n.GetAlterSeqStmt().Sequence))
	case n.GetRenameStmt() != nil:
		s := n.GetRenameStmt()
		obj := s.RenameType
		if s.Relation != nil && (obj == pg_query.ObjectType_OBJECT_COLUMN || obj == pg_query.ObjectType_OBJECT_TABCONSTRAINT ||
			obj == pg_query.ObjectType_OBJECT_TRIGGER || obj == pg_query.ObjectType_OBJECT_POLICY || obj == pg_query.ObjectType_OBJECT_RULE) {
			obj = s.RelationType
		}
		name := rangeVarName(s.Relation)
		if s.Relation == nil {
			name = objectName(s.Object)
		}
		ddl("ALTER", objectTypeName(obj), name)
		st.IfExists = s.MissingOk
	case n.GetDropStmt() != nil:
		s := n.GetDropStmt()
		ddl("DROP", objectTypeName(s.RemoveType))
		for _, o := range s.Objects {
			if s.RemoveType == pg_query.ObjectType_OBJECT_TRIGGER {
				tbl, trig := triggerObject(o)
				st.Targets = append(st.Targets, engine.Name{Schema: tbl.Schema, Name: trig}, tbl)
				continue
			}
			st.Targets = append(st.Targets, objectName(o))
		}
		st.Cascade = s.Behavior == pg_query.DropBehavior_DROP_CASCADE
		st.IfExists = s.MissingOk
	case n.GetTruncateStmt() != nil:
		s := n.GetTruncateStmt()
		ddl("TRUNCATE", "TABLE")
		for _, r := range s.Relations {
			st.Targets = append(st.Targets, rangeVarName(r.GetRangeVar()))
		}
		st.Cascade = s.Behavior == pg_query.DropBehavior_DROP_CASCADE
	case n.GetCommentStmt() != nil:
		s := n.GetCommentStmt()
		name := objectName(s.Object)
		if items := s.Object.GetList().GetItems(); (s.Objtype == pg_query.ObjectType_OBJECT_COLUMN || s.Objtype == pg_query.ObjectType_OBJECT_TABCONSTRAINT) && len(items) > 1 {
			name = listName(items[:len(items)-1]) // the column's or constraint's table
		}
		ddl("COMMENT", objectTypeName(s.Objtype), name)
	case n.GetAlterSystemStmt() != nil:
		st.Verb = "ALTER SYSTEM"
	default:
		typ := strings.TrimPrefix(fmt.Sprintf("%T", n.GetNode()), "*pg_query.Node_")
		switch {
		case strings.HasPrefix(typ, "Create"), strings.HasPrefix(typ, "Define"):
			ddl("CREATE", "")
		case strings.HasPrefix(typ, "Alter"), strings.HasPrefix(typ, "Rename"):
			ddl("ALTER", "")
		case strings.HasPrefix(typ, "Drop"):
			ddl("DROP", "")
		}
	}
}

// objectName names the object of a DROP or COMMENT item: a qualified name
// list, a function with arguments, a type name or a plain string.
func objectName(o *pg_query.Node) engine.Name {
	switch {
	case o == nil:
		return engine.Name{}
	case o.GetList() != nil:
		return listName(o.GetList().Items)
	case o.GetObjectWithArgs() != nil:
		return listName(o.GetObjectWithArgs().Objname)
	case o.GetTypeName() != nil:
		return listName(o.GetTypeName().Names)
	case o.GetString_() != nil:
		return engine.Name{Name: o.GetString_().Sval}
	case o.GetRangeVar() != nil:
		return rangeVarName(o.GetRangeVar())
	}
	return engine.Name{}
}

// triggerObject splits DROP TRIGGER's [schema.]table.trigger list.
func triggerObject(o *pg_query.Node) (table engine.Name, trigger string) {
	items := o.GetList().GetItems()
	if len(items) == 0 {
		return engine.Name{}, ""
	}
	trigger = items[len(items)-1].GetString_().GetSval()
	return listName(items[:len(items)-1]), trigger
}
