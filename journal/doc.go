// Package journal owns the Lifebelt journal file format: one SQLite file
// per session holding a header, an append-only chain of entries, and the
// row images, table descriptions and object definitions each entry needs
// to be undone.
//
// Everything is written through a Writer, one SQLite transaction that is
// fsynced when Commit returns, so the engine can journal a batch before it
// commits the target. Entries are hash-chained (Verify recomputes the
// chain), values round-trip bit-exactly (EncodeRow, DecodeRow), and
// nothing here knows about dialects or the GUI. docs/journal-format.md
// specifies the file for readers in other languages.
package journal
