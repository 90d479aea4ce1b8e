package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Summary describes one journal file in a directory listing.
type Summary struct {
	Path    string
	Header  Header
	Entries int
	// LastAt is the time of the last entry, or the header's CreatedAt when
	// there are none.
	LastAt time.Time
	// States counts statement and undo entries by computed State
	// ("pending", "committed", "undone", ...).
	States map[string]int
	// Err is why the file could not be read; the other fields are then
	// partial. One bad file does not stop a listing.
	Err error
}

// List summarises the journals (*.lifebelt files) directly in dir, in name
// order, which is creation order for names made by NewPath. Files that
// cannot be read are listed with Err set.
func List(dir string) ([]Summary, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: listing %s: %w", dir, err)
	}
	var out []Summary
	for _, de := range des {
		if de.IsDir() || !strings.HasSuffix(de.Name(), Ext) {
			continue
		}
		out = append(out, summarize(filepath.Join(dir, de.Name())))
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Path < out[b].Path })
	return out, nil
}

func summarize(path string) Summary {
	s := Summary{Path: path}
	j, err := OpenReadOnly(path)
	if err != nil {
		s.Err = err
		return s
	}
	defer j.Close()
	s.Header = j.Header()
	s.LastAt = s.Header.CreatedAt
	es, err := j.Entries()
	if err != nil {
		s.Err = err
		return s
	}
	s.Entries = len(es)
	s.States = map[string]int{}
	for _, e := range es {
		if e.Kind == KindStatement || e.Kind == KindUndo {
			s.States[e.State]++
		}
		if e.At.After(s.LastAt) {
			s.LastAt = e.At
		}
	}
	return s
}
