package sqlite

import "lifebelt/engine"

// Split splits a batch with the engine's SQLite lexical rules. Exec does
// not trust the classification for safety: it prepares each statement and
// lets SQLite's authorizer report what the statement does.
func (c *conn) Split(text string) ([]engine.Statement, error) {
	return engine.SplitSQL(text, engine.SyntaxSQLite)
}
