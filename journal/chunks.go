package journal

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/klauspost/compress/s2"
)

// Images are stored in chunks (format version 2): one image_chunks row
// holds the images ord first_ord .. first_ord+count-1 of one entry, packed
// back to back in its data BLOB. Each image is
//
//	op      1 byte: 'I', 'U' or 'D'
//	tbl     unsigned varint (encoding/binary, LEB128): image_tables.id
//	key     row
//	before  row
//	after   row
//
// and each row is a 4-byte little-endian length followed by that many
// bytes of the row encoding (docs/journal-format.md, "Value encoding"), or
// the length 0xFFFFFFFF alone for NULL. One SQLite row per few thousand
// images instead of one per image is what makes journaling cheap next to
// the statement it guards.
//
// The stored data is that byte string compressed as one Snappy block
// (the format of github.com/google/snappy's format_description.txt, which
// every Snappy library decodes), written with the fast S2 encoder of
// github.com/klauspost/compress. Rows are text and repeat much; the
// journal must reach the disk before the target may commit, so every byte
// saved is time the DBA does not wait.

// chunkBytes is the encoded size at which a chunk is written out. Big
// enough that SQLite's per-row cost vanishes, small enough that a reader
// decoding one chunk at a time holds little.
const chunkBytes = 256 << 10

const nullRow = 0xFFFFFFFF

// appendChunkRow appends row in chunk form and reports whether every value
// could be encoded (and the row is under 4 GB).
func appendChunkRow(dst []byte, row []Value) ([]byte, bool) {
	if row == nil {
		return binary.LittleEndian.AppendUint32(dst, nullRow), true
	}
	at := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst, ok := appendRow(dst, row)
	n := len(dst) - at - 4
	if n >= nullRow {
		return dst, false
	}
	binary.LittleEndian.PutUint32(dst[at:], uint32(n))
	return dst, ok
}

// rawImage is one image as stored: rows are undecoded, nil for NULL, and
// point into the chunk they came from.
type rawImage struct {
	ord, tbl           int64
	op                 byte
	key, before, after []byte
}

// maxChunk bounds the decompressed size of a stored chunk a reader
// accepts: a writer starts a new chunk at chunkBytes, so only a single
// image larger than that makes a bigger one, and SQLite's own limit on a
// value is 1 GB.
const maxChunk = 1 << 30

// compressChunk compresses a chunk's encoded images into dst.
func compressChunk(dst, plain []byte) []byte {
	if n := s2.MaxEncodedLen(len(plain)); cap(dst) < n {
		dst = make([]byte, n)
	}
	return s2.EncodeSnappy(dst[:cap(dst)], plain)
}

// decompressChunk undoes compressChunk into dst, reused when large enough.
func decompressChunk(dst, stored []byte) ([]byte, error) {
	n, err := s2.DecodedLen(stored)
	if err != nil {
		return nil, fmt.Errorf("chunk is not a Snappy block: %w", err)
	}
	if n > maxChunk {
		return nil, fmt.Errorf("chunk claims %d bytes uncompressed", n)
	}
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	out, err := s2.Decode(dst[:n], stored)
	if err != nil {
		return nil, fmt.Errorf("chunk is not a Snappy block: %w", err)
	}
	return out, nil
}

// decodeStoredChunk decompresses a stored chunk (into *scratch, reused)
// and calls fn for each image; see decodeChunk.
func decodeStoredChunk(scratch *[]byte, stored []byte, first, count int64, fn func(*rawImage) error) error {
	plain, err := decompressChunk(*scratch, stored)
	if err != nil {
		return err
	}
	*scratch = plain
	return decodeChunk(plain, first, count, fn)
}

// decodeChunk calls fn for each image of a chunk holding count images from
// first on, given its uncompressed bytes. The rawImage and its slices are
// valid only during the call.
func decodeChunk(data []byte, first, count int64, fn func(*rawImage) error) error {
	var im rawImage
	p := 0
	row := func() ([]byte, error) {
		if len(data)-p < 4 {
			return nil, errors.New("chunk ends inside a row length")
		}
		n := binary.LittleEndian.Uint32(data[p:])
		p += 4
		if n == nullRow {
			return nil, nil
		}
		if uint64(len(data)-p) < uint64(n) {
			return nil, errors.New("chunk ends inside a row")
		}
		r := data[p : p+int(n) : p+int(n)]
		p += int(n)
		return r, nil
	}
	for i := int64(0); i < count; i++ {
		im.ord = first + i
		if p >= len(data) {
			return fmt.Errorf("chunk holds %d images, %d recorded", i, count)
		}
		im.op = data[p]
		p++
		t, n := binary.Uvarint(data[p:])
		if n <= 0 || t > 1<<62 {
			return fmt.Errorf("image %d: bad table id", im.ord)
		}
		p += n
		im.tbl = int64(t)
		var err error
		if im.key, err = row(); err == nil {
			if im.before, err = row(); err == nil {
				im.after, err = row()
			}
		}
		if err != nil {
			return fmt.Errorf("image %d: %w", im.ord, err)
		}
		if err := fn(&im); err != nil {
			return err
		}
	}
	if p != len(data) {
		return fmt.Errorf("chunk has %d bytes after its %d images", len(data)-p, count)
	}
	return nil
}

// image decodes a rawImage of entry seq.
func (r *rawImage) image(seq int64) (Image, error) {
	im := Image{Seq: seq, Ord: r.ord, Table: r.tbl, Op: r.op}
	for _, c := range []struct {
		raw []byte
		dst *[]Value
		nm  string
	}{{r.key, &im.Key, "key"}, {r.before, &im.Before, "before-image"}, {r.after, &im.After, "after-image"}} {
		if c.raw == nil {
			continue
		}
		var err error
		if *c.dst, err = DecodeRow(c.raw); err != nil {
			return Image{}, fmt.Errorf("image %d of entry %d, %s: %w", r.ord, seq, c.nm, err)
		}
	}
	return im, nil
}

// storedChunk is one image_chunks row.
type storedChunk struct {
	first, count int64
	data         []byte
}

// readChunk reads entry seq's stored chunk after (or, desc, before) the one
// starting at cursor. found is false when there is none.
func (j *Journal) readChunk(seq, cursor int64, desc bool) (c storedChunk, found bool, err error) {
	q := `SELECT first_ord, count, data FROM image_chunks WHERE seq = ? AND first_ord > ? ORDER BY first_ord LIMIT 1`
	if desc {
		q = `SELECT first_ord, count, data FROM image_chunks WHERE seq = ? AND first_ord < ? ORDER BY first_ord DESC LIMIT 1`
	}
	err = j.db.QueryRowContext(context.Background(), q, seq, cursor).Scan(&c.first, &c.count, &c.data)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	return c, err == nil, err
}

// walkImages decodes entry seq's images chunk by chunk, oldest first or
// (desc) newest first, and calls fn with each chunk's images in that
// order. No query is open on fn's goroutine while fn runs: the next chunk
// is read and decoded on another goroutine meanwhile (through another
// pooled connection, which in WAL mode never waits for a writer), so the
// decoding overlaps with what fn does with the chunk before. At most two
// decoded chunks are held besides fn's.
func (j *Journal) walkImages(seq int64, desc bool, fn func([]Image) error) error {
	type decoded struct {
		imgs []Image
		err  error
	}
	ch := make(chan decoded, 1)
	stop := make(chan struct{})
	go func() {
		defer close(ch)
		var scratch []byte
		cursor := int64(0)
		if desc {
			cursor = 1 << 62
		}
		for {
			c, found, err := j.readChunk(seq, cursor, desc)
			if err != nil {
				err = fmt.Errorf("journal: reading images of entry %d: %w", seq, err)
			}
			if err != nil || !found {
				select {
				case ch <- decoded{err: err}:
				case <-stop:
				}
				return
			}
			cursor = c.first
			if c.count < 1 {
				err := fmt.Errorf("journal: entry %d, chunk at image %d records %d images", seq, c.first, c.count)
				select {
				case ch <- decoded{err: err}:
				case <-stop:
				}
				return
			}
			// The count is only trusted as far as the data could hold it
			// (an image takes at least 14 bytes).
			out := make([]Image, 0, min(c.count, int64(len(c.data))/14+1, 1<<16))
			err = decodeStoredChunk(&scratch, c.data, c.first, c.count, func(r *rawImage) error {
				im, err := r.image(seq)
				out = append(out, im)
				return err
			})
			if err != nil {
				err = fmt.Errorf("journal: entry %d, chunk at image %d: %w", seq, c.first, err)
			}
			if desc {
				for a, b := 0, len(out)-1; a < b; a, b = a+1, b-1 {
					out[a], out[b] = out[b], out[a]
				}
			}
			select {
			case ch <- decoded{imgs: out, err: err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		close(stop)
		for range ch { // wait for the reader, so nothing outlives the call
		}
	}()
	for d := range ch {
		if d.err != nil {
			return d.err
		}
		if d.imgs == nil {
			return nil
		}
		if err := fn(d.imgs); err != nil {
			return err
		}
	}
	return nil
}

// ImageChunks reads entry seq's images in chunks of at most size, oldest
// first or (desc) newest first, and calls fn once per chunk. No query is
// open while fn runs, so fn may write to the journal and take its time.
// Returning a non-nil error from fn stops the walk and is returned as is.
// The images passed to fn are fn's to keep.
func (j *Journal) ImageChunks(seq int64, desc bool, size int, fn func([]Image) error) error {
	if size < 1 {
		size = 1
	}
	return j.walkImages(seq, desc, func(imgs []Image) error {
		for len(imgs) > 0 {
			n := min(size, len(imgs))
			if err := fn(imgs[:n:n]); err != nil {
				return err
			}
			imgs = imgs[n:]
		}
		return nil
	})
}

// Images streams the images of entry seq to fn in the order they were
// added, one at a time; whole entries are never loaded. The Image passed
// to fn is fn's to keep. An error from fn stops the walk and is returned.
func (j *Journal) Images(seq int64, fn func(Image) error) error {
	return j.walkImages(seq, false, func(imgs []Image) error {
		for _, im := range imgs {
			if err := fn(im); err != nil {
				return err
			}
		}
		return nil
	})
}
