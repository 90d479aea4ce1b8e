package sqlite

import (
	"context"
	"fmt"

	sqlite3 "github.com/mattn/go-sqlite3"

	"lifebelt/engine"
)

// change runs a statement that changes the database: objects it drops or
// alters are imaged (definitions and, where data would be lost, rows)
// before it runs; row changes are imaged by the pre-update hook while it
// runs; objects it creates or alters are imaged after.
func (t *tx) change(ctx context.Context, s *cstmt, text string, p *plan, sink engine.Sink, opt engine.ExecOptions) (engine.Result, error) {
	cp := &capture{
		sink: sink, schema: p.meta, cc: t.c.cc,
		skip:       map[string]bool{},
		fkReach:    p.meta.descendants(p.targets),
		trigWrites: p.trigWrites,
		targets:    map[targetKey]*target{},
		trigCount:  map[string]int{},
	}
	var after []func() error
	dropped := map[string]bool{}
	for _, ev := range p.drops {
		if ev.code == sqlite3.SQLITE_DROP_TABLE {
			dropped[lowerASCII(ev.a1)] = true
		}
	}
	for _, ev := range p.drops {
		typ, kind := objectKind(ev.code)
		if typ != "table" && dropped[lowerASCII(ev.a2)] {
			continue // an index or trigger of a dropped table is in its definition
		}
		if typ == "table" {
			m := p.meta.table(ev.a1)
			if m == nil {
				return engine.Result{}, fmt.Errorf("sqlite: table %s is not in the schema", ev.a1)
			}
			def, err := t.c.tableDefinition(ctx, p.meta, m)
			if err != nil {
				return engine.Result{}, err
			}
			h, err := t.imageAllRows(ctx, m, sink)
			if err != nil {
				return engine.Result{}, err
			}
			obj := engine.ObjectImage{Kind: kind, Name: m.info.Name, Action: engine.ActionDrop, Before: &def, Table: h}
			if err := sink.Object(obj); err != nil {
				return engine.Result{}, err
			}
			// Its rows are imaged; the implicit DELETE that foreign keys
			// make DROP TABLE run must not image them twice.
			cp.skip[lowerASCII(m.info.Name)] = true
			continue
		}
		o, ok := p.meta.find(typ, ev.a1)
		if !ok {
			return engine.Result{}, fmt.Errorf("sqlite: %s %s is not in the schema", typ, ev.a1)
		}
		def := objectDefinition(o)
		if err := sink.Object(engine.ObjectImage{Kind: kind, Name: o.name, Action: engine.ActionDrop, Before: &def}); err != nil {
			return engine.Result{}, err
		}
	}
	for _, name := range p.alters {
		m := p.meta.table(name)
		if m == nil {
			return engine.Result{}, fmt.Errorf("sqlite: table %s is not in the schema", name)
		}
		before, err := t.c.tableDefinition(ctx, p.meta, m)
		if err != nil {
			return engine.Result{}, err
		}
		obj := engine.ObjectImage{Kind: "TABLE", Name: m.info.Name, Action: engine.ActionAlter, Before: &before}
		action, newName := alterAction(text)
		var defaults map[string]*string
		if action == "DROP COLUMN" {
			// The column's values are gone afterwards: every row is imaged,
			// for undo to put them back (and for people).
			if obj.Table, err = t.imageAllRows(ctx, m, sink); err != nil {
				return engine.Result{}, err
			}
			if defaults, err = t.columnDefaults(ctx, m.info.Name); err != nil {
				return engine.Result{}, err
			}
		}
		cp.skip[lowerASCII(m.info.Name)] = true
		if action != "RENAME TO" {
			newName = m.info.Name
		}
		after = append(after, func() error {
			meta, err := t.c.schema(ctx)
			if err != nil {
				return err
			}
			nm := meta.table(newName)
			if nm == nil {
				return fmt.Errorf("sqlite: table %s not found after ALTER TABLE %s", newName, m.info.Name)
			}
			def, err := t.c.tableDefinition(ctx, meta, nm)
			if err != nil {
				return err
			}
			obj.After = &def
			why, err := t.alterReverts(ctx, action, m, nm, obj.Before, obj.After, defaults)
			if err != nil {
				return err
			}
			if err := sink.Object(obj); err != nil {
				return err
			}
			if obj.After.Revert == nil {
				msg := fmt.Sprintf("ALTER TABLE %s: its definition before and after was recorded; Lifebelt does not undo this change automatically", QuoteIdent(m.info.Name))
				if why != "" {
					msg += " (" + why + ")"
				}
				if obj.Table != 0 {
					msg += "; its rows were imaged because the change drops column values"
				}
				sink.Warn(msg)
			}
			return nil
		})
	}
	for _, ev := range p.creates {
		typ, kind := objectKind(ev.code)
		if _, existed := p.meta.find(typ, ev.a1); existed {
			continue // CREATE ... IF NOT EXISTS of an existing object
		}
		name := ev.a1
		after = append(after, func() error {
			meta, err := t.c.schema(ctx)
			if err != nil {
				return err
			}
			o, ok := meta.find(typ, name)
			if !ok {
				return nil
			}
			def := objectDefinition(o)
			return sink.Object(engine.ObjectImage{Kind: kind, Name: o.name, Action: engine.ActionCreate, After: &def})
		})
	}
	res, err := t.run(ctx, s, cp, p.dml, opt)
	if err != nil {
		return res, err
	}
	for _, f := range after {
		if err := f(); err != nil {
			return engine.Result{}, err
		}
	}
	cp.warnings()
	return res, nil
}

// imageAllRows sends every row of m as a delete image and returns the
// handle they were sent under.
func (t *tx) imageAllRows(ctx context.Context, m *tableMeta, sink engine.Sink) (int64, error) {
	h, err := sink.Table(m.info)
	if err != nil {
		return 0, err
	}
	err = t.c.cc.query(ctx, selectRows(m.info, m)+" FROM main."+QuoteIdent(m.info.Name), nil, func(row []engine.Value) error {
		return sink.Row(h, engine.OpDelete, row, nil)
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: imaging the rows of %s: %w", m.info.Name, err)
	}
	return h, nil
}

// selectRows is "SELECT <columns>" of ti in TableInfo order, with NULL
// for m's VIRTUAL generated columns (see capture.fill).
func selectRows(ti engine.TableInfo, m *tableMeta) string {
	b := []byte("SELECT ")
	for i, c := range ti.Columns {
		if i > 0 {
			b = append(b, ", "...)
		}
		if c.Generated && m.virtualCols[lowerASCII(c.Name)] {
			b = append(b, "NULL"...)
		} else {
			b = append(b, QuoteIdent(c.Name)...)
		}
	}
	return string(b)
}
