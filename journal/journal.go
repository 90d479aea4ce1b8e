package journal

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// Header identifies the session a journal belongs to. It is written once,
// by Create, and is part of the hash chain.
type Header struct {
	SessionID string    // generated (random 128-bit hex) by Create if empty
	CreatedAt time.Time // set by Create if zero; stored in UTC to the microsecond
	Dialect   string
	Target    string // the target URL without its password
	// ServerVersion, Database and DatabaseID identify what the session
	// changes, so it is never continued or undone against another database.
	ServerVersion, Database, DatabaseID string
	Identity                            map[string]string // extra identity facts
	Operator, Hostname, Reason          string
	AppVersion                          string
}

// WithDefaults returns h with SessionID and CreatedAt filled in when empty,
// and CreatedAt in UTC to the microsecond, exactly as Create stores it.
// Call it before NewPath so the file name matches the header.
func (h Header) WithDefaults() Header {
	if h.SessionID == "" {
		h.SessionID = NewSessionID()
	}
	if h.CreatedAt.IsZero() {
		h.CreatedAt = time.Now()
	}
	h.CreatedAt = h.CreatedAt.UTC().Truncate(time.Microsecond)
	return h
}

// NewSessionID returns a random 128-bit id in lower-case hex.
func NewSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// Journal is one session's journal file.
type Journal struct {
	path     string
	db       *sql.DB
	readOnly bool
	header   Header
	hhash    string // the header's hash: PrevHash of entry 1

	mu     sync.Mutex
	writer *Writer // the open Writer, if any

	// The write connection, pinned for the journal's life, and what is
	// known on it (guarded by mu; used by one Writer at a time).
	wconn *sql.Conn
	wsync string    // its synchronous setting, "" when unknown
	tail  tailCache // where the log ended after this process's last write
}

// tailCache remembers where the log ends, so a write need not look it up.
// It is trusted only while PRAGMA data_version on the write connection
// reads as it did then: SQLite changes that value exactly when another
// connection, in this process or another, has committed to the file.
type tailCache struct {
	valid       bool
	dataVersion int64
	next        int64  // seq of the next entry
	prev        string // hash of the last entry (or the header)
	nextTable   int64  // id of the next image_tables row
}

// busyTimeoutMS is how long a connection waits for a lock held by another
// connection (a reader in another process, a second writer) before failing.
const busyTimeoutMS = 10000

// timeFormat is how timestamps are stored: UTC, always six fractional digits.
const timeFormat = "2006-01-02T15:04:05.000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeFormat, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("journal: bad timestamp %q: %w", s, err)
	}
	return t.UTC(), nil
}

// dsn builds a go-sqlite3 data source name. The path goes into a file: URI
// with its special characters escaped, so names containing '?', '#' or '%'
// open the right file.
//
// Journal mode WAL with synchronous=FULL: a commit returns only after the
// WAL is fsynced, so it is durable, and readers in other processes
// ("lifebelt journal show" while a session runs) never block the writer's
// commit, nor it them. Under a rollback journal a long reader (export,
// verify) would make the session's journal commit wait and then fail, which
// forces a target rollback. SQLite checkpoints the WAL into the file as it
// grows and removes it when the last connection closes, so a closed
// journal is again a single file.
func dsn(path string, readOnly, wal bool) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("journal: %s: %w", path, err)
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows: file:///C:/...
	}
	u := url.URL{Scheme: "file", Path: p}
	q := fmt.Sprintf("_busy_timeout=%d&_mutex=no&_stmt_cache_size=32", busyTimeoutMS)
	if readOnly {
		q += "&mode=ro&_query_only=1"
	} else {
		// A 64 MiB page cache (allocated only as used) keeps a big batch's
		// b-tree pages in memory until commit instead of spilling and
		// rewriting them.
		q += "&mode=rw&_sync=FULL&_txlock=immediate&_cache_size=-65536"
		if wal {
			q += "&_journal_mode=WAL"
		}
	}
	return u.String() + "?" + q, nil
}

// openDB opens a file Lifebelt creates or owns; read-write connections
// switch it to WAL.
func openDB(path string, readOnly bool) (*sql.DB, error) {
	return openConn(path, readOnly, !readOnly)
}

// openConn opens path; wal makes every connection switch the file to WAL
// mode when it opens, which writes to the file, so it is only for files
// already known to be Lifebelt's.
func openConn(path string, readOnly, wal bool) (*sql.DB, error) {
	d, err := dsn(path, readOnly, wal)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite3", d)
	if err != nil {
		return nil, fmt.Errorf("journal: opening %s: %w", path, err)
	}
	db.SetMaxIdleConns(2)
	return db, nil
}

// Create makes a new journal at path and writes its header. It refuses to
// overwrite an existing file. The file is created with mode 0600 and
// missing parent directories with 0700.
func Create(path string, h Header) (*Journal, error) {
	h = h.WithDefaults()
	if err := checkTarget(h.Target); err != nil {
		return nil, err
	}
	if y := h.CreatedAt.Year(); y < 1 || y > 9999 {
		return nil, fmt.Errorf("journal: creation time %v is outside years 1 to 9999", h.CreatedAt)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("journal: creating directory for %s: %w", path, err)
	}
	// O_EXCL reserves the name: SQLite itself would happily open an existing
	// database. An empty file is a valid empty SQLite database.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("journal: %s already exists; refusing to overwrite it", path)
		}
		return nil, fmt.Errorf("journal: creating %s: %w", path, err)
	}
	err = f.Chmod(0o600) // exact mode whatever the umask
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("journal: creating %s: %w", path, err)
	}
	j, err := create(path, h)
	if err != nil {
		_ = os.Remove(path) // ours: O_EXCL above
		_ = os.Remove(path + "-wal")
		_ = os.Remove(path + "-shm")
		return nil, err
	}
	syncDir(filepath.Dir(path))
	return j, nil
}

// syncDir makes a new directory entry durable: fsyncing a file does not
// persist its name on every file system. SQLite does this for its -wal
// file itself. Best effort: Windows cannot open directories for sync.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// pageSize is the journal's page size, SQLite's default. Images travel in
// chunks of about 256 KiB (overflow pages), so larger pages no longer save
// b-tree work, while every commit writes each page it touched whole to
// the write-ahead log: a single-row statement touches about six.
const pageSize = 4096

func create(path string, h Header) (*Journal, error) {
	ctx := context.Background()
	row, err := headerToRow(h)
	if err != nil {
		return nil, err
	}
	hh := row.hash()
	// The page size must be set before the file's first page is written,
	// and switching to WAL writes it: so no WAL in the DSN, both pragmas
	// here, in this order, on the first connection.
	db, err := openConn(path, false, false)
	if err != nil {
		return nil, err
	}
	err = initFile(ctx, db)
	var tx *sql.Tx
	if err == nil {
		tx, err = db.BeginTx(ctx, nil)
	}
	if err == nil {
		_, err = migrate(ctx, tx, 0, migrations)
		if err == nil {
			_, err = tx.ExecContext(ctx, `INSERT INTO header (id, session_id, created_at, dialect, target,
				server_version, database_name, database_id, identity_json, operator, hostname, reason,
				app_version, hash) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				row.SessionID, row.CreatedAt, row.Dialect, row.Target, row.ServerVersion, row.Database,
				row.DatabaseID, row.Identity, row.Operator, row.Hostname, row.Reason, row.AppVersion, hh)
		}
		if err == nil {
			_, err = tx.ExecContext(ctx, `INSERT INTO tail (id, seq, hash) VALUES (1, 0, ?)`, hh)
		}
		if err == nil {
			err = tx.Commit()
		} else {
			_ = tx.Rollback()
		}
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("journal: creating %s: %w", path, err)
	}
	return &Journal{path: path, db: db, header: h, hhash: hh}, nil
}

func initFile(ctx context.Context, db *sql.DB) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d", pageSize)); err != nil {
		return err
	}
	var mode string
	if err := c.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return err
	}
	if mode != "wal" {
		return fmt.Errorf("cannot use WAL mode (got %q)", mode)
	}
	return nil
}

// Open opens an existing journal for writing, migrating it to
// FormatVersion first.
func Open(path string) (*Journal, error) {
	return open(path, false)
}

// OpenReadOnly opens a journal for reading (show, verify, export). It never
// writes, so it does not migrate: a journal of an older format must be
// opened once with Open.
func OpenReadOnly(path string) (*Journal, error) {
	return open(path, true)
}

func open(path string, readOnly bool) (*Journal, error) {
	ctx := context.Background()
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	// No WAL switch yet: until fileVersion has checked it, the file may be
	// anybody's, and Open must not write to it.
	db, err := openConn(path, readOnly, false)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Journal, error) {
		db.Close()
		return nil, err
	}
	ver, err := fileVersion(ctx, db, path)
	if err != nil {
		return fail(err)
	}
	if !readOnly {
		// Journals are created in WAL mode, which is persistent; this only
		// repairs a file someone switched back.
		if _, err := db.ExecContext(ctx, "PRAGMA journal_mode = WAL"); err != nil {
			return fail(fmt.Errorf("journal: %s: setting WAL mode: %w", path, err))
		}
	}
	if ver < FormatVersion {
		if readOnly {
			return fail(fmt.Errorf("journal: %s has format version %d; open it once read-write to upgrade it to %d", path, ver, FormatVersion))
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fail(fmt.Errorf("journal: upgrading %s: %w", path, err))
		}
		if _, err := migrate(ctx, tx, ver, migrations); err != nil {
			_ = tx.Rollback()
			return fail(fmt.Errorf("%w (file %s)", err, path))
		}
		if err := tx.Commit(); err != nil {
			return fail(fmt.Errorf("journal: upgrading %s: %w", path, err))
		}
	}
	h, hh, err := readHeader(ctx, db)
	if err != nil {
		return fail(fmt.Errorf("journal: %s: %w", path, err))
	}
	return &Journal{path: path, db: db, readOnly: readOnly, header: h, hhash: hh}, nil
}

func headerToRow(h Header) (headerRow, error) {
	id := []byte("{}")
	if len(h.Identity) > 0 {
		var err error
		if id, err = json.Marshal(h.Identity); err != nil { // sorted keys: deterministic
			return headerRow{}, fmt.Errorf("journal: encoding header identity: %w", err)
		}
	}
	return headerRow{
		SessionID: h.SessionID, CreatedAt: formatTime(h.CreatedAt), Dialect: h.Dialect,
		Target: h.Target, ServerVersion: h.ServerVersion, Database: h.Database,
		DatabaseID: h.DatabaseID, Identity: string(id), Operator: h.Operator,
		Hostname: h.Hostname, Reason: h.Reason, AppVersion: h.AppVersion,
	}, nil
}

// readHeader returns the header, its stored hash, and an error if it is
// missing or undecodable.
func readHeader(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (Header, string, error) {
	var r headerRow
	var hh string
	err := q.QueryRowContext(ctx, `SELECT session_id, created_at, dialect, target, server_version,
		database_name, database_id, identity_json, operator, hostname, reason, app_version, hash
		FROM header WHERE id = 1`).Scan(&r.SessionID, &r.CreatedAt, &r.Dialect, &r.Target,
		&r.ServerVersion, &r.Database, &r.DatabaseID, &r.Identity, &r.Operator, &r.Hostname,
		&r.Reason, &r.AppVersion, &hh)
	if errors.Is(err, sql.ErrNoRows) {
		return Header{}, "", errors.New("header missing")
	}
	if err != nil {
		return Header{}, "", fmt.Errorf("reading header: %w", err)
	}
	h, err := rowToHeader(r)
	return h, hh, err
}

func rowToHeader(r headerRow) (Header, error) {
	at, err := parseTime(r.CreatedAt)
	if err != nil {
		return Header{}, fmt.Errorf("header created_at: %w", err)
	}
	h := Header{SessionID: r.SessionID, CreatedAt: at, Dialect: r.Dialect, Target: r.Target,
		ServerVersion: r.ServerVersion, Database: r.Database, DatabaseID: r.DatabaseID,
		Operator: r.Operator, Hostname: r.Hostname, Reason: r.Reason, AppVersion: r.AppVersion}
	if err := json.Unmarshal([]byte(r.Identity), &h.Identity); err != nil {
		return Header{}, fmt.Errorf("header identity: %w", err)
	}
	if len(h.Identity) == 0 {
		h.Identity = nil
	}
	return h, nil
}

// checkTarget refuses a target URL that still carries a password. The
// caller is meant to pass the redacted target; this is the last line of
// defence, because a journal file outlives the session and gets copied.
func checkTarget(target string) error {
	rest := target
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
		auth := rest
		if j := strings.IndexAny(auth, "/?#"); j >= 0 {
			auth = auth[:j]
		}
		if at := strings.LastIndex(auth, "@"); at >= 0 {
			if c := strings.Index(auth[:at], ":"); c >= 0 && auth[c+1:at] != "xxxxx" {
				return errors.New("journal: the header target contains a password; pass the redacted target (without user:password@)")
			}
		}
	}
	if i := strings.IndexAny(target, "?"); i >= 0 {
		if q, err := url.ParseQuery(target[i+1:]); err == nil {
			for k := range q {
				if strings.EqualFold(k, "password") {
					return errors.New("journal: the header target contains a password parameter; pass the redacted target")
				}
			}
		}
	}
	return nil
}

// Path is the journal's file path.
func (j *Journal) Path() string { return j.path }

// Header is the session header written by Create.
func (j *Journal) Header() Header {
	h := j.header
	if h.Identity != nil { // the caller gets its own map
		m := make(map[string]string, len(h.Identity))
		for k, v := range h.Identity {
			m[k] = v
		}
		h.Identity = m
	}
	return h
}

// Close rolls back an open Writer, if any, and closes the file.
func (j *Journal) Close() error {
	j.mu.Lock()
	w := j.writer
	j.mu.Unlock()
	if w != nil {
		_ = w.Rollback()
	}
	j.mu.Lock()
	if j.wconn != nil {
		_ = j.wconn.Close()
		j.wconn = nil
	}
	j.mu.Unlock()
	if err := j.db.Close(); err != nil {
		return fmt.Errorf("journal: closing %s: %w", j.path, err)
	}
	return nil
}

// CopyFile copies a journal that nobody writes (kept read-only) to dst,
// which must not exist yet, readable by the owner only: the file and its
// write-ahead log, which opening the copy then applies.
func CopyFile(src, dst string) error {
	for _, suffix := range []string{"", "-wal"} {
		in, err := os.Open(src + suffix)
		if suffix != "" && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("journal: copying %s: %w", src, err)
		}
		out, err := os.OpenFile(dst+suffix, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			in.Close()
			return fmt.Errorf("journal: copying %s to %s: %w", src, dst, err)
		}
		_, err = io.Copy(out, in)
		in.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("journal: copying %s to %s: %w", src, dst, err)
		}
	}
	return nil
}
