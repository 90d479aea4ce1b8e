package cli

// Review of createOutput's in-place writing of /dev and /proc paths
// (5b269b0).

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Every existing path under /dev/ or /proc/ is written in place, appended
// to, even a regular file: /dev/shm/undo.sql (a tmpfs directory people
// keep files in) or /proc/self/root/tmp/undo.sql from an earlier run gets
// the new script after the old one instead of being replaced by it.
func TestReview9ProcPathRegularFileAppended(t *testing.T) {
	for _, dir := range []string{"/proc/self/root" + t.TempDir(), "/dev/shm"} {
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		f, err := os.CreateTemp(dir, "lb9-*.sql")
		if err != nil {
			t.Logf("%s: %v", dir, err)
			continue
		}
		name := filepath.Join(dir, filepath.Base(f.Name()))
		f.WriteString("-- the previous script, much longer than the new one\n")
		f.Close()
		t.Cleanup(func() { os.Remove(name) })
		w, done, err := createOutput(name)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(w, "new\n")
		if err := done(nil); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != "new\n" {
			t.Errorf("%s, written over with %q, holds %q", name, "new\n", b)
		}
	}
}

// The refusal to write over an SQLite file (a journal, a target) is
// skipped for such paths: the journal reached as /proc/self/root/<path>
// (or kept in /dev/shm) has the script appended to it.
func TestReview9ProcPathSQLiteNotRefused(t *testing.T) {
	name := "/proc/self/root" + filepath.Join(t.TempDir(), "lifebelt.journal")
	if err := os.WriteFile(name, append([]byte("SQLite format 3\x00"), make([]byte, 4080)...), 0o644); err != nil {
		t.Skip(err)
	}
	w, done, err := createOutput(name)
	if err == nil {
		fmt.Fprint(w, "script\n")
		done(nil)
		b, _ := os.ReadFile(name)
		t.Fatalf("createOutput(%s) of an SQLite file was not refused; it now has %d bytes", name, len(b))
	}
}
