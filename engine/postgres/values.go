package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"lifebelt/engine"
)

// querier is satisfied by pgx.Tx and *pgx.Conn.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// textResults asks the server for every result column in text format: the
// text output of each type round-trips exactly through its input function,
// so images need no per-type decoding (numeric precision, timestamps with
// zones, intervals, arrays, json, bytea hex all survive).
var textResults = pgx.QueryResultFormats{pgx.TextFormatCode}

// queryText runs a query whose result columns all come back as text.
func queryText(ctx context.Context, q querier, sql string, args ...any) (pgx.Rows, error) {
	return q.Query(ctx, sql, append([]any{textResults}, args...)...)
}

// rawToValues converts one text-format row into Values, reusing dst.
func rawToValues(raw [][]byte, dst []engine.Value) []engine.Value {
	dst = dst[:0]
	for _, b := range raw {
		if b == nil {
			dst = append(dst, engine.Value{})
			continue
		}
		dst = append(dst, engine.Value{K: engine.TextKind, S: string(b)})
	}
	return dst
}

// valueArg turns a Value into a query argument for a `$n::text` parameter:
// nil for NULL, the text representation otherwise.
func valueArg(v engine.Value) any {
	switch v.K {
	case engine.NullKind:
		return nil
	case engine.TextKind:
		return v.S
	}
	return v.String()
}
