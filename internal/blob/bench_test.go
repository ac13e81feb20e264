package blob

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// BenchmarkPut stores distinct 240 kB blobs (a 1600×1067 JPEG's size):
// encryption, the SHA-256 check, the write and the syncs, appended to a
// pack or each a file of its own.
func BenchmarkPut(b *testing.B) {
	for _, c := range []struct {
		name     string
		packFile int
	}{{"packed", defaultPackFile}, {"files", 0}} {
		b.Run(c.name, func(b *testing.B) {
			s, _ := openWith(b, c.packFile, GenerateKey())
			data := content(240<<10, 1)
			b.SetBytes(int64(len(data)))
			for i := 0; b.Loop(); i++ {
				data[0], data[1], data[2] = byte(i), byte(i>>8), byte(i>>16)
				if _, err := s.Put(b.Context(), Sum(data), bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPutBatch is BenchmarkPut in batches of 8, as a contribution
// group stores them: one sync a batch.
func BenchmarkPutBatch(b *testing.B) {
	s, _ := openWith(b, defaultPackFile, GenerateKey())
	data := content(240<<10, 1)
	b.SetBytes(int64(len(data)))
	batch := s.Batch()
	for i := 0; b.Loop(); i++ {
		data[0], data[1], data[2] = byte(i), byte(i>>8), byte(i>>16)
		if _, err := batch.Put(b.Context(), Sum(data), bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		if i%8 == 7 {
			if err := batch.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := batch.Sync(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOpenPacks opens a store whose sealed packs list a million
// blobs: the start-up cost of the packs' indexes, and their memory.
func BenchmarkOpenPacks(b *testing.B) {
	const perPack, packs = 100_000, 10
	dir := b.TempDir()
	pdir := filepath.Join(dir, packDir)
	os.MkdirAll(pdir, 0o700)
	for n := range uint32(packs) {
		recs := make([]idxEntry, perPack)
		for i := range recs {
			recs[i] = idxEntry{kind: kindPut, off: uint32(8 + i*41)}
			binary.LittleEndian.PutUint64(recs[i].key[:], uint64(n)*perPack+uint64(i)+1)
		}
		os.WriteFile(packName(pdir, n), []byte(packMagic), 0o600)
		if err := writeIndex(packName(pdir, n)+".idx", recs); err != nil {
			b.Fatal(err)
		}
	}
	var before, after runtime.MemStats
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&before)
		p, err := openPacks(pdir, defaultPackFile, defaultPackSize)
		if err != nil || len(p.idx) != perPack*packs {
			b.Fatalf("%v, %d entries", err, len(p.idx))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(p.idx)), "heap-B/blob")
		runtime.KeepAlive(p)
	}
}
