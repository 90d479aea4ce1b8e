package postgres

import (
	"container/list"
	"sync"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// treeCache hands the parse trees Split made to Exec, which would
// otherwise parse each statement a second time. A statement's tree
// depends on nothing but its text (the locations in it, relative to the
// batch, are never used), so a tree found under a statement's exact text
// is the one parsing that text would give.
//
// Exec takes a tree out of the cache, so that it owns it whatever it does
// with it; a batch repeating a statement, or one too long for the cache,
// just parses again. The cache is bounded, by count and by the length of
// the texts, and shared by the session's goroutines.
type treeCache struct {
	mu    sync.Mutex
	order *list.List // of *treeEntry, most recent first
	byKey map[string]*list.Element
	size  int // total length of the texts held
}

type treeEntry struct {
	text string
	tree *pg_query.Node
}

const (
	treeCacheEntries = 128
	treeCacheBytes   = 256 << 10
	// treeCacheMaxText: longer statements are not kept; parsing is a
	// small part of running them.
	treeCacheMaxText = 16 << 10
)

// put keeps the trees of a batch's statements.
func (c *treeCache) put(texts []string, trees []*pg_query.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.order, c.byKey = list.New(), map[string]*list.Element{}
	}
	for i, text := range texts {
		if len(text) > treeCacheMaxText || trees[i] == nil {
			continue
		}
		if el, ok := c.byKey[text]; ok {
			c.remove(el)
		}
		c.byKey[text] = c.order.PushFront(&treeEntry{text: text, tree: trees[i]})
		c.size += len(text)
		for c.order.Len() > treeCacheEntries || c.size > treeCacheBytes {
			c.remove(c.order.Back())
		}
	}
}

// take removes and returns the tree kept for text, if any.
func (c *treeCache) take(text string) *pg_query.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[text]
	if !ok {
		return nil
	}
	c.remove(el)
	return el.Value.(*treeEntry).tree
}

func (c *treeCache) remove(el *list.Element) {
	e := el.Value.(*treeEntry)
	c.order.Remove(el)
	delete(c.byKey, e.text)
	c.size -= len(e.text)
}
