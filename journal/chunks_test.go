package journal

import (
	"bytes"
	"testing"
)

// FuzzChunk feeds arbitrary stored chunks to the reader: it must refuse
// or decode them, never panic or read past them, and every chunk the
// writer's encoding makes must decode to exactly what was encoded.
func FuzzChunk(f *testing.F) {
	var plain []byte
	for i := 0; i < 5; i++ {
		plain = append(plain, "DUI"[i%3], byte(i+1))
		var ok bool
		plain, ok = appendChunkRow(plain, testRow(i)[:1])
		if !ok {
			f.Fatal("encoding a test row failed")
		}
		plain, _ = appendChunkRow(plain, testRow(i))
		plain, _ = appendChunkRow(plain, nil)
	}
	f.Add(compressChunk(nil, plain), int64(1), int64(5))
	f.Add(compressChunk(nil, plain), int64(7), int64(4))
	f.Add(plain, int64(1), int64(5))
	f.Add([]byte{}, int64(1), int64(1))
	f.Add(compressChunk(nil, []byte{'D', 1, 0xff, 0xff, 0xff, 0xff}), int64(1), int64(1))
	f.Fuzz(func(t *testing.T, stored []byte, first, count int64) {
		if count > 1<<16 {
			count = 1 << 16
		}
		var scratch []byte
		n := int64(0)
		_ = decodeStoredChunk(&scratch, stored, first, count, func(r *rawImage) error {
			if r.ord != first+n {
				t.Fatalf("image %d has ord %d", n, r.ord)
			}
			n++
			if _, err := r.image(1); err != nil {
				return err
			}
			return nil
		})
		// Whatever decodes, re-encoded, gives the same plain bytes.
		plainIn, err := decompressChunk(nil, stored)
		if err != nil {
			return
		}
		var out []byte
		err = decodeChunk(plainIn, first, count, func(r *rawImage) error {
			out = append(out, r.op)
			out = appendUvarint(out, r.tbl)
			for _, row := range [][]byte{r.key, r.before, r.after} {
				out = appendRawRow(out, row)
			}
			return nil
		})
		if err == nil && !bytes.Equal(out, plainIn) {
			t.Fatalf("chunk decodes to images that encode differently")
		}
	})
}

func appendUvarint(b []byte, v int64) []byte {
	for u := uint64(v); ; u >>= 7 {
		if u < 0x80 {
			return append(b, byte(u))
		}
		b = append(b, byte(u)|0x80)
	}
}

func appendRawRow(b, row []byte) []byte {
	if row == nil {
		return append(b, 0xff, 0xff, 0xff, 0xff)
	}
	n := len(row)
	b = append(b, byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
	return append(b, row...)
}

// TestReadersRefuseBadCounts: a chunk whose recorded count is damaged is
// refused by every reader, never a panic.
func TestReadersRefuseBadCounts(t *testing.T) {
	for _, count := range []string{"-1", "0", "1099511627776", "2"} {
		t.Run(count, func(t *testing.T) {
			path := verifiedJournal(t)
			db := rawDB(t, path)
			execSQL("UPDATE image_chunks SET count = "+count+" WHERE seq = 1")(t, db)
			db.Close()
			j, err := OpenReadOnly(path)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			if err := j.Images(1, func(Image) error { return nil }); err == nil {
				t.Error("Images read a chunk with a damaged count")
			}
			if err := j.ImageChunks(1, true, 3, func([]Image) error { return nil }); err == nil {
				t.Error("ImageChunks read a chunk with a damaged count")
			}
			if rep, err := Verify(path); err != nil || rep.OK {
				t.Errorf("Verify: %+v, %v", rep, err)
			}
		})
	}
}
