package engine

import "strings"

// Renames an undo runs (reverting ALTER TABLE ... RENAME) change the names
// of tables and columns it wrote rows of earlier in the same transaction.
// What it keeps for the end (tables to move sequences of, the reference
// check) records the number of renames run by then (an epoch), and is
// renamed by the later ones at the end.

// renameOp is one revert that renamed a table (from to to) or columns of it.
type renameOp struct {
	schema, from, to string
	columns          map[string]string
}

// sameIdent compares two identifiers as the target does: SQLite ignores
// the case of ASCII letters, PostgreSQL does not (quoted names keep it).
func (u *undoer) sameIdent(a, b string) bool {
	if u.s.id.Dialect == "sqlite" {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// ddlKey names a table for u.ddl: SQLite's tables are "main" in foreign
// keys and unqualified in the journal, and its names ignore case.
func (u *undoer) ddlKey(schema, name string) string {
	if u.s.id.Dialect != "sqlite" {
		return schema + "\x00" + name
	}
	if schema == "main" {
		schema = ""
	}
	return strings.ToLower(schema + "\x00" + name)
}

func (u *undoer) sameTable(schema, name, schema2, name2 string) bool {
	return u.ddlKey(schema, name) == u.ddlKey(schema2, name2)
}

// renamed is table schema.name, and its columns cols, after the renames
// the undo ran since epoch.
func (u *undoer) renamed(schema, name string, cols []string, epoch int) (string, []string) {
	if epoch >= len(u.renames) {
		return name, cols
	}
	cols = append([]string(nil), cols...)
	for _, r := range u.renames[epoch:] {
		if !u.sameTable(schema, name, r.schema, r.from) {
			continue
		}
		for i, c := range cols {
			for from, to := range r.columns {
				if u.sameIdent(c, from) {
					cols[i] = to
					break
				}
			}
		}
		name = r.to
	}
	return name, cols
}

// renamedTable is t under the names the undo's renames since epoch gave it.
func (u *undoer) renamedTable(t TableInfo, epoch int) TableInfo {
	if epoch >= len(u.renames) {
		return t
	}
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	t.Name, names = u.renamed(t.Schema, t.Name, names, epoch)
	t.Columns = append([]Column(nil), t.Columns...)
	for i := range t.Columns {
		t.Columns[i].Name = names[i]
	}
	return t
}

// renamedKey is fk under the names the undo's renames since epoch gave it.
func (u *undoer) renamedKey(fk ForeignKey, epoch int) ForeignKey {
	fk.Child.Name, fk.ChildCols = u.renamed(fk.Child.Schema, fk.Child.Name, fk.ChildCols, epoch)
	fk.Parent.Name, fk.ParentCols = u.renamed(fk.Parent.Schema, fk.Parent.Name, fk.ParentCols, epoch)
	return fk
}
