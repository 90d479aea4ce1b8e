package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"

	"lifebelt/journal"
)

// Options configure a session.
type Options struct {
	// JournalPath continues the session in an existing journal when the
	// file exists (refused if it belongs to another database), or creates
	// the journal there. Empty: a new file in JournalDir.
	JournalPath string
	// JournalDir is where new journals go; empty means journal.DefaultDir().
	JournalDir string
	Reason     string // change ticket or reason, shown in reviews
	Operator   string // default: the OS user
	AppVersion string
}

// Session is a guarded change session on one target, journaled to one file.
// Its methods are safe for use from several goroutines but run one at a time.
type Session struct {
	mu      sync.Mutex
	target  Target
	drv     Driver
	conn    Conn
	id      Identity
	j       *journal.Journal
	batch   int64
	pending *Pending
}

// Open connects to the target and creates or continues the session journal.
// Interrupted batches found in a continued journal are resolved first.
func Open(ctx context.Context, t Target, opt Options) (*Session, error) {
	drv, err := Lookup(t.Dialect)
	if err != nil {
		return nil, err
	}
	conn, err := drv.Open(ctx, t)
	if err != nil {
		return nil, err
	}
	s := &Session{target: t, drv: drv, conn: conn}
	if err := s.init(ctx, opt); err != nil {
		conn.Close()
		if s.j != nil {
			s.j.Close()
		}
		return nil, err
	}
	return s, nil
}

func (s *Session) init(ctx context.Context, opt Options) error {
	id, err := s.conn.Identity(ctx)
	if err != nil {
		return fmt.Errorf("%s: reading server identity: %w", s.target.Dialect, err)
	}
	s.id = id
	if opt.JournalPath != "" {
		if _, err := os.Stat(opt.JournalPath); err == nil {
			return s.continueJournal(ctx, opt.JournalPath)
		}
	}
	h := journal.Header{
		Dialect:       id.Dialect,
		Target:        s.target.String(),
		ServerVersion: id.ServerVersion,
		Database:      id.Database,
		DatabaseID:    id.ID,
		Identity:      id.Extra,
		Operator:      opt.Operator,
		Reason:        opt.Reason,
		AppVersion:    opt.AppVersion,
	}
	if h.Operator == "" {
		h.Operator = osUser()
	}
	h.Hostname, _ = os.Hostname()
	h = h.WithDefaults() // the file name carries the session id and time
	path := opt.JournalPath
	if path == "" {
		dir := opt.JournalDir
		if dir == "" {
			if dir, err = journal.DefaultDir(); err != nil {
				return fmt.Errorf("finding the journal directory: %w", err)
			}
		}
		path = journal.NewPath(dir, h)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating the journal directory: %w", err)
	}
	j, err := journal.Create(path, h)
	if err != nil {
		return fmt.Errorf("creating journal %s: %w", path, err)
	}
	s.j = j
	return nil
}

func (s *Session) continueJournal(ctx context.Context, path string) error {
	j, err := journal.Open(path)
	if err != nil {
		return fmt.Errorf("opening journal %s: %w", path, err)
	}
	s.j = j
	h := j.Header()
	entries, err := j.Entries()
	if err != nil {
		return fmt.Errorf("reading journal %s: %w", path, err)
	}
	// A revert or restore swaps in a copy with a new identity; the journal
	// records it, and only the newest identity matches.
	if id := CurrentDatabaseID(h, entries); h.Dialect != s.id.Dialect || id != s.id.ID {
		return fmt.Errorf("journal %s belongs to %s database %q (id %s), not to the target %q (id %s); start a new journal for this target",
			path, h.Dialect, h.Database, id, s.id.Database, s.id.ID)
	}
	for _, e := range entries {
		if e.Batch > s.batch {
			s.batch = e.Batch
		}
	}
	return s.resolveInDoubt(ctx, entries)
}

// Journal is the session's journal.
func (s *Session) Journal() *journal.Journal { return s.j }

// JournalPath is the journal file of this session.
func (s *Session) JournalPath() string { return s.j.Path() }

// Identity is the identity of the target.
func (s *Session) Identity() Identity { return s.id }

// Target is the session's target (its String form is safe to show).
func (s *Session) Target() Target { return s.target }

// Driver is the session's dialect driver, for optional capabilities.
func (s *Session) Driver() Driver { return s.drv }

// Conn is the session's pinned connection, for optional capabilities.
func (s *Session) Conn() Conn { return s.conn }

// Close rolls back a batch still awaiting review and closes everything.
func (s *Session) Close() error {
	s.mu.Lock()
	p := s.pending
	s.mu.Unlock()
	if p != nil {
		p.Rollback(context.Background())
	}
	err := s.conn.Close()
	if jerr := s.j.Close(); err == nil {
		err = jerr
	}
	return err
}

// ConfirmName is the name a destructive batch must be confirmed with: the
// database name, or for SQLite the file name (the full path is accepted too).
func (s *Session) ConfirmName() string {
	if s.id.Dialect == "sqlite" {
		return filepath.Base(s.id.Database)
	}
	return s.id.Database
}

func (s *Session) confirmed(name string) bool {
	if name == "" {
		return false
	}
	return name == s.ConfirmName() || name == s.id.Database
}

func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	for _, k := range []string{"USER", "USERNAME", "LOGNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "unknown"
}

// classOf is the journal classification of a statement, e.g. "dml:DELETE".
func classOf(st Statement) string {
	c := st.Kind.String() + ":" + st.Verb
	if st.Object != "" {
		c += " " + st.Object
	}
	return c
}

// ErrBusy is returned when a batch awaits commit or rollback.
var ErrBusy = errors.New("a batch is waiting for commit or rollback; finish it first")

func joinErrs(errs []string) string { return strings.Join(errs, "; ") }
