package sqlite

import (
	"context"
	"fmt"
	"strings"

	"lifebelt/engine"
)

var _ engine.DestructionDescriber = (*conn)(nil)

// DescribeDestruction says what a destructive statement would destroy:
// each table or view of the main database it names, with a table's rows,
// the views and triggers elsewhere that name it, and the foreign keys of
// other tables that reference it.
func (c *conn) DescribeDestruction(ctx context.Context, st engine.Statement) ([]string, error) {
	meta, err := c.schema(ctx)
	if err != nil {
		return nil, err
	}
	column := droppedColumn(st)
	var out []string
	for _, t := range st.Targets {
		temp := strings.EqualFold(t.Schema, "temp")
		if t.Schema != "" && !temp && !strings.EqualFold(t.Schema, "main") {
			continue
		}
		if !temp && t.Schema == "" {
			// An unqualified name means the temporary table first.
			if temp, err = c.hasTable(ctx, "temp", t.Name); err != nil {
				return out, err
			}
		}
		if temp {
			if ok, err := c.hasTable(ctx, "temp", t.Name); err != nil || !ok {
				return out, err
			}
			n, err := c.countRows(ctx, "temp."+QuoteIdent(t.Name))
			if err != nil {
				return out, err
			}
			out = append(out, fmt.Sprintf("temporary table %s with %d row(s)", t.Name, n))
			continue
		}
		for _, typ := range []string{"table", "view", "index", "trigger"} {
			o, ok := meta.find(typ, t.Name)
			if !ok {
				continue
			}
			fact := typ + " " + o.name
			if typ == "table" {
				n, err := c.countRows(ctx, "main."+QuoteIdent(o.name))
				if err != nil {
					return out, err
				}
				fact += fmt.Sprintf(" with %d row(s)", n)
			}
			if column != "" {
				fact = "column " + column + " of " + fact
			}
			out = append(out, fact)
			if typ != "table" && typ != "view" {
				break
			}
			for _, d := range meta.objects {
				if (d.typ == "view" || d.typ == "trigger") && !strings.EqualFold(d.name, o.name) && !strings.EqualFold(d.table, o.name) &&
					mentions(d.sql, o.name) && (column == "" || mentions(d.sql, column)) {
					out = append(out, d.typ+" "+d.name+" names it")
				}
			}
			if typ == "table" && column == "" {
				for _, other := range meta.objects {
					if other.typ != "table" || strings.EqualFold(other.name, o.name) {
						continue
					}
					err := c.cc.query(ctx, `SELECT DISTINCT upper(on_delete) FROM pragma_foreign_key_list(?, 'main') WHERE "table" = ? COLLATE NOCASE`,
						[]engine.Value{textValue(other.name), textValue(o.name)}, func(r []engine.Value) error {
							fact := "a foreign key of " + other.name + " references it"
							switch {
							// DROP TABLE deletes the rows first (foreign
							// key actions fire); other verbs delete none.
							case st.Verb != "DELETE" && st.Verb != "DROP":
							case r[0].S == "CASCADE":
								fact += " (ON DELETE CASCADE: deleting its rows deletes theirs)"
							case r[0].S == "SET NULL" || r[0].S == "SET DEFAULT":
								fact += " (ON DELETE " + r[0].S + ")"
							}
							out = append(out, fact)
							return nil
						})
					if err != nil {
						return out, fmt.Errorf("sqlite: reading the foreign keys of %s: %w", other.name, err)
					}
				}
			}
			break
		}
	}
	return out, nil
}

// mentions reports whether SQL text names name as an identifier: a
// quoted name, or a bare word that is not one of SQLite's keywords (a
// table named "select" is not named by every SELECT).
func mentions(sql, name string) bool {
	for _, tk := range lexTokens(sql, 0) {
		if tk.ident != "" && strings.EqualFold(tk.ident, name) && (tk.quoted || !isKeyword(tk.ident)) {
			return true
		}
	}
	return false
}

// droppedColumn is the column ALTER TABLE ... DROP [COLUMN] drops, "" for
// other statements.
func droppedColumn(st engine.Statement) string {
	if !st.DropsColumn {
		return ""
	}
	toks := lexTokens(st.Text, 0)
	for i, tk := range toks {
		if tk.word == "DROP" && !tk.quoted {
			j := i + 1
			if j < len(toks) && toks[j].word == "COLUMN" && !toks[j].quoted {
				j++
			}
			if j < len(toks) {
				return toks[j].ident
			}
		}
	}
	return ""
}

// countRows counts the rows of a quoted, qualified table.
func (c *conn) countRows(ctx context.Context, table string) (int64, error) {
	var n int64
	err := c.cc.query(ctx, "SELECT count(*) FROM "+table, nil, func(r []engine.Value) error {
		n = r[0].I
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: counting the rows of %s: %w", table, err)
	}
	return n, nil
}

// hasTable reports whether schema ("main" or "temp") has a table of that
// name.
func (c *conn) hasTable(ctx context.Context, schema, name string) (bool, error) {
	found := false
	err := c.cc.query(ctx, "SELECT 1 FROM "+QuoteIdent(schema)+".sqlite_schema WHERE type = 'table' AND name = ? COLLATE NOCASE",
		[]engine.Value{textValue(name)}, func([]engine.Value) error {
			found = true
			return nil
		})
	if err != nil {
		return false, fmt.Errorf("sqlite: looking for table %s.%s: %w", schema, name, err)
	}
	return found, nil
}
