package blob

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// packTest opens a Local in dir that packs files up to packFile bytes in
// packs of up to packSize, and a store over it.
func packTest(t testing.TB, dir string, key Key, packFile int, packSize int64) (*Store, *Local) {
	t.Helper()
	l, err := openLocal(dir, packFile, packSize)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), l, key)
	if err != nil {
		t.Fatal(err)
	}
	return s, l
}

func putAll(t *testing.T, s *Store, sizes ...int) [][]byte {
	t.Helper()
	var out [][]byte
	for i, n := range sizes {
		b := content(n, uint64(1000+i*7+n))
		if _, err := s.Put(t.Context(), Sum(b), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// checkAll asserts that exactly the contents given are stored and read
// back intact, listed once each.
func checkAll(t *testing.T, s *Store, l *Local, contents [][]byte) {
	t.Helper()
	var want []string
	for _, b := range contents {
		got, err := readAll(t, s, Sum(b))
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("%d bytes: read back %d bytes, %v", len(b), len(got), err)
		}
		n, _ := s.name(Sum(b))
		want = append(want, n)
	}
	var listed []string
	l.List(t.Context(), func(name string) error {
		if name != keyringName {
			listed = append(listed, name)
		}
		return nil
	})
	slices.Sort(want)
	slices.Sort(listed)
	if !slices.Equal(listed, want) {
		t.Fatalf("listed %d names, want %d", len(listed), len(want))
	}
}

// record is a pack record as add writes it, for the tests that forge one.
func record(kind byte, key [32]byte, data []byte) []byte {
	return append(recordHeader(kind, key, data), data...)
}

func packFiles(t *testing.T, dir, suffix string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, packDir, "*"+suffix))
	return m
}

// TestPackReopen: small blobs go to packs and large ones to files of their
// own; all read back after the store is closed and opened again, and after
// it is dropped without closing (a crash), which scans the last pack.
func TestPackReopen(t *testing.T) {
	for _, closeFirst := range []bool{true, false} {
		dir, key := t.TempDir(), GenerateKey()
		s, l := packTest(t, dir, key, 5000, 1<<20)
		// Stored, a blob of n < 64 KiB bytes takes n+120: 4880 is the last packed.
		contents := putAll(t, s, 0, 10, 4000, 4880, 4881, 70000, 3*chunkSize)
		checkAll(t, s, l, contents)
		if closeFirst {
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		}
		s2, l2 := packTest(t, dir, key, 5000, 1<<20)
		checkAll(t, s2, l2, contents)
		if l2.Damaged() != 0 {
			t.Errorf("damaged bytes %d after a clean stop", l2.Damaged())
		}
		if n := len(packFiles(t, dir, ".pack")); n != 1 {
			t.Errorf("%d packs, want 1", n)
		}
		// Files over the limit, and only they, are files of their own.
		files := 0
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if !d.IsDir() && len(d.Name()) == 64 {
				files++
			}
			return nil
		})
		if files != 3 {
			t.Errorf("%d blob files, want 3 (those over 5000 bytes stored)", files)
		}
	}
}

// TestPackSeal: packs are sealed at their size limit with an index; a
// store opens from the indexes, and from a scan when an index is missing
// or damaged.
func TestPackSeal(t *testing.T) {
	dir, key := t.TempDir(), GenerateKey()
	s, l := packTest(t, dir, key, 5000, 3000)
	contents := putAll(t, s, 1000, 1100, 1200, 1300, 1400, 1500, 1600)
	l.Close()
	packs, idxs := packFiles(t, dir, ".pack"), packFiles(t, dir, ".idx")
	if len(packs) < 4 || len(idxs) != len(packs) {
		t.Fatalf("%d packs and %d indexes", len(packs), len(idxs))
	}
	s2, l2 := packTest(t, dir, key, 5000, 3000)
	checkAll(t, s2, l2, contents)
	l2.Close()

	os.Remove(idxs[0])
	b, _ := os.ReadFile(idxs[1])
	b[len(idxMagic)+5] ^= 1
	os.WriteFile(idxs[1], b, 0o600)
	s3, l3 := packTest(t, dir, key, 5000, 3000)
	checkAll(t, s3, l3, contents)
	if _, err := readIndex(idxs[0]); err != nil {
		t.Errorf("the missing index was not written again: %v", err)
	}
	if _, err := readIndex(idxs[1]); err != nil {
		t.Errorf("the damaged index was not written again: %v", err)
	}
}

// TestPackTornTail: a crash in the middle of an append leaves part of a
// record at the end of the last pack. Opening keeps every whole record,
// reports the torn bytes, leaves them in place, and appends to a new pack.
func TestPackTornTail(t *testing.T) {
	for _, c := range []struct {
		name string
		tail func(rec []byte) []byte
	}{
		{"header cut", func(rec []byte) []byte { return rec[:20] }},
		{"data cut", func(rec []byte) []byte { return rec[:len(rec)-100] }},
		{"data never written", func(rec []byte) []byte { return append(rec[:recHeader], make([]byte, len(rec)-recHeader)...) }},
		{"zeros", func(rec []byte) []byte { return make([]byte, 4096) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, key := t.TempDir(), GenerateKey()
			s, _ := packTest(t, dir, key, 5000, 1<<20)
			contents := putAll(t, s, 1000, 2000, 3000)
			// The record another put would have appended.
			lost := content(1500, 99)
			rec := record(kindPut, Sum(lost), lost)
			pack := packFiles(t, dir, ".pack")[0]
			f, _ := os.OpenFile(pack, os.O_APPEND|os.O_WRONLY, 0)
			torn := c.tail(rec)
			f.Write(torn)
			f.Close()
			before, _ := os.Stat(pack)

			s2, l2 := packTest(t, dir, key, 5000, 1<<20)
			checkAll(t, s2, l2, contents)
			if l2.Damaged() != int64(len(torn)) {
				t.Errorf("damaged %d bytes, want %d", l2.Damaged(), len(torn))
			}
			contents = append(contents, putAll(t, s2, 2500)...)
			l2.Close()
			if after, _ := os.Stat(pack); after.Size() != before.Size() {
				t.Errorf("the torn pack changed size: %d to %d", before.Size(), after.Size())
			}
			s3, l3 := packTest(t, dir, key, 5000, 1<<20)
			checkAll(t, s3, l3, contents)
		})
	}
}

// TestPackDamage: a record damaged in the middle of a pack is reported and
// skipped, the records after it are kept, and the store reads the damaged
// blob as corrupt, never as other content.
func TestPackDamage(t *testing.T) {
	dir, key := t.TempDir(), GenerateKey()
	s, _ := packTest(t, dir, key, 5000, 1<<20)
	contents := putAll(t, s, 1000, 2000, 3000)
	pack := packFiles(t, dir, ".pack")[0]
	b, _ := os.ReadFile(pack)
	// The second record's data: past the magic, the first record and a
	// header.
	pos := len(packMagic) + recHeader + (headerSize + 1000 + 16) + recHeader + 500
	b[pos] ^= 0x10
	os.WriteFile(pack, b, 0o600)
	// The open store reads the damage as corruption.
	if _, err := readAll(t, s, Sum(contents[1])); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged blob read: %v, want ErrCorrupt", err)
	}
	s2, l2 := packTest(t, dir, key, 5000, 1<<20)
	if l2.Damaged() == 0 {
		t.Error("the damage was not reported")
	}
	checkAll(t, s2, l2, [][]byte{contents[0], contents[2]})
	if ok, _ := s2.Has(t.Context(), Sum(contents[1])); ok {
		t.Error("the damaged blob is listed")
	}
}

// TestPackRemove: a removal is a record of its own and outlives a restart;
// the content can be stored again.
func TestPackRemove(t *testing.T) {
	dir, key := t.TempDir(), GenerateKey()
	s, l := packTest(t, dir, key, 5000, 1<<20)
	contents := putAll(t, s, 1000, 2000)
	n, _ := s.name(Sum(contents[0]))
	if err := l.Remove(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	checkAll(t, s, l, contents[1:])
	s2, l2 := packTest(t, dir, key, 5000, 1<<20)
	checkAll(t, s2, l2, contents[1:])
	putAll(t, s2, 1000)
	checkAll(t, s2, l2, contents)
}

// TestPackRotation: rotating the master key re-wraps packed blobs too,
// and compaction then reclaims the versions it left behind.
func TestPackRotation(t *testing.T) {
	dir, old, next := t.TempDir(), GenerateKey(), GenerateKey()
	s, l := packTest(t, dir, old, 5000, 6000)
	contents := putAll(t, s, 100, 4000, 9000, 1200, 1300, 1400, 1500, 1600, 1700)
	l.Close()
	before := packBytes(t, dir)
	l2, _ := openLocal(dir, 5000, 6000)
	s2, err := Open(t.Context(), l2, next, old)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s2.Rotate(t.Context()); err != nil || n != len(contents) {
		t.Fatalf("rotated %d, %v", n, err)
	}
	l2.Close()
	rotated := packBytes(t, dir)
	if !packsHold(t, dir, old.id[:]) {
		t.Fatal("the test cannot see the old key's ID in the blob headers")
	}
	l3, _ := openLocal(dir, 5000, 6000)
	freed, err := l3.Compact(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	l3.Close()
	after := packBytes(t, dir)
	t.Logf("pack bytes: %d before rotation, %d after, %d after compaction (%d freed)", before, rotated, after, freed)
	if freed == 0 || after != rotated-freed || after > before+6000 {
		t.Errorf("compaction freed %d bytes: %d before rotation, %d after, %d after compaction", freed, before, rotated, after)
	}
	if packsHold(t, dir, old.id[:]) {
		t.Error("a blob wrapped under the old key is still in the packs")
	}
	s4, l4 := packTest(t, dir, next, 5000, 6000)
	checkAll(t, s4, l4, contents)
}

// packsHold reports whether any pack file contains b.
func packsHold(t *testing.T, dir string, b []byte) bool {
	for _, p := range packFiles(t, dir, ".pack") {
		data, _ := os.ReadFile(p)
		if bytes.Contains(data, b) {
			return true
		}
	}
	return false
}

// TestPackCompactKeepsRemovals: compacting a pack that removed a blob
// written in an earlier pack keeps it removed.
func TestPackCompactKeepsRemovals(t *testing.T) {
	dir, key := t.TempDir(), GenerateKey()
	s, l := packTest(t, dir, key, 5000, 4000)
	// The first two share the first pack, which stays live enough to be
	// kept; the removal goes to the second, which compaction empties.
	contents := putAll(t, s, 1000, 2500, 3000)
	n, _ := s.name(Sum(contents[0]))
	l.Remove(t.Context(), n)
	// The second pack then holds a dead copy: rewrite the last blob.
	n2, _ := s.name(Sum(contents[2]))
	l.Remove(t.Context(), n2)
	if _, err := s.Put(t.Context(), Sum(contents[2]), bytes.NewReader(contents[2])); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l2, _ := openLocal(dir, 5000, 4000)
	if _, err := l2.Compact(t.Context()); err != nil {
		t.Fatal(err)
	}
	l2.Close()
	s3, l3 := packTest(t, dir, key, 5000, 4000)
	checkAll(t, s3, l3, contents[1:])
}

func packBytes(t *testing.T, dir string) int64 {
	var n int64
	for _, p := range packFiles(t, dir, ".pack") {
		fi, _ := os.Stat(p)
		n += fi.Size()
	}
	return n
}

// FuzzPackScan: whatever a pack file holds, scanning it neither panics
// nor keeps a record outside the file or with a wrong CRC, and accounts for
// every byte.
func FuzzPackScan(f *testing.F) {
	k := [32]byte{1, 2, 3}
	good := append([]byte(packMagic), record(kindPut, k, []byte("hello"))...)
	f.Add(good)
	f.Add(append(slices.Clone(good), record(kindRemove, k, nil)...))
	f.Add(append(slices.Clone(good), 0xff, 0xff))
	f.Add([]byte(packMagic))
	f.Add([]byte("IVIDPAK"))
	path := filepath.Join(f.TempDir(), "0.pack")
	f.Fuzz(func(t *testing.T, b []byte) {
		os.WriteFile(path, b, 0o600)
		recs, skipped, err := scanPack(path)
		if err != nil {
			t.Fatal(err)
		}
		used := int64(0)
		if len(recs) > 0 {
			used = int64(len(packMagic))
		}
		for _, r := range recs {
			end := int64(r.off) + recHeader + int64(r.n)
			if end > int64(len(b)) {
				t.Fatalf("record past the end: %+v of %d bytes", r, len(b))
			}
			if !bytes.Equal(b[r.off:end], record(r.kind, r.key, b[int64(r.off)+recHeader:end])) {
				t.Fatalf("record at %d kept with a wrong CRC", r.off)
			}
			used += end - int64(r.off)
		}
		if len(recs) > 0 && used+skipped != int64(len(b)) {
			t.Fatalf("%d bytes in records and %d skipped of %d", used, skipped, len(b))
		}
	})
}

// TestPackConcurrent: puts and reads from many goroutines at once, across
// pack boundaries, all read back (run it with -race).
func TestPackConcurrent(t *testing.T) {
	dir, key := t.TempDir(), GenerateKey()
	s, l := packTest(t, dir, key, 5000, 8000)
	const workers, each = 8, 6
	all := make([][][]byte, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			// Odd workers put in batches of 3, whose syncs and the packs'
			// sealing interleave with the others' appends.
			batch := s.Batch()
			for i := range each {
				b := content(500+100*i+w, uint64(w*100+i))
				put := s.Put
				if w%2 == 1 {
					put = batch.Put
				}
				if _, err := put(context.Background(), Sum(b), bytes.NewReader(b)); err != nil {
					t.Error(err)
					return
				}
				all[w] = append(all[w], b)
				if w%2 == 1 && i%3 != 2 {
					continue
				}
				if err := batch.Sync(); err != nil {
					t.Error(err)
					return
				}
				got, err := readAll(t, s, Sum(all[w][0]))
				if err != nil || !bytes.Equal(got, all[w][0]) {
					t.Errorf("worker %d: read back %d bytes, %v", w, len(got), err)
				}
			}
		})
	}
	wg.Wait()
	var contents [][]byte
	for _, c := range all {
		contents = append(contents, c...)
	}
	checkAll(t, s, l, contents)
	l.Close()
	s2, l2 := packTest(t, dir, key, 5000, 8000)
	checkAll(t, s2, l2, contents)
}

// FuzzReadIndex: whatever an index file holds, reading it neither panics
// nor accepts it unless writing what it read gives the same bytes back.
func FuzzReadIndex(f *testing.F) {
	dir := f.TempDir()
	good := filepath.Join(dir, "good.idx")
	writeIndex(good, []idxEntry{{kind: kindPut, key: [32]byte{7}, off: 8, n: 5}, {kind: kindRemove, key: [32]byte{7}, off: 54}})
	b, _ := os.ReadFile(good)
	f.Add(b)
	f.Add([]byte(idxMagic))
	f.Add(append([]byte(idxMagic), 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0))
	path, back := filepath.Join(dir, "x.idx"), filepath.Join(dir, "back.idx")
	f.Fuzz(func(t *testing.T, b []byte) {
		os.WriteFile(path, b, 0o600)
		recs, err := readIndex(path)
		if err != nil {
			return
		}
		if err := writeIndex(back, recs); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(back); !bytes.Equal(got, b) {
			t.Fatalf("accepted an index that does not write back the same: %x", b)
		}
	})
}

// TestPackFailedSync: an append whose sync fails is not acknowledged, not
// visible, and not kept: the next append is written over it, and after a
// crash only acknowledged blobs are there.
func TestPackFailedSync(t *testing.T) {
	dir, key := t.TempDir(), GenerateKey()
	s, l := packTest(t, dir, key, 5000, 1<<20)
	contents := putAll(t, s, 1000)
	lost := content(2000, 42)
	failure := errors.New("I/O error")
	l.packs.syncFile = func(*os.File) error { return failure }
	if _, err := s.Put(t.Context(), Sum(lost), bytes.NewReader(lost)); !errors.Is(err, failure) {
		t.Fatalf("put with a failing sync: %v", err)
	}
	if ok, _ := s.Has(t.Context(), Sum(lost)); ok {
		t.Fatal("a blob whose sync failed is visible")
	}
	l.packs.syncFile = datasync
	contents = append(contents, putAll(t, s, 1500)...)
	checkAll(t, s, l, contents)
	// A crash now: the pack is scanned, and lists exactly what was
	// acknowledged (the rest of the failed record is torn bytes at the end).
	s2, l2 := packTest(t, dir, key, 5000, 1<<20)
	checkAll(t, s2, l2, contents)
}

// TestPackBatch: a batch's blobs are written with one sync for all, become
// readable only when it is done, and survive a reopen; a blob too large to
// pack is committed on its own; a pack sealed in the middle of a batch
// syncs what it holds.
func TestPackBatch(t *testing.T) {
	for _, tc := range []struct {
		name      string
		packSize  int64
		sizes     []int
		wantSyncs int
	}{
		{"one pack", 1 << 20, []int{1000, 2000, 3000, 4000, 100}, 1},
		{"sealed in between", 9000, []int{4000, 4000, 4000, 4000}, 2},
		{"one too large to pack", 1 << 20, []int{1000, 9000, 2000}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, key := t.TempDir(), GenerateKey()
			s, l := packTest(t, dir, key, 5000, tc.packSize)
			syncs := 0
			l.packs.syncFile = func(f *os.File) error { syncs++; return datasync(f) }
			b := s.Batch()
			var contents [][]byte
			for i, n := range tc.sizes {
				c := content(n, uint64(i+1))
				if written, err := b.Put(t.Context(), Sum(c), bytes.NewReader(c)); err != nil || !written {
					t.Fatalf("put %d bytes: %v, %v", n, written, err)
				}
				contents = append(contents, c)
			}
			// The last blob waits for the sync; a large file is committed
			// on its own, at once.
			for i, c := range contents {
				ok, _ := s.Has(t.Context(), Sum(c))
				if (i == len(contents)-1 && ok) || (len(c) > 5000 && !ok) {
					t.Fatalf("blob %d (%d bytes): readable before the batch's sync: %v", i, len(c), ok)
				}
			}
			if err := b.Sync(); err != nil {
				t.Fatal(err)
			}
			if syncs != tc.wantSyncs {
				t.Errorf("%d pack syncs for the batch, want %d", syncs, tc.wantSyncs)
			}
			checkAll(t, s, l, contents)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			s2, l2 := packTest(t, dir, key, 5000, tc.packSize)
			checkAll(t, s2, l2, contents)
		})
	}
}

// TestPackBatchFailedSync: when a batch's sync fails, none of its packed
// blobs is visible, Sync says so, and the store goes on: the same content
// put again is stored, and a reopen finds only what was acknowledged.
func TestPackBatchFailedSync(t *testing.T) {
	dir, key := t.TempDir(), GenerateKey()
	s, l := packTest(t, dir, key, 5000, 1<<20)
	kept := putAll(t, s, 1000)
	failure := errors.New("I/O error")
	l.packs.syncFile = func(*os.File) error { return failure }
	b := s.Batch()
	lost := [][]byte{content(2000, 7), content(3000, 8)}
	for _, c := range lost {
		if _, err := b.Put(t.Context(), Sum(c), bytes.NewReader(c)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Sync(); !errors.Is(err, failure) {
		t.Fatalf("batch sync: %v, want the sync's failure", err)
	}
	for _, c := range lost {
		if ok, _ := s.Has(t.Context(), Sum(c)); ok {
			t.Fatal("a blob of a failed batch is visible")
		}
	}
	l.packs.syncFile = datasync
	b = s.Batch()
	for _, c := range lost {
		if written, err := b.Put(t.Context(), Sum(c), bytes.NewReader(c)); err != nil || !written {
			t.Fatalf("put again: %v, %v", written, err)
		}
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, lost...)
	checkAll(t, s, l, kept)
	s2, l2 := packTest(t, dir, key, 5000, 1<<20)
	checkAll(t, s2, l2, kept)
}
