package cli

// Review of createOutput (commit 6d71c77): links followed, pipes and
// devices written in place.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --script to a dangling symlink: EvalSymlinks fails, so the link itself
// is the path renamed over: the link is replaced by a regular file and
// the file it names is never written ("a link is followed: its file is
// written, the link stays"; a shell's > creates the target).
func TestReview8ScriptToDanglingSymlink(t *testing.T) {
	db := newDB(t)
	r := run(t, "exec", "--target", "sqlite:"+db, "-c", "UPDATE items SET qty = 0 WHERE id = 1")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	j := journalOf(t, r.stdout)
	dir := t.TempDir()
	target := filepath.Join(dir, "scripts", "undo.sql")
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "latest.sql")
	if err := os.Symlink(target, link); err != nil {
		t.Skip(err)
	}
	r = run(t, "undo", j, "--script", link)
	if r.code != 0 {
		t.Fatalf("undo --script: %d %s", r.code, r.stderr)
	}
	fi, err := os.Lstat(link)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSymlink == 0 {
		_, terr := os.Stat(target)
		t.Fatalf("the symlink %s was replaced by a %v file; its target %s: %v", link, fi.Mode(), target, terr)
	}
}

// /dev/stdout (or /dev/fd/N) when that descriptor is a regular file, as
// in `lifebelt undo j --script /dev/stdout >> undo.log`: the link
// /dev/fd/N is followed to the file's path and a temporary file is
// renamed over it, so what the file held is destroyed (and the process's
// own descriptor now points at an unlinked file), instead of the script
// being written to the descriptor in place as for pipes and terminals.
func TestReview8OutputToDevFdOfAppendedFile(t *testing.T) {
	logf := filepath.Join(t.TempDir(), "undo.log")
	if err := os.WriteFile(logf, []byte("earlier run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(logf, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	name := fmt.Sprintf("/dev/fd/%d", f.Fd())
	if _, err := os.Stat(name); err != nil {
		t.Skip(err)
	}
	w, done, err := createOutput(name)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, "script\n")
	if err := done(nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(logf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "earlier run\n") {
		t.Fatalf("%s (opened for appending, written through %s) now holds %q: its content was replaced", logf, name, b)
	}
}
