package hamming

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/ivid-project/ivid/internal/pdq"
)

// The snapshot format: the 8-byte magic, the entry count (uint64), then per
// entry the 4 words of the hash and the ID (all little-endian uint64), then
// the CRC-32C of everything before it. Buckets are rebuilt on load (a
// counting sort, seconds for 10 million entries), which keeps the file at
// 40 bytes an entry and independent of the chunking.
var snapshotMagic = [8]byte{'I', 'V', 'I', 'D', 'H', 'I', 'X', '1'}

// ErrCorruptSnapshot is returned for snapshots that fail their checks.
var ErrCorruptSnapshot = errors.New("hamming: corrupt index snapshot")

// WriteTo writes a snapshot of the live entries.
func (x *Index) WriteTo(w io.Writer) (int64, error) {
	entries := x.Entries()
	crc := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 1<<20)
	var buf [40]byte
	bw.Write(snapshotMagic[:])
	binary.LittleEndian.PutUint64(buf[:8], uint64(len(entries)))
	bw.Write(buf[:8])
	for _, e := range entries {
		for i, v := range e.Hash {
			binary.LittleEndian.PutUint64(buf[8*i:], v)
		}
		binary.LittleEndian.PutUint64(buf[32:], e.ID)
		if _, err := bw.Write(buf[:]); err != nil {
			return 0, err
		}
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	binary.LittleEndian.PutUint32(buf[:4], crc.Sum32())
	if _, err := w.Write(buf[:4]); err != nil {
		return 0, err
	}
	return int64(16 + 40*len(entries) + 4), nil
}

// Load reads a snapshot written by WriteTo and builds the index.
func Load(r io.Reader) (*Index, error) {
	crc := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	br := bufio.NewReaderSize(r, 1<<20)
	tr := io.TeeReader(br, crc)
	var head [16]byte
	if _, err := io.ReadFull(tr, head[:]); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrCorruptSnapshot, err)
	}
	if [8]byte(head[:8]) != snapshotMagic {
		return nil, fmt.Errorf("%w: not an ivid index snapshot", ErrCorruptSnapshot)
	}
	n := binary.LittleEndian.Uint64(head[8:])
	if n > 1<<34 {
		return nil, fmt.Errorf("%w: implausible entry count %d", ErrCorruptSnapshot, n)
	}
	// Grow as entries arrive rather than trusting the count for allocation.
	entries := make([]Entry, 0, min(n, 1<<20))
	var buf [40]byte
	for i := uint64(0); i < n; i++ {
		if _, err := io.ReadFull(tr, buf[:]); err != nil {
			return nil, fmt.Errorf("%w: entry %d of %d: %v", ErrCorruptSnapshot, i, n, err)
		}
		var h pdq.Hash
		for k := range h {
			h[k] = binary.LittleEndian.Uint64(buf[8*k:])
		}
		entries = append(entries, Entry{ID: binary.LittleEndian.Uint64(buf[32:]), Hash: h})
	}
	want := crc.Sum32()
	if _, err := io.ReadFull(br, buf[:4]); err != nil {
		return nil, fmt.Errorf("%w: checksum: %v", ErrCorruptSnapshot, err)
	}
	if got := binary.LittleEndian.Uint32(buf[:4]); got != want {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorruptSnapshot)
	}
	return Build(entries), nil
}
