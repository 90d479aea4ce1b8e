package sqlite

import (
	"context"
	"fmt"
	"strings"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// plan is how one statement runs, decided from what SQLite's authorizer
// reported while the statement was prepared (SQLite's own parser, so
// comments, quoting, CTEs and trigger bodies are all accounted for).
type plan struct {
	read      bool   // changes nothing: run as a query
	unguarded string // why the statement cannot be guarded, "" if it can
	dml       bool   // the statement itself inserts, updates or deletes
	meta      *schemaInfo
	// targets are the tables the statement writes directly,
	// trigWrites (lower-case) those trigger bodies write.
	targets    []string
	trigWrites map[string]bool
	drops      []authEvent
	creates    []authEvent
	alters     []string
}

// queryPragmas take an argument yet only report.
var queryPragmas = map[string]bool{
	"table_info": true, "table_xinfo": true, "table_list": true,
	"index_info": true, "index_xinfo": true, "index_list": true,
	"foreign_key_list": true, "foreign_key_check": true,
	"integrity_check": true, "quick_check": true,
}

// schemaTables are SQLite's catalog; writes to them are DDL bookkeeping.
var schemaTables = map[string]bool{
	"sqlite_master": true, "sqlite_schema": true,
	"sqlite_temp_master": true, "sqlite_temp_schema": true,
}

func (t *tx) plan(ctx context.Context, s *cstmt, text string, events []authEvent) (*plan, error) {
	p := &plan{trigWrites: map[string]bool{}}
	for _, ev := range events {
		switch ev.code {
		case sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT:
			return nil, fmt.Errorf("sqlite: transaction control cannot run inside a guarded batch; Lifebelt commits or rolls back the batch itself")
		}
	}
	if s.explain() {
		p.read = true
		return p, nil
	}
	if firstWord(text) == "VACUUM" {
		p.unguarded = "VACUUM rebuilds the whole file outside any transaction"
	}
	changes := false
	for _, ev := range events {
		switch ev.code {
		case sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH:
			p.setUnguarded("ATTACH and DETACH change which databases the session writes")
		case sqlite3.SQLITE_PRAGMA:
			name := lowerASCII(ev.a1)
			if ev.hasA2 && !queryPragmas[name] {
				p.setUnguarded(fmt.Sprintf("PRAGMA %s changes a setting, which cannot be imaged or undone", name))
			}
		case sqlite3.SQLITE_DROP_VTABLE:
			p.setUnguarded(fmt.Sprintf("dropping virtual table %s, whose rows cannot be imaged", ev.a1))
		case sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE,
			sqlite3.SQLITE_DROP_TABLE, sqlite3.SQLITE_DROP_VIEW, sqlite3.SQLITE_DROP_INDEX, sqlite3.SQLITE_DROP_TRIGGER,
			sqlite3.SQLITE_CREATE_TABLE, sqlite3.SQLITE_CREATE_VIEW, sqlite3.SQLITE_CREATE_INDEX,
			sqlite3.SQLITE_CREATE_TRIGGER, sqlite3.SQLITE_CREATE_VTABLE, sqlite3.SQLITE_ALTER_TABLE:
			changes = true
		}
	}
	if p.unguarded == "" && !changes && s.readonly() {
		p.read = true
		return p, nil
	}
	meta, err := t.c.schema(ctx)
	if err != nil {
		return nil, err
	}
	p.meta = meta
	ddl := false
	for _, ev := range events {
		switch ev.code {
		case sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE:
			if schemaTables[lowerASCII(ev.a1)] {
				continue
			}
			switch ev.db {
			case "main":
			case "temp":
				if ev.inTrigger == "" {
					p.dml = true
				}
				continue
			default:
				p.setUnguarded(fmt.Sprintf("writes to attached database %s", ev.db))
				continue
			}
			if ev.inTrigger == "" {
				// Foreign-key actions are reported here too, at top level.
				p.dml = true
				p.targets = append(p.targets, ev.a1)
			} else {
				p.trigWrites[lowerASCII(ev.a1)] = true
			}
			if m := meta.table(ev.a1); m != nil && m.virtual {
				p.setUnguarded(fmt.Sprintf("writes to virtual table %s, whose row changes SQLite does not report", ev.a1))
			}
		case sqlite3.SQLITE_DROP_VTABLE:
			ddl = true
		case sqlite3.SQLITE_DROP_TABLE, sqlite3.SQLITE_DROP_VIEW, sqlite3.SQLITE_DROP_INDEX, sqlite3.SQLITE_DROP_TRIGGER:
			ddl = true
			if ev.db == "main" {
				p.drops = append(p.drops, ev)
			}
		case sqlite3.SQLITE_CREATE_TABLE, sqlite3.SQLITE_CREATE_VIEW, sqlite3.SQLITE_CREATE_INDEX,
			sqlite3.SQLITE_CREATE_TRIGGER, sqlite3.SQLITE_CREATE_VTABLE:
			ddl = true
			// ANALYZE creates sqlite_stat1: SQLite's, not the user's.
			if ev.db == "main" && !strings.HasPrefix(lowerASCII(ev.a1), "sqlite_") {
				p.creates = append(p.creates, ev)
			}
		case sqlite3.SQLITE_ALTER_TABLE:
			ddl = true
			if ev.a1 == "main" {
				p.alters = append(p.alters, ev.a2)
			}
		}
	}
	if ddl {
		// DROP TABLE deletes the table's rows and CREATE TABLE writes the
		// catalog; neither is the statement's own change count.
		p.dml = false
	}
	return p, nil
}

func (p *plan) setUnguarded(reason string) {
	if p.unguarded == "" {
		p.unguarded = reason
	}
}

// objectKind maps an authorizer DDL code to the sqlite_schema type and the
// journal's object kind.
func objectKind(code int) (typ, kind string) {
	switch code {
	case sqlite3.SQLITE_DROP_TABLE, sqlite3.SQLITE_CREATE_TABLE, sqlite3.SQLITE_CREATE_VTABLE:
		return "table", "TABLE"
	case sqlite3.SQLITE_DROP_VIEW, sqlite3.SQLITE_CREATE_VIEW:
		return "view", "VIEW"
	case sqlite3.SQLITE_DROP_INDEX, sqlite3.SQLITE_CREATE_INDEX:
		return "index", "INDEX"
	case sqlite3.SQLITE_DROP_TRIGGER, sqlite3.SQLITE_CREATE_TRIGGER:
		return "trigger", "TRIGGER"
	}
	return "", strings.ToUpper(fmt.Sprint(code))
}
