package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"lifebelt/journal"
)

// exportJSON streams the whole journal as one JSON document: header,
// entries with their tables, objects and images. Row values use the
// journal's own value encoding (docs/journal-format.md).
func exportJSON(out io.Writer, j *journal.Journal) error {
	w := bufio.NewWriter(out)
	enc := func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	w.WriteString(`{"format":"lifebelt-journal-export","version":1,"header":`)
	if err := enc(j.Header()); err != nil {
		return err
	}
	w.WriteString(`,"entries":[`)
	entries, err := j.Entries()
	if err != nil {
		return err
	}
	var buf []byte
	for i, e := range entries {
		if i > 0 {
			w.WriteString(",")
		}
		w.WriteString(`{"entry":`)
		if err := enc(e); err != nil {
			return err
		}
		ts, err := j.Tables(e.Seq)
		if err != nil {
			return err
		}
		w.WriteString(`,"tables":[`)
		for k, t := range ts {
			if k > 0 {
				w.WriteString(",")
			}
			w.WriteString(`{"id":`)
			enc(t.ID)
			w.WriteString(`,"table":`)
			enc(t)
			w.WriteString("}")
		}
		objs, err := j.Objects(e.Seq)
		if err != nil {
			return err
		}
		w.WriteString(`],"objects":`)
		if objs == nil {
			objs = []journal.Object{}
		}
		enc(objs)
		w.WriteString(`,"images":[`)
		n := 0
		err = j.Images(e.Seq, func(im journal.Image) error {
			if n > 0 {
				w.WriteString(",")
			}
			n++
			w.WriteString(`{"op":"`)
			w.WriteByte(im.Op)
			w.WriteString(`","table":`)
			enc(im.Table)
			for _, part := range []struct {
				name string
				row  []journal.Value
			}{{"key", im.Key}, {"before", im.Before}, {"after", im.After}} {
				w.WriteString(`,"` + part.name + `":`)
				if part.row == nil {
					w.WriteString("null")
					continue
				}
				buf = journal.EncodeRow(buf[:0], part.row)
				w.Write(buf)
			}
			w.WriteString("}")
			return nil
		})
		if err != nil {
			return err
		}
		w.WriteString("]}")
	}
	w.WriteString("]}\n")
	return w.Flush()
}

// createOutput opens out for a script or an export, written to a
// temporary file beside it and renamed over it only when done: a failure
// leaves whatever was there. It refuses an existing SQLite file (a
// journal, a target database): a slip of the keyboard must not destroy
// the way back.
func createOutput(out string) (w io.Writer, done func(error) error, err error) {
	inPlace := isDescriptor(out) // /dev/stdout, /dev/fd/N: the caller's open file, written as it is
	if fi, err := os.Lstat(out); err == nil && fi.Mode()&os.ModeSymlink != 0 && !inPlace {
		real, err := filepath.EvalSymlinks(out)
		if err != nil {
			// A link to a file not made yet: made, as a shell's > would.
			to, rerr := os.Readlink(out)
			if rerr != nil {
				return nil, nil, fmt.Errorf("reading link %s: %v", out, rerr)
			}
			if !filepath.IsAbs(to) {
				to = filepath.Join(filepath.Dir(out), to)
			}
			real = to
		}
		out = real // a link is followed: its file is written, the link stays
	}
	if fi, err := os.Stat(out); err == nil && fi.Mode().IsRegular() && isSQLite(out) {
		return nil, nil, fmt.Errorf("refusing to write over %s: it is an SQLite database (a journal or a target?); name another file", out)
	}
	if fi, err := os.Stat(out); err == nil && (inPlace || !fi.Mode().IsRegular()) {
		if fi.IsDir() {
			return nil, nil, fmt.Errorf("%s is a directory; name a file", out)
		}
		// A pipe or a device (>(sqlite3 db), /dev/stdout): written as it
		// is, never replaced.
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("opening %s: %v", out, err)
		}
		return f, func(werr error) error {
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			return werr
		}, nil
	}
	dir, base := filepath.Split(out)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return nil, nil, fmt.Errorf("creating %s: %v", out, err)
	}
	done = func(werr error) error {
		if werr == nil {
			werr = tmp.Sync()
		}
		if cerr := tmp.Close(); werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = os.Rename(tmp.Name(), out)
		}
		if werr != nil {
			os.Remove(tmp.Name())
		}
		return werr
	}
	return tmp, done, nil
}

// isSQLite reports whether the regular file at path starts as an SQLite
// database does.
func isSQLite(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 16)
	n, _ := io.ReadFull(f, head)
	return string(head[:n]) == "SQLite format 3\x00"
}

// isDescriptor reports whether path names one of the process's open
// files rather than a file of its own.
func isDescriptor(path string) bool {
	switch {
	case path == "/dev/stdout", path == "/dev/stderr", strings.HasPrefix(path, "/dev/fd/"), strings.HasPrefix(path, "/proc/self/fd/"):
		return true
	case strings.HasPrefix(path, "/proc/"):
		rest := strings.TrimPrefix(path, "/proc/")
		pid, tail, ok := strings.Cut(rest, "/")
		if !ok || !strings.HasPrefix(tail, "fd/") {
			return false
		}
		for _, r := range pid {
			if r < '0' || r > '9' {
				return false
			}
		}
		return pid != ""
	}
	return false
}
