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
	var out []string
	for _, t := range st.Targets {
		if t.Schema != "" && t.Schema != "main" {
			continue
		}
		for _, typ := range []string{"table", "view", "index", "trigger"} {
			o, ok := meta.find(typ, t.Name)
			if !ok {
				continue
			}
			fact := typ + " " + o.name
			if typ == "table" {
				var n int64
				err := c.cc.query(ctx, "SELECT count(*) FROM main."+QuoteIdent(o.name), nil, func(r []engine.Value) error {
					n = r[0].I
					return nil
				})
				if err != nil {
					return out, fmt.Errorf("sqlite: counting the rows of %s: %w", o.name, err)
				}
				fact += fmt.Sprintf(" with %d row(s)", n)
			}
			out = append(out, fact)
			if typ != "table" && typ != "view" {
				break
			}
			for _, d := range meta.objects {
				if (d.typ == "view" || d.typ == "trigger") && !strings.EqualFold(d.name, o.name) && !strings.EqualFold(d.table, o.name) && mentions(d.sql, o.name) {
					out = append(out, d.typ+" "+d.name+" names it")
				}
			}
			if typ == "table" {
				for _, other := range meta.objects {
					if other.typ != "table" || strings.EqualFold(other.name, o.name) {
						continue
					}
					err := c.cc.query(ctx, `SELECT DISTINCT upper(on_delete) FROM pragma_foreign_key_list(?, 'main') WHERE "table" = ? COLLATE NOCASE`,
						[]engine.Value{textValue(other.name), textValue(o.name)}, func(r []engine.Value) error {
							fact := "a foreign key of " + other.name + " references it"
							switch {
							case st.Verb != "DELETE":
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

// mentions reports whether SQL text names name as an identifier.
func mentions(sql, name string) bool {
	for _, tk := range lexTokens(sql, 0) {
		if tk.ident != "" && strings.EqualFold(tk.ident, name) {
			return true
		}
	}
	return false
}
