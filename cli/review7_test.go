package cli

// Review of the output files of undo --script and journal export
// (createOutput, commit a3e2bb4).

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func r7Journal(t *testing.T) (db, j string) {
	t.Helper()
	db = newDB(t)
	r := run(t, "exec", "--target", "sqlite:"+db, "-c", "UPDATE items SET qty = 0 WHERE id = 1")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	return db, journalOf(t, r.stdout)
}

// --script to a named pipe (what `--script >(sqlite3 target.db)` passes,
// or a mkfifo): createOutput opens the path for reading to look for an
// SQLite header, which blocks until someone writes to the pipe, i.e.
// forever; had it got past that, it would replace the pipe with a file.
// Before a3e2bb4 the script went into the pipe.
func TestReview7ScriptToNamedPipe(t *testing.T) {
	_, j := r7Journal(t)
	fifo := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	got := make(chan string, 1)
	go func() { // the reader: sqlite3 reading its stdin
		f, err := os.Open(fifo)
		if err != nil {
			got <- "open: " + err.Error()
			return
		}
		b, _ := io.ReadAll(f)
		f.Close()
		got <- string(b)
	}()
	done := make(chan result, 1)
	go func() { done <- run(t, "undo", j, "--script", fifo) }()
	select {
	case r := <-done:
		if r.code != 0 {
			t.Fatalf("undo --script to a pipe: %d %s", r.code, r.stderr)
		}
		select {
		case s := <-got:
			if !strings.Contains(s, "UPDATE") {
				t.Fatalf("the reader of the pipe got %q, not the script", s)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the reader of the pipe got nothing")
		}
	case <-time.After(5 * time.Second):
		// Unblock both opens (a writer appears), so nothing leaks.
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		r := <-done
		fi, _ := os.Lstat(fifo)
		t.Fatalf("undo --script to a named pipe hung (createOutput reads the pipe first, waiting for a writer); once unblocked: exit %d %s; the pipe is now %v", r.code, strings.TrimSpace(r.stderr), fi.Mode())
	}
}

// --script through a symbolic link: the link is replaced by a new file,
// and the file it points to is left as it was (before a3e2bb4 the script
// was written to the file the link names, as shells and editors do).
func TestReview7ScriptThroughSymlink(t *testing.T) {
	_, j := r7Journal(t)
	real := filepath.Join(t.TempDir(), "real.sql")
	os.WriteFile(real, []byte("old\n"), 0o600)
	link := filepath.Join(t.TempDir(), "undo.sql")
	if err := os.Symlink(real, link); err != nil {
		t.Skip(err)
	}
	if r := run(t, "undo", j, "--script", link); r.code != 0 {
		t.Fatalf("undo --script: %d %s", r.code, r.stderr)
	}
	fi, err := os.Lstat(link)
	b, _ := os.ReadFile(real)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 || !strings.Contains(string(b), "UPDATE") {
		t.Fatalf("after --script through a link: the link is now %v (err %v), the file it named holds %q", fi.Mode(), err, b)
	}
}
