package journal

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
)

// Canonical framing of stored column values for hashing. Every value is
// tagged and length-prefixed, so no two different sequences of values frame
// to the same bytes (docs/journal-format.md, "Hash chain"):
//
//	integer: 'i' + 8-byte big-endian two's complement
//	text:    's' + 8-byte big-endian byte length + the bytes
//	NULL:    'n'
type framer struct {
	h   hash.Hash
	buf []byte
}

func newFramer() *framer { return &framer{h: sha256.New(), buf: make([]byte, 0, 256)} }

func (f *framer) int(v int64) {
	f.buf = append(f.buf, 'i')
	f.buf = binary.BigEndian.AppendUint64(f.buf, uint64(v))
	f.spill()
}

func (f *framer) text(s string) {
	f.buf = append(f.buf, 's')
	f.buf = binary.BigEndian.AppendUint64(f.buf, uint64(len(s)))
	if len(s) > 4096 {
		f.flush()
		_, _ = f.h.Write([]byte(s))
		return
	}
	f.buf = append(f.buf, s...)
	f.spill()
}

// bytes frames b as text; a nil b frames as NULL (the column is NULL).
func (f *framer) bytes(b []byte) {
	if b == nil {
		f.null()
		return
	}
	f.buf = append(f.buf, 's')
	f.buf = binary.BigEndian.AppendUint64(f.buf, uint64(len(b)))
	if len(b) > 4096 {
		f.flush()
		_, _ = f.h.Write(b)
		return
	}
	f.buf = append(f.buf, b...)
	f.spill()
}

// nullText frames s, or NULL when valid is false.
func (f *framer) nullText(s string, valid bool) {
	if !valid {
		f.null()
		return
	}
	f.text(s)
}

func (f *framer) null() {
	f.buf = append(f.buf, 'n')
	f.spill()
}

// spill hands the buffer to the hash once it is big enough to be worth a
// call; small frames are batched.
func (f *framer) spill() {
	if len(f.buf) >= 4096 {
		f.flush()
	}
}

func (f *framer) flush() {
	if len(f.buf) > 0 {
		_, _ = f.h.Write(f.buf)
		f.buf = f.buf[:0]
	}
}

// sum returns the raw digest and resets the framer for reuse.
func (f *framer) sum() [sha256.Size]byte {
	f.flush()
	var d [sha256.Size]byte
	f.h.Sum(d[:0])
	f.h.Reset()
	return d
}

// hexSum is sum in lower-case hex.
func (f *framer) hexSum() string {
	d := f.sum()
	return hex.EncodeToString(d[:])
}

// headerRow is the header as stored, in column order.
type headerRow struct {
	SessionID, CreatedAt, Dialect, Target, ServerVersion, Database,
	DatabaseID, Identity, Operator, Hostname, Reason, AppVersion string
}

func (r *headerRow) hash() string {
	f := newFramer()
	for _, s := range [...]string{r.SessionID, r.CreatedAt, r.Dialect, r.Target,
		r.ServerVersion, r.Database, r.DatabaseID, r.Identity, r.Operator,
		r.Hostname, r.Reason, r.AppVersion} {
		f.text(s)
	}
	return f.hexSum()
}

// entryRow is an entry as stored, in column order (hash excluded).
type entryRow struct {
	Seq                  int64
	At                   string
	Kind                 string
	Batch, Idx           int64
	SQL, Class, Status   string
	RowCount, DurationUS int64
	Error                string
	Refs, Detail         []byte // JSON; nil is NULL
	ImageCount           int64
	ImagesSHA256         string
	PrevHash             string
}

// hash is the entry's chain hash: SHA-256 over the framed prev_hash, then
// every stored column in order, ending with images_sha256.
func (r *entryRow) hash() string {
	f := newFramer()
	f.text(r.PrevHash)
	f.int(r.Seq)
	f.text(r.At)
	f.text(r.Kind)
	f.int(r.Batch)
	f.int(r.Idx)
	f.text(r.SQL)
	f.text(r.Class)
	f.text(r.Status)
	f.int(r.RowCount)
	f.int(r.DurationUS)
	f.text(r.Error)
	f.bytes(r.Refs)
	f.bytes(r.Detail)
	f.int(r.ImageCount)
	f.text(r.ImagesSHA256)
	return f.hexSum()
}

// tableRow is an image_tables row as stored.
type tableRow struct {
	ID, Seq      int64
	Schema, Name string
	Columns, Key []byte
	KeyKind      string
	Level        int64
}

func (r *tableRow) frame(f *framer) {
	f.int(r.ID)
	f.int(r.Seq)
	f.text(r.Schema)
	f.text(r.Name)
	f.bytes(r.Columns)
	f.bytes(r.Key)
	f.text(r.KeyKind)
	f.int(r.Level)
}

// objectRow is an objects row as stored.
type objectRow struct {
	Seq, Ord                   int64
	Kind, Schema, Name, Action string
	Before, After              []byte // JSON; nil is NULL
	Table                      int64
}

func (r *objectRow) frame(f *framer) {
	f.int(r.Seq)
	f.int(r.Ord)
	f.text(r.Kind)
	f.text(r.Schema)
	f.text(r.Name)
	f.text(r.Action)
	f.bytes(r.Before)
	f.bytes(r.After)
	f.int(r.Table)
}

// frameImage frames one images row as stored.
func frameImage(f *framer, seq, ord, table int64, op byte, key, before, after []byte) {
	f.int(seq)
	f.int(ord)
	f.int(table)
	f.buf = append(f.buf, 's', 0, 0, 0, 0, 0, 0, 0, 1, op)
	f.bytes(key)
	f.bytes(before)
	f.bytes(after)
}

// digestSet accumulates the three per-entry digests behind ImagesSHA256.
type digestSet struct {
	tables, images, objects *framer
	imageCount              int64
}

func newDigestSet() *digestSet {
	return &digestSet{tables: newFramer(), images: newFramer(), objects: newFramer()}
}

// finish returns hex(SHA-256(Dt || Di || Do)) and resets the set.
func (d *digestSet) finish() string {
	t, i, o := d.tables.sum(), d.images.sum(), d.objects.sum()
	h := sha256.New()
	h.Write(t[:])
	h.Write(i[:])
	h.Write(o[:])
	d.imageCount = 0
	return hex.EncodeToString(h.Sum(nil))
}
