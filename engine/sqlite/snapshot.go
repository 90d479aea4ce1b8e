package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"lifebelt/engine"
	"lifebelt/journal"
)

var _ engine.Snapshotter = Driver{}

// Snapshots, backups and their way back all use SQLite's online backup
// API: it copies page by page under SQLite's own locking, so it is safe
// while other processes have the file open, reports progress in pages,
// and writes the destination in one transaction — an interrupted copy
// into the live file leaves it as it was. Snapshots live in the journal
// directory as <name>_lifebelt_<path hash>_<time><ext>; a revert keeps the
// replaced content there as <name>_failed_<path hash>_<time><ext>.

// busyTimeoutMS is how long a copy waits for another process's lock (a
// variable so tests can shorten it).
var busyTimeoutMS = 5000

// resolveTarget is the target file as Open resolves it (absolute, symlinks
// resolved), which is also its identity ID.
func resolveTarget(t engine.Target) (string, error) {
	if t.Dialect != "" && t.Dialect != "sqlite" {
		return "", fmt.Errorf("sqlite: cannot use a %s target", t.Dialect)
	}
	if t.Path == "" {
		return "", errors.New("sqlite: the target names no file")
	}
	p, err := filepath.Abs(t.Path)
	if err == nil {
		p, err = filepath.EvalSymlinks(p)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("sqlite: %s does not exist; nothing was changed", t.Path)
		}
		return "", fmt.Errorf("sqlite: resolving %s: %w", t.Path, err)
	}
	if fi, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("sqlite: %w", err)
	} else if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("sqlite: %s is not a regular file", p)
	}
	return p, nil
}

// openFile opens an existing database file on one connection. mode is
// "ro" or "rw"; busyMS is the busy timeout.
func openFile(path, mode string, busyMS int) (*sql.DB, error) {
	dsn := fmt.Sprintf("file:%s?mode=%s&_busy_timeout=%d", (&url.URL{Path: filepath.ToSlash(path)}).EscapedPath(), mode, busyMS)
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// rawConn runs fn with the driver connection of a pinned connection.
func rawConn(ctx context.Context, c *sql.Conn, fn func(*sqlite3.SQLiteConn) error) error {
	return c.Raw(func(dc any) error {
		sc, ok := dc.(*sqlite3.SQLiteConn)
		if !ok {
			return fmt.Errorf("sqlite: unexpected driver connection %T", dc)
		}
		return fn(sc)
	})
}

// copyPages copies the main database of src into dst with the backup API,
// reporting pages. Other processes' writes to the source restart the copy
// (SQLite's rule); after a few restarts it copies in one step, holding the
// source's read lock throughout, so a busy writer cannot starve it. A
// destination that stays locked by someone else fails the copy, which then
// leaves the destination unchanged.
func copyPages(ctx context.Context, dst, src *sql.Conn, progress func(engine.Progress), what string) (pages int64, err error) {
	err = rawConn(ctx, dst, func(d *sqlite3.SQLiteConn) error {
		return rawConn(ctx, src, func(s *sqlite3.SQLiteConn) error {
			b, err := d.Backup("main", s, "main")
			if err != nil {
				return err
			}
			finished := false
			defer func() {
				if !finished {
					_ = b.Close() // rolls the destination back
				}
			}()
			chunk, restarts, stalls, lastRemaining := 16, 0, 0, -1
			for {
				if err := ctx.Err(); err != nil {
					return err
				}
				done, err := b.Step(chunk)
				if err != nil {
					return err
				}
				total, remaining := b.PageCount(), b.Remaining()
				if done {
					pages = int64(total)
					report(progress, engine.Progress{Done: pages, Total: pages, Unit: "pages", Message: what})
					finished = true
					return b.Finish()
				}
				switch {
				case lastRemaining >= 0 && remaining == lastRemaining:
					// Step returned SQLITE_BUSY or SQLITE_LOCKED after
					// its busy handler gave up.
					if stalls++; stalls >= 2 {
						return errLocked
					}
				case lastRemaining >= 0 && remaining > lastRemaining:
					if restarts++; restarts >= 3 {
						chunk = -1
					}
				default:
					stalls = 0
				}
				lastRemaining = remaining
				report(progress, engine.Progress{Done: int64(total - remaining), Total: int64(total), Unit: "pages", Message: what})
				if chunk > 0 {
					chunk = max(16, total/100) // about a hundred progress reports
				}
			}
		})
	})
	return pages, err
}

// errLocked is a copy that could not get a lock another process holds.
var errLocked = errors.New("another process holds a lock on the database")

func report(fn func(engine.Progress), p engine.Progress) {
	if fn != nil {
		fn(p)
	}
}

// copyFile copies the database at src into a new file at dst (mode
// 0600, which must not exist) via dst.partial, returning its size.
func copyFile(ctx context.Context, srcConn *sql.Conn, dst string, progress func(engine.Progress), what string) (int64, error) {
	partial := dst + ".partial"
	f, err := os.OpenFile(partial, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return 0, fmt.Errorf("%s exists: another copy is being written there, or one was interrupted; remove it first", partial)
		}
		return 0, err
	}
	f.Close() // an empty file is an empty database
	ok := false
	defer func() {
		if !ok {
			for _, p := range []string{partial, partial + "-journal", partial + "-wal", partial + "-shm"} {
				os.Remove(p)
			}
		}
	}()
	ddb, err := openFile(partial, "rw", busyTimeoutMS)
	if err != nil {
		return 0, err
	}
	dc, err := ddb.Conn(ctx)
	if err == nil {
		_, err = copyPages(ctx, dc, srcConn, progress, what)
		if cerr := dc.Close(); err == nil {
			err = cerr
		}
	}
	if cerr := ddb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	size, err := engine.PublishFile(partial, dst)
	if err != nil {
		return 0, err
	}
	ok = true
	return size, nil
}

// copyNames are the file names of a target's copies in dir.
type copyNames struct {
	dir, stem, id, ext string
}

func namesFor(dir, path string) copyNames {
	base := filepath.Base(path)
	ext := filepath.Ext(base)
	if ext == "" || len(ext) > 10 {
		ext = ".db"
	}
	stem := safeName(strings.TrimSuffix(base, filepath.Ext(base)), 40)
	sum := sha256.Sum256([]byte(path))
	return copyNames{dir: dir, stem: stem, id: hex.EncodeToString(sum[:4]), ext: ext}
}

func (n copyNames) name(kind string, at time.Time) string {
	return filepath.Join(n.dir, fmt.Sprintf("%s_%s_%s_%s%s", n.stem, kind, n.id, at.UTC().Format("20060102_150405"), n.ext))
}

// unused is n.name(kind, at), with _2, _3, ... before the extension while
// that file exists.
func (n copyNames) unused(kind string, at time.Time) (string, error) {
	p := n.name(kind, at)
	for i := 2; ; i++ {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			return p, nil
		}
		if i > 99 {
			return "", fmt.Errorf("sqlite: no free file name like %s", n.name(kind, at))
		}
		p = strings.TrimSuffix(n.name(kind, at), n.ext) + fmt.Sprintf("_%d", i) + n.ext
	}
}

// labeled is the file of a snapshot the user named: the label, made
// file-name safe, takes the place of the time.
func (n copyNames) labeled(label string) string {
	return filepath.Join(n.dir, n.stem+"_lifebelt_"+n.id+"_"+safeName(label, 60)+n.ext)
}

// parse says whether file is a copy of this target, of which kind
// ("snapshot" or "kept"), and when it was taken if its name says so.
func (n copyNames) parse(file string) (kind string, at time.Time, ok bool) {
	base := filepath.Base(file)
	for _, k := range []struct{ infix, kind string }{{"_lifebelt_", "snapshot"}, {"_failed_", "kept"}} {
		prefix := n.stem + k.infix + n.id + "_"
		if !strings.HasPrefix(base, prefix) || !strings.HasSuffix(base, n.ext) || len(base) <= len(prefix)+len(n.ext) {
			continue
		}
		rest := strings.TrimSuffix(strings.TrimPrefix(base, prefix), n.ext)
		if len(rest) >= 15 {
			if t, err := time.Parse("20060102_150405", rest[:15]); err == nil {
				at = t
			}
		}
		return k.kind, at, true
	}
	return "", time.Time{}, false
}

// safeName keeps ASCII letters, digits, '-', '_' and '.' of s (others
// become '_'), cut at max bytes.
func safeName(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	out := b.String()
	if len(out) > max {
		out = out[:max]
	}
	return out
}

func snapshotDir(dir string) (string, error) {
	if dir == "" {
		var err error
		if dir, err = journal.DefaultDir(); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("sqlite: creating %s: %w", dir, err)
	}
	return filepath.Abs(dir)
}

// CreateSnapshot copies the target file into the snapshot directory.
func (Driver) CreateSnapshot(ctx context.Context, t engine.Target, opt engine.SnapshotOptions) (engine.Snapshot, error) {
	start := time.Now()
	path, err := resolveTarget(t)
	if err != nil {
		return engine.Snapshot{}, err
	}
	dir, err := snapshotDir(opt.Dir)
	if err != nil {
		return engine.Snapshot{}, err
	}
	names := namesFor(dir, path)
	var dst string
	switch _, _, ours := names.parse(opt.Name); {
	case opt.Name == "":
		if dst, err = names.unused("lifebelt", start); err != nil {
			return engine.Snapshot{}, err
		}
	case ours: // a full snapshot file name
		dst = filepath.Join(dir, filepath.Base(opt.Name))
	default: // a label
		dst = names.labeled(opt.Name)
	}
	if _, err := os.Lstat(dst); err == nil {
		return engine.Snapshot{}, fmt.Errorf("sqlite: %s already exists; choose another snapshot name (nothing was changed)", dst)
	}
	size, err := withConn(ctx, path, "ro", func(c *sql.Conn) (int64, error) {
		return copyFile(ctx, c, dst, opt.Progress, "copying "+filepath.Base(path))
	})
	if err != nil {
		return engine.Snapshot{}, copyError("taking a snapshot of", path, err)
	}
	return engine.Snapshot{Name: dst, Of: path, Kind: "snapshot", Created: start, Size: size, Duration: time.Since(start)}, nil
}

// withConn runs fn on one connection to the file at path.
func withConn(ctx context.Context, path, mode string, fn func(*sql.Conn) (int64, error)) (int64, error) {
	db, err := openFile(path, mode, busyTimeoutMS)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	c, err := db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return fn(c)
}

// copyError turns a failed copy into one sentence.
func copyError(doing, path string, err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("sqlite: %s %s was cancelled; nothing was changed", doing, path)
	case errors.Is(err, errLocked):
		return fmt.Errorf("sqlite: %s %s failed: another process held a lock on it for more than %d s; nothing was changed", doing, path, busyTimeoutMS/1000)
	}
	var se sqlite3.Error
	if errors.As(err, &se) && (se.Code == sqlite3.ErrNotADB || se.Code == sqlite3.ErrCorrupt) {
		return fmt.Errorf("sqlite: %s %s failed: the file is not a SQLite database or is damaged; nothing was changed", doing, path)
	}
	return fmt.Errorf("sqlite: %s %s failed: %v; nothing was changed", doing, path, err)
}

// ListSnapshots lists the target's snapshots and kept copies in opt.Dir.
func (Driver) ListSnapshots(ctx context.Context, t engine.Target, opt engine.SnapshotOptions) ([]engine.Snapshot, error) {
	path, err := resolveTarget(t)
	if err != nil {
		return nil, err
	}
	dir, err := snapshotDir(opt.Dir)
	if err != nil {
		return nil, err
	}
	names := namesFor(dir, path)
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing snapshots in %s: %w", dir, err)
	}
	var out []engine.Snapshot
	for _, de := range des {
		kind, at, ok := names.parse(de.Name())
		if !ok || !de.Type().IsRegular() {
			continue
		}
		s := engine.Snapshot{Name: filepath.Join(dir, de.Name()), Of: path, Kind: kind, Created: at}
		if fi, err := de.Info(); err == nil {
			s.Size = fi.Size()
			if at.IsZero() { // a labeled snapshot
				s.Created = fi.ModTime()
			}
		}
		out = append(out, s)
	}
	sort.Slice(out, func(a, b int) bool {
		return out[a].Created.Before(out[b].Created) || out[a].Created.Equal(out[b].Created) && out[a].Name < out[b].Name
	})
	return out, nil
}

// snapshotFile checks that name (a path, or a file name in dir) is a copy
// Lifebelt made of the target file.
func snapshotFile(t engine.Target, name, dir string) (target, file string, err error) {
	if target, err = resolveTarget(t); err != nil {
		return "", "", err
	}
	if dir, err = snapshotDir(dir); err != nil {
		return "", "", err
	}
	file = name
	if !filepath.IsAbs(file) {
		file = filepath.Join(dir, file)
		if _, _, ok := namesFor(dir, target).parse(file); !ok && !strings.ContainsAny(name, `/\`) {
			file = namesFor(dir, target).labeled(name) // a label given at creation
		}
	}
	if _, _, ok := namesFor(filepath.Dir(file), target).parse(file); !ok {
		return "", "", fmt.Errorf("sqlite: %s is not a snapshot Lifebelt took of %s; nothing was changed", name, target)
	}
	if fi, err := os.Stat(file); err != nil || !fi.Mode().IsRegular() {
		return "", "", fmt.Errorf("sqlite: there is no snapshot %s; nothing was changed", file)
	}
	return target, file, nil
}

// DropSnapshot deletes a snapshot or kept copy of the target.
func (Driver) DropSnapshot(ctx context.Context, t engine.Target, name string, opt engine.SnapshotOptions) error {
	_, file, err := snapshotFile(t, name, opt.Dir)
	if err != nil {
		return err
	}
	if err := os.Remove(file); err != nil {
		return fmt.Errorf("sqlite: dropping snapshot %s: %w", file, err)
	}
	for _, p := range []string{file + "-wal", file + "-shm", file + "-journal"} {
		os.Remove(p)
	}
	return nil
}

// RevertToSnapshot copies the snapshot back into the live file, after
// keeping its current content as a _failed_ copy beside the snapshots. The
// snapshot stays, so it can be reverted to again.
func (Driver) RevertToSnapshot(ctx context.Context, t engine.Target, name string, opt engine.RevertOptions) (engine.RevertResult, error) {
	path, file, err := snapshotFile(t, name, opt.Dir)
	if err != nil {
		return engine.RevertResult{}, err
	}
	return putBack(ctx, path, file, opt.Dir, opt.Progress, "reverting")
}

// putBack replaces the content of the live file at path by the database in
// from, keeping the replaced content in dir first.
func putBack(ctx context.Context, path, from, dir string, progress func(engine.Progress), doing string) (engine.RevertResult, error) {
	start := time.Now()
	if dir == "" {
		dir = filepath.Dir(from)
	}
	dir, err := snapshotDir(dir)
	if err != nil {
		return engine.RevertResult{}, err
	}
	kept, err := namesFor(dir, path).unused("failed", start)
	if err != nil {
		return engine.RevertResult{}, err
	}
	live, err := openFile(path, "rw", busyTimeoutMS)
	if err != nil {
		return engine.RevertResult{}, err
	}
	defer live.Close()
	lc, err := live.Conn(ctx)
	if err != nil {
		return engine.RevertResult{}, copyError(doing, path, err)
	}
	defer lc.Close()
	// Keep the current content. data_version moves when another
	// connection commits: copy again if someone wrote meanwhile, so the
	// kept copy is what the put-back replaces.
	for attempt := 0; ; attempt++ {
		v1, err := dataVersion(ctx, lc)
		if err != nil {
			return engine.RevertResult{}, copyError(doing, path, err)
		}
		if _, err := copyFile(ctx, lc, kept, progress, "keeping the current "+filepath.Base(path)); err != nil {
			return engine.RevertResult{}, copyError(doing, path, err)
		}
		v2, err := dataVersion(ctx, lc)
		if err != nil {
			os.Remove(kept)
			return engine.RevertResult{}, copyError(doing, path, err)
		}
		if v1 == v2 || attempt == 2 {
			break
		}
		os.Remove(kept)
	}
	sdb, err := openFile(from, "ro", busyTimeoutMS)
	if err != nil {
		os.Remove(kept)
		return engine.RevertResult{}, err
	}
	defer sdb.Close()
	sc, err := sdb.Conn(ctx)
	if err != nil {
		os.Remove(kept)
		return engine.RevertResult{}, copyError(doing, path, err)
	}
	defer sc.Close()
	if _, err := copyPages(ctx, lc, sc, progress, doing+" "+filepath.Base(path)); err != nil {
		os.Remove(kept)
		return engine.RevertResult{}, copyError(doing, path, err)
	}
	res := engine.RevertResult{Database: path, From: from, Kept: kept, Duration: time.Since(start)}
	if fi, err := os.Stat(from); err == nil {
		res.Size = fi.Size()
	}
	return res, nil
}

func dataVersion(ctx context.Context, c *sql.Conn) (int64, error) {
	var v int64
	err := c.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v)
	return v, err
}
