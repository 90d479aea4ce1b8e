package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"lifebelt/journal"
)

// This file defines the safety nets a dialect may offer besides row-level
// undo: preflight checks, snapshots, backups and restores. Each is a small
// optional interface implemented by a Driver and found by type assertion
// (see AsPreflighter and friends), so a dialect implements only what its
// server can do.
//
// They work from a Target, not from a Conn: a PostgreSQL snapshot or revert
// must run on a maintenance database while nobody, Lifebelt included, is
// connected to the target. Every long method honours ctx cancellation and
// reports progress through a callback; none of them journals or records
// anything itself. Callers (CLI, window) journal the operation and record
// it in the backup catalogue (journal.RecordCatalog) so that every front
// end keeps the same history.

// Level grades a preflight finding.
type Level int

// Finding levels, in increasing severity.
const (
	LevelOK      Level = iota // nothing to worry about
	LevelWarning              // worth knowing before changing anything
	LevelDanger               // likely to hurt: a lock held, a transaction left open, no disk space
)

// String is "ok", "warning" or "danger".
func (l Level) String() string {
	switch l {
	case LevelOK:
		return "ok"
	case LevelWarning:
		return "warning"
	case LevelDanger:
		return "danger"
	}
	return fmt.Sprintf("level(%d)", int(l))
}

// MarshalText makes a Level read as "ok", "warning" or "danger" in JSON.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText parses "ok", "warning" or "danger".
func (l *Level) UnmarshalText(b []byte) error {
	for _, c := range []Level{LevelOK, LevelWarning, LevelDanger} {
		if string(b) == c.String() {
			*l = c
			return nil
		}
	}
	return fmt.Errorf("unknown finding level %q", b)
}

// Finding is one preflight observation.
type Finding struct {
	Level Level `json:"level"`
	// Check is a stable identifier of what was checked ("sessions",
	// "write-activity", "archiving", "size", "version", "createdb",
	// "pg_dump", "journal-mode", "lock", "free-space", "backup-age", ...),
	// so a window can place findings without parsing messages.
	Check string `json:"check"`
	// Message is one sentence for the user.
	Message string `json:"message"`
	// Data holds the raw facts (sizes in bytes, times, session lists).
	Data map[string]any `json:"data,omitempty"`
}

// Worst returns the highest level among fs (LevelOK for none).
func Worst(fs []Finding) Level {
	w := LevelOK
	for _, f := range fs {
		w = max(w, f.Level)
	}
	return w
}

// DefaultWriteSample is how far apart PreflightOptions.WriteSample takes the
// two samples of write counters when left zero.
const DefaultWriteSample = 3 * time.Second

// PreflightOptions tune Preflight.
type PreflightOptions struct {
	// WriteSample is the interval between the two samples of write
	// counters (0: DefaultWriteSample; negative: skip the write check).
	WriteSample time.Duration
	// CatalogDir is the journal directory: it holds the backup catalogue
	// (journal.RecordCatalog), whose newest backup of this target is
	// reported, and file-based dialects' snapshots, whose free space is
	// checked. Empty: journal.DefaultDir().
	CatalogDir string
	// ToolDir is where the dialect's external tools (pg_dump, pg_restore)
	// are; empty: $LIFEBELT_PG_BIN, then PATH.
	ToolDir string
}

// Preflighter is implemented by a Driver that can check a target before a
// session. Preflight never changes anything on the target. Each finding is
// independent; a check that cannot run becomes a warning finding rather
// than an error. The error is for a target that cannot be reached at all.
type Preflighter interface {
	Preflight(ctx context.Context, t Target, opt PreflightOptions) ([]Finding, error)
}

// Progress reports how far a long operation is. Callbacks receive it from
// one goroutine at a time and never after the operation has returned; they
// must not block for long.
type Progress struct {
	Done  int64 `json:"done"`
	Total int64 `json:"total"` // 0 when unknown
	// Unit of Done and Total: "bytes", "pages", "tables" or "steps".
	Unit string `json:"unit"`
	// Bytes written or read so far, when known, whatever the Unit.
	Bytes int64 `json:"bytes,omitempty"`
	// Message says what is happening now ("dumping table public.orders").
	Message string `json:"message,omitempty"`
}

// OtherSession is another client connected to a target database.
type OtherSession struct {
	PID         int64     `json:"pid"`
	User        string    `json:"user,omitempty"`
	Application string    `json:"application,omitempty"`
	Client      string    `json:"client,omitempty"` // address:port, or "local"
	State       string    `json:"state,omitempty"`  // "active", "idle", "idle in transaction", ...
	XactStart   time.Time `json:"xact_start,omitzero"`
	QueryStart  time.Time `json:"query_start,omitzero"`
	Query       string    `json:"query,omitempty"` // the last query, shortened
}

// String describes the session in a few words, for lists in messages.
func (s OtherSession) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pid %d", s.PID)
	if s.User != "" {
		fmt.Fprintf(&b, " user %s", s.User)
	}
	if s.Application != "" {
		fmt.Fprintf(&b, " app %q", s.Application)
	}
	if s.Client != "" {
		fmt.Fprintf(&b, " from %s", s.Client)
	}
	if s.State != "" {
		fmt.Fprintf(&b, " (%s)", s.State)
	}
	return b.String()
}

// EndSessions says which other sessions an operation that needs a database
// to itself may end. The zero value ends none. Sessions are ended only with
// consent naming each of them: PIDs the user agreed to after seeing them
// listed, or an Ask callback shown the exact list.
type EndSessions struct {
	// PIDs are the sessions the user agreed to end.
	PIDs []int64
	// Ask, if set, is called with the sessions PIDs does not cover and
	// returns true to end exactly those. It runs on the operation's
	// goroutine while nothing has been changed yet.
	Ask func(ctx context.Context, sessions []OtherSession) bool
}

// Decide splits others into the sessions consent covers and the rest.
func (e EndSessions) Decide(ctx context.Context, others []OtherSession) (end, refused []OtherSession) {
	for _, s := range others {
		if slices.Contains(e.PIDs, s.PID) {
			end = append(end, s)
		} else {
			refused = append(refused, s)
		}
	}
	if len(refused) > 0 && e.Ask != nil && e.Ask(ctx, refused) {
		end, refused = append(end, refused...), nil
	}
	return end, refused
}

// ErrOtherSessions is matched (errors.Is) by every *OtherSessionsError.
var ErrOtherSessions = errors.New("other sessions are connected")

// OtherSessionsError reports an operation refused because other sessions
// are connected to the database and the user did not agree to end them.
// Nothing was changed.
type OtherSessionsError struct {
	Dialect   string
	Database  string
	Operation string         // "take a snapshot of", "revert", "restore"
	Sessions  []OtherSession // the sessions not agreed to end
}

func (e *OtherSessionsError) Error() string {
	list := make([]string, len(e.Sessions))
	pids := make([]string, len(e.Sessions))
	for i, s := range e.Sessions {
		list[i] = s.String()
		pids[i] = fmt.Sprint(s.PID)
	}
	return fmt.Sprintf("%s: cannot %s database %q while %d other session(s) are connected (%s); nothing was changed — end them, or agree to end them by naming their PIDs (%s)",
		e.Dialect, e.Operation, e.Database, len(e.Sessions), strings.Join(list, "; "), strings.Join(pids, ","))
}

// Is makes errors.Is(err, ErrOtherSessions) true.
func (e *OtherSessionsError) Is(target error) bool { return target == ErrOtherSessions }

// Snapshot is a copy of a database taken by CreateSnapshot.
type Snapshot struct {
	// Name is what RevertToSnapshot and DropSnapshot take: a database name
	// on PostgreSQL, a file path on SQLite.
	Name string `json:"name"`
	Of   string `json:"of"` // the database it copies
	// Kind is "snapshot", or "kept" for the replaced content a revert or
	// restore kept (reverting to it undoes that revert).
	Kind     string        `json:"kind"`
	Created  time.Time     `json:"created"`
	Size     int64         `json:"size"`               // bytes, 0 when unknown
	Duration time.Duration `json:"duration,omitempty"` // set by CreateSnapshot
}

// SnapshotOptions tune CreateSnapshot and ListSnapshots.
type SnapshotOptions struct {
	// Name of the snapshot; empty: <db>_lifebelt_<UTC time>. A name that
	// is taken is refused.
	Name string
	// Dir is where file-based dialects (SQLite) keep snapshots and the
	// copies a revert keeps; empty: journal.DefaultDir().
	Dir string
	// EndSessions is consent to end sessions that stop the copy
	// (PostgreSQL copies a database only while nobody is connected to it).
	EndSessions EndSessions
	Progress    func(Progress)
}

// RevertOptions tune RevertToSnapshot.
type RevertOptions struct {
	Dir         string // as SnapshotOptions.Dir
	EndSessions EndSessions
	Progress    func(Progress)
}

// RevertResult is what a revert or restore did.
type RevertResult struct {
	Database string `json:"database"` // the database now holding the old content
	From     string `json:"from"`     // snapshot name or backup path
	// Kept is where the replaced content was kept for forensics: a
	// database <db>_failed_<time> on PostgreSQL, a file on SQLite. Empty
	// when nothing was replaced (a restore beside the target).
	Kept string `json:"kept,omitempty"`
	// Ended lists the sessions that were ended, with consent.
	Ended    []OtherSession `json:"ended,omitempty"`
	Size     int64          `json:"size"`
	Duration time.Duration  `json:"duration"`
	// Notes are things that did not carry over (a database setting the
	// user may not copy, say); the content itself is complete.
	Notes []string `json:"notes,omitempty"`
	// NewID is the database's identity ID afterwards when it changed
	// (PostgreSQL: the renamed copy has another oid); empty otherwise.
	NewID string `json:"new_id,omitempty"`
}

// Snapshotter is implemented by a Driver that can copy a database within
// its server (or beside its file) and put the copy back.
type Snapshotter interface {
	// CreateSnapshot copies the target's database. It fails with
	// *OtherSessionsError when the copy needs sessions ended that
	// opt.EndSessions does not cover.
	CreateSnapshot(ctx context.Context, t Target, opt SnapshotOptions) (Snapshot, error)
	// ListSnapshots lists the snapshots Lifebelt took of the target, oldest
	// first. Only opt.Dir is used.
	ListSnapshots(ctx context.Context, t Target, opt SnapshotOptions) ([]Snapshot, error)
	// RevertToSnapshot makes the target's database hold the snapshot's
	// content again, keeping the replaced content (RevertResult.Kept). A
	// PostgreSQL snapshot is consumed: it becomes the database.
	RevertToSnapshot(ctx context.Context, t Target, name string, opt RevertOptions) (RevertResult, error)
	// DropSnapshot removes a snapshot of the target; it refuses names that
	// are not snapshots Lifebelt took of it.
	DropSnapshot(ctx context.Context, t Target, name string, opt SnapshotOptions) error
}

// BackupOptions tune Backup.
type BackupOptions struct {
	ToolDir  string // as PreflightOptions.ToolDir
	Progress func(Progress)
}

// BackupInfo describes a finished backup.
type BackupInfo struct {
	Path     string        `json:"path"`
	Size     int64         `json:"size"`
	Duration time.Duration `json:"duration"`
	Format   string        `json:"format"`         // "pg_dump custom", "sqlite"
	Tool     string        `json:"tool,omitempty"` // e.g. "pg_dump (PostgreSQL) 15.4"
	Tables   int           `json:"tables,omitempty"`
}

// Backuper is implemented by a Driver that can write a full backup of the
// target to a local file. The file is created with mode 0600; it appears
// under path only once complete, and an existing file is never replaced.
type Backuper interface {
	Backup(ctx context.Context, t Target, path string, opt BackupOptions) (BackupInfo, error)
}

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// As restores beside the target into a new database (PostgreSQL) or
	// file (SQLite) of that name, which must not exist; the target is not
	// touched. Empty: replace the target's content.
	As          string
	Dir         string // as SnapshotOptions.Dir
	ToolDir     string // as PreflightOptions.ToolDir
	EndSessions EndSessions
	Progress    func(Progress)
}

// Restorer is implemented by a Driver that can restore a file written by
// its Backup. The backup is loaded fully into a fresh copy first; the
// target is replaced only when that succeeded, so a bad backup file
// changes nothing.
type Restorer interface {
	Restore(ctx context.Context, t Target, from string, opt RestoreOptions) (RevertResult, error)
}

// UnsupportedError is a dialect lacking an optional capability.
type UnsupportedError struct {
	Dialect string
	What    string // "snapshots", "backups", "restores", "preflight checks"
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%s does not support %s", e.Dialect, e.What)
}

// Is makes errors.Is(err, ErrCapabilityUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrCapabilityUnsupported }

// AsPreflighter returns the driver's Preflighter or an *UnsupportedError.
func AsPreflighter(d Driver) (Preflighter, error) {
	if p, ok := d.(Preflighter); ok {
		return p, nil
	}
	return nil, &UnsupportedError{d.Name(), "preflight checks"}
}

// AsSnapshotter returns the driver's Snapshotter or an *UnsupportedError.
func AsSnapshotter(d Driver) (Snapshotter, error) {
	if s, ok := d.(Snapshotter); ok {
		return s, nil
	}
	return nil, &UnsupportedError{d.Name(), "snapshots"}
}

// AsBackuper returns the driver's Backuper or an *UnsupportedError.
func AsBackuper(d Driver) (Backuper, error) {
	if b, ok := d.(Backuper); ok {
		return b, nil
	}
	return nil, &UnsupportedError{d.Name(), "backups"}
}

// AsRestorer returns the driver's Restorer or an *UnsupportedError.
func AsRestorer(d Driver) (Restorer, error) {
	if r, ok := d.(Restorer); ok {
		return r, nil
	}
	return nil, &UnsupportedError{d.Name(), "restores"}
}

// TargetIdentity connects briefly to t and returns its Identity, the same
// one a session's journal header records.
func TargetIdentity(ctx context.Context, t Target) (Identity, error) {
	d, err := Lookup(t.Dialect)
	if err != nil {
		return Identity{}, err
	}
	c, err := d.Open(ctx, t)
	if err != nil {
		return Identity{}, err
	}
	defer c.Close()
	return c.Identity(ctx)
}

// MaxBackupAge is the age past which the newest backup is a warning.
const MaxBackupAge = 24 * time.Hour

// BackupAgeFinding grades the newest backup Lifebelt took of a database
// (found false: none ever), as of now.
func BackupAgeFinding(newest journal.CatalogEntry, found bool, now time.Time) Finding {
	f := Finding{Check: "backup-age"}
	if !found {
		f.Level = LevelWarning
		f.Message = "Lifebelt has never taken a backup of this database; take one before changing anything."
		return f
	}
	age := now.Sub(newest.At)
	f.Data = map[string]any{"path": newest.Path, "at": newest.At, "age_seconds": int64(age.Seconds()), "size": newest.Size}
	when := fmt.Sprintf("%s ago (%s)", roundAge(age), newest.At.Local().Format("2006-01-02 15:04"))
	switch {
	case age > MaxBackupAge:
		f.Level = LevelWarning
		f.Message = fmt.Sprintf("The newest backup Lifebelt took of this database is %s old, from %s; take a fresh one first.", roundAge(age), newest.At.Local().Format("2006-01-02 15:04"))
	default:
		f.Message = fmt.Sprintf("The newest backup Lifebelt took of this database was written %s to %s.", when, newest.Path)
	}
	return f
}

// CatalogFindings grades the newest backup of databaseID in the catalogue
// in dir (empty: journal.DefaultDir()) and, when a restore was timed
// before, estimates how long restoring that backup would take.
func CatalogFindings(dir, databaseID string, now time.Time) []Finding {
	if dir == "" {
		var err error
		if dir, err = journal.DefaultDir(); err != nil {
			return []Finding{{Level: LevelWarning, Check: "backup-age", Message: fmt.Sprintf("The backup catalogue cannot be found: %v.", err)}}
		}
	}
	newest, found, err := journal.NewestBackup(dir, databaseID)
	if err != nil {
		return []Finding{{Level: LevelWarning, Check: "backup-age", Message: fmt.Sprintf("The backup catalogue cannot be read: %v.", err)}}
	}
	f := BackupAgeFinding(newest, found, now)
	fs := []Finding{f}
	if !found {
		return fs
	}
	if _, err := os.Stat(newest.Path); err != nil && newest.Path != "" {
		fs[0].Level = LevelWarning
		fs[0].Message = fmt.Sprintf("The newest backup Lifebelt took of this database, %s, is no longer readable (%v).", newest.Path, errors.Unwrap(err))
	}
	if r, ok, err := journal.NewestOf(dir, databaseID, journal.KindRestore); err == nil && ok && r.Size > 0 && r.Duration > 0 {
		est := time.Duration(float64(newest.Size) / float64(r.Size) * float64(r.Duration))
		fs = append(fs, Finding{Check: "restore-estimate",
			Message: fmt.Sprintf("Restoring the newest backup (%s) would take about %s, judging by the last restore (%s in %s).",
				HumanBytes(newest.Size), est.Round(time.Second), HumanBytes(r.Size), r.Duration.Round(time.Second)),
			Data: map[string]any{"seconds": est.Seconds()}})
	}
	return fs
}

func roundAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%.1f h", d.Hours())
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// JournalUndoneBy lists the journal entries a revert or restore to the
// state before entry `since` (or, when since is 0, to the time at) takes
// away: statement and undo entries after it whose effect is still in the
// database (state committed or unguarded). es must be in seq order with
// states computed (journal.Entries).
func JournalUndoneBy(es []journal.Entry, since int64, at time.Time) []int64 {
	var refs []int64
	for _, e := range es {
		if e.Kind != journal.KindStatement && e.Kind != journal.KindUndo {
			continue
		}
		if since > 0 && e.Seq <= since || since == 0 && !e.At.After(at) {
			continue
		}
		if journal.InPlace(e.State) || e.State == journal.StateUnguarded {
			refs = append(refs, e.Seq)
		}
	}
	return refs
}

// FindTaken returns the seq of the latest committed snapshot or backup
// entry (kind) of es whose Detail names `name` (under key "name" or
// "path"), or 0.
func FindTaken(es []journal.Entry, kind, name string) int64 {
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		if e.Kind != kind || e.Status != journal.StatusCommitted {
			continue
		}
		if s, _ := e.Detail["name"].(string); s == name {
			return e.Seq
		}
		if s, _ := e.Detail["path"].(string); s == name {
			return e.Seq
		}
	}
	return 0
}

// CurrentDatabaseID is the identity ID a session's journal stands for now:
// the header's, or, after a revert or restore that gave the database a new
// identity (a renamed PostgreSQL copy has another oid), the new one the
// latest such entry recorded in its Detail "new_id". The old ID then
// belongs to the kept copy, so only the newest one matches the target.
func CurrentDatabaseID(h journal.Header, es []journal.Entry) string {
	id := h.DatabaseID
	for _, e := range es {
		if (e.Kind == journal.KindRevert || e.Kind == journal.KindRestore) && e.Status == journal.StatusCommitted {
			if n, _ := e.Detail["new_id"].(string); n != "" {
				id = n
			}
		}
	}
	return id
}

// DetailOf turns a result struct into an entry Detail map (its JSON form).
func DetailOf(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// HumanBytes renders a size for people: "812 B", "1.4 MB", "2.0 GB".
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "KMGTPE"[exp])
}

// PublishFile moves a finished file to its final name: it fsyncs it, links
// it there without ever replacing an existing file (a hard link fails
// where rename would overwrite), removes the temporary name and fsyncs the
// directory. It returns the file's size.
func PublishFile(partial, final string) (int64, error) {
	f, err := os.OpenFile(partial, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("finishing %s: %w", final, err)
	}
	err = f.Sync()
	fi, serr := f.Stat()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = serr
	}
	if err != nil {
		return 0, fmt.Errorf("finishing %s: %w", final, err)
	}
	if err := os.Link(partial, final); err != nil {
		if errors.Is(err, os.ErrExist) {
			return 0, fmt.Errorf("%s appeared while the copy was being written; it was not replaced", final)
		}
		if _, serr := os.Lstat(final); serr == nil {
			return 0, fmt.Errorf("%s appeared while the copy was being written; it was not replaced", final)
		}
		if err := os.Rename(partial, final); err != nil { // file systems without hard links
			return 0, fmt.Errorf("finishing %s: %w", final, err)
		}
	} else {
		os.Remove(partial)
	}
	if d, err := os.Open(filepath.Dir(final)); err == nil {
		_ = d.Sync() // not supported everywhere (Windows); best effort
		d.Close()
	}
	return fi.Size(), nil
}
