package journal

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
)

// FormatVersion is the journal format this package writes. It is stored in
// PRAGMA user_version; Open migrates older files up to it.
const FormatVersion = 2

// applicationID marks a SQLite file as a Lifebelt journal (PRAGMA
// application_id; "LfBj" in ASCII).
const applicationID = 0x4C66426A

// migration moves a journal from version to-1 to version to. It runs inside
// the transaction that also sets user_version, so a failed migration leaves
// the file as it was.
type migration struct {
	to int
	up func(ctx context.Context, tx *sql.Tx) error
}

// migrations lists every format step in order. The first creates the
// schema of a new file (version 0 → 1). Append, never edit: a released
// step is part of the format.
var migrations = []migration{
	{to: 1, up: execAll(schemaV1...)},
	{to: 2, up: chunkImages},
}

// schemaV1 is format version 1. docs/journal-format.md explains every
// column; keep the two in step.
var schemaV1 = []string{
	fmt.Sprintf("PRAGMA application_id = %d", applicationID),
	`CREATE TABLE header (
		id             INTEGER PRIMARY KEY CHECK (id = 1),
		session_id     TEXT NOT NULL,
		created_at     TEXT NOT NULL,
		dialect        TEXT NOT NULL,
		target         TEXT NOT NULL,
		server_version TEXT NOT NULL,
		database_name  TEXT NOT NULL,
		database_id    TEXT NOT NULL,
		identity_json  TEXT NOT NULL,
		operator       TEXT NOT NULL,
		hostname       TEXT NOT NULL,
		reason         TEXT NOT NULL,
		app_version    TEXT NOT NULL,
		hash           TEXT NOT NULL
	)`,
	`CREATE TABLE entries (
		seq           INTEGER PRIMARY KEY,
		at            TEXT NOT NULL,
		kind          TEXT NOT NULL,
		batch         INTEGER NOT NULL,
		idx           INTEGER NOT NULL,
		sql_text      TEXT NOT NULL,
		class         TEXT NOT NULL,
		status        TEXT NOT NULL,
		row_count     INTEGER NOT NULL,
		duration_us   INTEGER NOT NULL,
		error         TEXT NOT NULL,
		refs_json     TEXT,
		detail_json   TEXT,
		image_count   INTEGER NOT NULL,
		images_sha256 TEXT NOT NULL,
		prev_hash     TEXT NOT NULL,
		hash          TEXT NOT NULL
	)`,
	`CREATE INDEX entries_batch ON entries (batch)`,
	`CREATE TABLE image_tables (
		id           INTEGER PRIMARY KEY,
		seq          INTEGER NOT NULL,
		schema_name  TEXT NOT NULL,
		name         TEXT NOT NULL,
		columns_json TEXT NOT NULL,
		key_json     TEXT NOT NULL,
		key_kind     TEXT NOT NULL,
		level        INTEGER NOT NULL
	)`,
	`CREATE INDEX image_tables_seq ON image_tables (seq)`,
	// WITHOUT ROWID: the primary key is the (seq, ord) index, so each image
	// is written once, in key order, and read back by a range scan.
	`CREATE TABLE images (
		seq         INTEGER NOT NULL,
		ord         INTEGER NOT NULL,
		tbl         INTEGER NOT NULL,
		op          TEXT NOT NULL,
		key_json    TEXT,
		before_json TEXT,
		after_json  TEXT,
		PRIMARY KEY (seq, ord)
	) WITHOUT ROWID`,
	`CREATE TABLE objects (
		seq         INTEGER NOT NULL,
		ord         INTEGER NOT NULL,
		kind        TEXT NOT NULL,
		schema_name TEXT NOT NULL,
		name        TEXT NOT NULL,
		action      TEXT NOT NULL,
		before_json TEXT,
		after_json  TEXT,
		tbl         INTEGER NOT NULL,
		PRIMARY KEY (seq, ord)
	) WITHOUT ROWID`,
	`CREATE TABLE tail (
		id   INTEGER PRIMARY KEY CHECK (id = 1),
		seq  INTEGER NOT NULL,
		hash TEXT NOT NULL
	)`,
}

func execAll(stmts ...string) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return err
			}
		}
		return nil
	}
}

// migrate applies, inside tx, the steps of list above version from, then
// stores the final version in user_version and returns it. One transaction
// for all steps: a failure leaves the file at its old version.
func migrate(ctx context.Context, tx *sql.Tx, from int, list []migration) (int, error) {
	v := from
	for _, m := range list {
		if m.to <= v {
			continue
		}
		if m.to != v+1 {
			return from, fmt.Errorf("journal: no migration from format version %d to %d", v, m.to)
		}
		if err := m.up(ctx, tx); err != nil {
			return from, fmt.Errorf("journal: migrating from format version %d to %d: %w", v, m.to, err)
		}
		v = m.to
	}
	if v != from {
		// PRAGMA takes no parameters; v is an int, not user text.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
			return from, fmt.Errorf("journal: setting format version %d: %w", v, err)
		}
	}
	return v, nil
}

// fileVersion reads and checks the application id and user_version.
func fileVersion(ctx context.Context, db *sql.DB, path string) (int, error) {
	var app, ver int
	if err := db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&app); err != nil {
		return 0, fmt.Errorf("journal: %s is not a readable SQLite file: %w", path, err)
	}
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&ver); err != nil {
		return 0, fmt.Errorf("journal: reading format version of %s: %w", path, err)
	}
	switch {
	case app != applicationID:
		return ver, fmt.Errorf("journal: %s is not a Lifebelt journal (SQLite application id %#x)", path, app)
	case ver < 1:
		return ver, fmt.Errorf("journal: %s has no journal format version (user_version %d); it was not created by Lifebelt", path, ver)
	case ver > FormatVersion:
		return ver, fmt.Errorf("journal: %s has format version %d, newer than this Lifebelt understands (%d); use a newer Lifebelt", path, ver, FormatVersion)
	}
	return ver, nil
}

// chunkImages is format version 2: images move from one images row each
// into image_chunks (chunks.go). What an image is, and so every hash,
// stays the same; only the storage changes.
func chunkImages(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `CREATE TABLE image_chunks (
		seq       INTEGER NOT NULL,
		first_ord INTEGER NOT NULL,
		count     INTEGER NOT NULL,
		data      BLOB NOT NULL,
		PRIMARY KEY (seq, first_ord)
	)`); err != nil {
		return err
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO image_chunks (seq, first_ord, count, data) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	rows, err := tx.QueryContext(ctx, `SELECT seq, ord, tbl, op, key_json, before_json, after_json FROM images ORDER BY seq, ord`)
	if err != nil {
		return err
	}
	defer rows.Close()
	// The query stays open while chunks are inserted: SQLite allows
	// writing one table while reading another on the same connection.
	var buf, zbuf []byte
	var seq, first, count, next int64
	write := func() error {
		if count == 0 {
			return nil
		}
		zbuf = compressChunk(zbuf, buf)
		_, err := ins.ExecContext(ctx, seq, first, count, zbuf)
		buf, count = buf[:0], 0
		return err
	}
	for rows.Next() {
		var s, ord, tbl int64
		var op, key, before, after sql.RawBytes
		if err := rows.Scan(&s, &ord, &tbl, &op, &key, &before, &after); err != nil {
			return err
		}
		if s != seq || ord != next || len(buf) >= chunkBytes {
			if err := write(); err != nil {
				return err
			}
			seq, first = s, ord
		}
		if len(op) != 1 {
			return fmt.Errorf("image %d of entry %d has op %q", ord, s, op)
		}
		buf = append(buf, op[0])
		buf = binary.AppendUvarint(buf, uint64(tbl))
		for _, r := range [][]byte{key, before, after} {
			if r == nil {
				buf = binary.LittleEndian.AppendUint32(buf, nullRow)
				continue
			}
			buf = binary.LittleEndian.AppendUint32(buf, uint32(len(r)))
			buf = append(buf, r...)
		}
		count++
		next = ord + 1
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if err := write(); err != nil {
		return err
	}
	rows.Close()
	_, err = tx.ExecContext(ctx, `DROP TABLE images`)
	return err
}
