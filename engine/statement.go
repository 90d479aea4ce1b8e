package engine

// Kind is the broad class of a statement.
type Kind int

// Statement kinds.
const (
	KindRead      Kind = iota // SELECT, EXPLAIN, SHOW, PRAGMA reads, ...
	KindDML                   // INSERT, UPDATE, DELETE, upserts, REPLACE, MERGE
	KindDDL                   // CREATE, ALTER, DROP, TRUNCATE, RENAME, COMMENT
	KindTxControl             // BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, END
	KindOther                 // anything else (VACUUM, SET, CALL, ...)
)

func (k Kind) String() string {
	switch k {
	case KindRead:
		return "read"
	case KindDML:
		return "dml"
	case KindDDL:
		return "ddl"
	case KindTxControl:
		return "tx-control"
	}
	return "other"
}

// Name is a possibly schema-qualified object name, unquoted.
type Name struct {
	Schema string // empty when unqualified
	Name   string
}

func (n Name) String() string {
	if n.Schema == "" {
		return n.Name
	}
	return n.Schema + "." + n.Name
}

// Statement is one statement of a batch, split and classified by the
// dialect's Conn.Split.
type Statement struct {
	Index  int    // position in the batch, from 0
	Offset int    // byte offset of Text in the batch
	Text   string // exact source text without the terminating semicolon
	Kind   Kind
	// Verb is the upper-case leading verb: SELECT, INSERT, UPDATE, DELETE,
	// UPSERT (INSERT ... ON CONFLICT DO UPDATE/NOTHING), REPLACE (SQLite
	// REPLACE / INSERT OR REPLACE), MERGE, CREATE, ALTER, DROP, TRUNCATE,
	// RENAME, COMMENT, BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, VACUUM ...
	Verb string
	// Object is the DDL object kind, upper-case: TABLE, VIEW, INDEX,
	// FUNCTION, PROCEDURE, TRIGGER, SEQUENCE, SCHEMA, DATABASE, ...
	Object string
	// Targets are the objects the statement writes or defines, in order.
	Targets   []Name
	HasWhere  bool // UPDATE/DELETE restricted by a WHERE clause
	Cascade   bool // DROP/TRUNCATE ... CASCADE
	OrReplace bool // CREATE OR REPLACE
	IfExists  bool // DROP ... IF EXISTS
	// DropsColumn: ALTER TABLE ... DROP [COLUMN], which destroys the
	// column's values in every row.
	DropsColumn bool
}

// Destructive reports whether the statement needs a confirmation naming the
// target database: DROP, TRUNCATE, ALTER TABLE ... DROP COLUMN, and UPDATE
// or DELETE without WHERE.
func (s Statement) Destructive() bool {
	switch s.Verb {
	case "DROP", "TRUNCATE":
		return true
	case "UPDATE", "DELETE":
		return !s.HasWhere
	case "ALTER":
		return s.DropsColumn
	}
	return false
}

// Changes reports whether the statement can change the database.
func (s Statement) Changes() bool {
	return s.Kind == KindDML || s.Kind == KindDDL || s.Kind == KindOther
}
