package blob

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Small files are appended to pack files rather than written one file
// each: a photo then costs one append and one data sync, not a file
// creation, a rename and two syncs (file and directory): BenchmarkPut
// measured 0.92–0.95 ms a 240 kB photo against 1.18–1.44 ms, and the
// contribution bench (1600×1067 photos, 2 cores) about 3 points less
// overhead over hashing. A Batch's appends share one sync: a contribution
// group of photos costs one (with reused buffers, 7 to 14 points less
// overhead in that bench).
//
// Pack layout: the magic "IVIDPAK1", then records, each
//
//	CRC-32C (4) | kind (1) | key (32) | length (4) | data
//
// all little-endian; the CRC covers everything after it. Kind 1 puts a
// file, kind 2 removes it; a later record of a key replaces an earlier one.
// A pack is sealed when it would grow past its limit: an index file
// (".idx") then lists its records, so that opening the store reads the
// indexes of sealed packs and scans only the last pack. A crash can leave
// a torn record at the end of the last pack (never acknowledged: its sync
// had not returned); opening leaves those bytes where they are, seals the
// pack at its last whole record and appends to a new one. Nothing is ever
// truncated, so a damaged record in the middle loses no record after it
// that an index lists.
const (
	packMagic    = "IVIDPAK1"
	idxMagic     = "IVIDIDX1"
	recHeader    = 4 + 1 + 32 + 4
	idxEntrySize = 1 + 32 + 4 + 4
	kindPut      = 1
	kindRemove   = 2

	// defaultPackFile is the largest file packed (a camera's JPEG fits);
	// larger ones, videos, are files of their own. defaultPackSize bounds
	// a pack, and so the scan of the last one when the store opens.
	defaultPackFile = 8 << 20
	defaultPackSize = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// loc is where a packed file's data is.
type loc struct {
	pack uint32
	off  uint32 // of the data, past the record's header
	n    uint32
}

// idxEntry is one record of a pack, as its index lists it.
type idxEntry struct {
	kind byte
	key  [32]byte
	off  uint32 // of the record
	n    uint32
}

// packs is the packed part of a Local store. Its index of blobs is in
// memory: about 100 bytes a blob, 1 GB for 10 million photos, loaded in
// about 0.5 s a million (BenchmarkOpenPacks).
type packs struct {
	dir     string
	maxFile int
	maxPack int64
	mu      sync.Mutex // serialises appends and sealing; guards what follows
	active  *os.File   // nil until the first append
	num     uint32     // the active pack's number
	size    int64      // bytes of it written
	durable int64      // bytes of it synced
	records []idxEntry // the active pack's, for its index
	// unsynced are the active pack's records past durable: written, not
	// yet visible. failures counts syncs that failed, which drop them.
	unsynced []idxEntry
	failures uint64
	// bufs holds packPending buffers for reuse: a fresh one grows in
	// steps, each step zeroed memory the kernel first has to map.
	bufs     sync.Pool
	imu      sync.RWMutex
	idx      map[[32]byte]loc
	skipped  int64 // bytes of torn or damaged records found when opening
	nextPack uint32
	// syncFile makes appends durable: datasync, or a failure in tests.
	syncFile func(*os.File) error
}

// packKey returns the key of a packable name: 64 lowercase hex digits.
func packKey(name string) ([32]byte, bool) {
	var k [32]byte
	if len(name) != 64 || strings.ToLower(name) != name {
		return k, false
	}
	_, err := hex.Decode(k[:], []byte(name))
	return k, err == nil
}

func packName(dir string, n uint32) string {
	return filepath.Join(dir, fmt.Sprintf("%08d.pack", n))
}

// openPacks loads the packs in dir, creating it if needed. New records go
// to a new pack, made on the first append.
func openPacks(dir string, maxFile int, maxPack int64) (*packs, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &packs{dir: dir, maxFile: maxFile, maxPack: maxPack, idx: map[[32]byte]loc{}, syncFile: datasync}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var nums []uint32
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), ".pack")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(base, 10, 32)
		if err != nil || packName(dir, uint32(n)) != filepath.Join(dir, e.Name()) {
			continue // not one of ours
		}
		nums = append(nums, uint32(n))
	}
	slices.Sort(nums)
	for _, n := range nums {
		recs, err := readIndex(packName(dir, n) + ".idx")
		if err != nil {
			// Not sealed (the last pack), or its index is lost: scan it,
			// and seal it so that the next start need not.
			var skipped int64
			recs, skipped, err = scanPack(packName(dir, n))
			if err != nil {
				return nil, fmt.Errorf("blob store: pack %d: %w", n, err)
			}
			p.skipped += skipped
			if err := writeIndex(packName(dir, n)+".idx", recs); err != nil {
				return nil, fmt.Errorf("blob store: pack %d: %w", n, err)
			}
		}
		for _, r := range recs {
			p.apply(n, r)
		}
		p.nextPack = n + 1
	}
	if len(nums) > 0 {
		if err := syncDir(dir); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *packs) apply(pack uint32, r idxEntry) {
	if r.kind == kindRemove {
		delete(p.idx, r.key)
		return
	}
	p.idx[r.key] = loc{pack: pack, off: r.off + recHeader, n: r.n}
}

// scanPack reads a pack's records, checking each one's CRC. A damaged
// record followed by a whole one is skipped; the scan stops at the first
// record that is cut short or that no whole record follows, and reports
// the bytes it did not read.
func scanPack(path string) (recs []idxEntry, skipped int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	size := fi.Size()
	magic := make([]byte, len(packMagic))
	if _, err := f.ReadAt(magic, 0); err != nil || string(magic) != packMagic {
		// A pack whose creation was cut short holds nothing.
		return nil, size, nil
	}
	var buf []byte
	off := int64(len(packMagic))
	for off < size && off <= math.MaxUint32 {
		e, n, whole := readRecord(f, off, size, &buf)
		if n == 0 {
			break
		}
		if !whole {
			// Damaged in place: go on only if the next record is whole.
			if _, n2, whole2 := readRecord(f, off+n, size, &buf); n2 == 0 || !whole2 {
				break
			}
			skipped += n
			off += n
			continue
		}
		e.off = uint32(off)
		recs = append(recs, e)
		off += n
	}
	return recs, skipped + size - off, nil
}

// readRecord reads the record at off into *buf. n is its length, 0 if its
// header is not one or it is cut short; whole reports its CRC matches.
func readRecord(f io.ReaderAt, off, size int64, buf *[]byte) (e idxEntry, n int64, whole bool) {
	var h [recHeader]byte
	if off+recHeader > size {
		return e, 0, false
	}
	if _, err := f.ReadAt(h[:], off); err != nil {
		return e, 0, false
	}
	e.kind = h[4]
	copy(e.key[:], h[5:37])
	e.n = binary.LittleEndian.Uint32(h[37:41])
	if (e.kind != kindPut && e.kind != kindRemove) || (e.kind == kindRemove && e.n != 0) || off+recHeader+int64(e.n) > size {
		return e, 0, false
	}
	*buf = slices.Grow((*buf)[:0], int(e.n))[:e.n]
	if _, err := f.ReadAt(*buf, off+recHeader); err != nil {
		return e, 0, false
	}
	c := crc32.Update(crc32.Checksum(h[4:], castagnoli), castagnoli, *buf)
	return e, recHeader + int64(e.n), c == binary.LittleEndian.Uint32(h[:4])
}

// Index file: the magic, the count (4), the entries (kind, key, record
// offset, length), and a CRC-32C of all that.
func writeIndex(path string, recs []idxEntry) error {
	b := make([]byte, 0, len(idxMagic)+4+len(recs)*idxEntrySize+4)
	b = append(b, idxMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(recs)))
	for _, r := range recs {
		b = append(b, r.kind)
		b = append(b, r.key[:]...)
		b = binary.LittleEndian.AppendUint32(b, r.off)
		b = binary.LittleEndian.AppendUint32(b, r.n)
	}
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

var errBadIndex = errors.New("pack index damaged")

func readIndex(path string) ([]idxEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < len(idxMagic)+8 || string(b[:len(idxMagic)]) != idxMagic {
		return nil, errBadIndex
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, errBadIndex
	}
	count := binary.LittleEndian.Uint32(body[len(idxMagic):])
	body = body[len(idxMagic)+4:]
	if uint64(len(body)) != uint64(count)*idxEntrySize {
		return nil, errBadIndex
	}
	recs := make([]idxEntry, count)
	for i := range recs {
		e := body[i*idxEntrySize:]
		recs[i].kind = e[0]
		copy(recs[i].key[:], e[1:33])
		recs[i].off = binary.LittleEndian.Uint32(e[33:37])
		recs[i].n = binary.LittleEndian.Uint32(e[37:41])
		if recs[i].kind != kindPut && recs[i].kind != kindRemove {
			return nil, errBadIndex
		}
	}
	return recs, nil
}

// recordHeader returns the header of a record of data.
func recordHeader(kind byte, key [32]byte, data []byte) []byte {
	h := make([]byte, recHeader)
	h[4] = kind
	copy(h[5:37], key[:])
	binary.LittleEndian.PutUint32(h[37:41], uint32(len(data)))
	c := crc32.Update(crc32.Checksum(h[4:], castagnoli), castagnoli, data)
	binary.LittleEndian.PutUint32(h[:4], c)
	return h
}

// add appends a record and syncs it; it is visible when add returns.
func (p *packs) add(kind byte, key [32]byte, data []byte) error {
	flush, err := p.append(kind, key, data)
	if err != nil {
		return err
	}
	return flush()
}

// append writes a record without syncing it. It becomes durable and
// visible when the returned flush returns nil; one flush syncs every
// record appended before it, so a group of appends shares one sync.
func (p *packs) append(kind byte, key [32]byte, data []byte) (flush func() error, err error) {
	h := recordHeader(kind, key, data)
	n := int64(len(h) + len(data))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.active != nil && p.size+n > p.maxPack {
		if err := p.seal(); err != nil {
			return nil, err
		}
	}
	if p.active == nil {
		if err := p.start(); err != nil {
			return nil, err
		}
	}
	// At the tracked size, so that a failed write is overwritten by the
	// next, not left in the middle.
	_, err = p.active.WriteAt(h, p.size)
	if err == nil {
		_, err = p.active.WriteAt(data, p.size+recHeader)
	}
	if err != nil {
		return nil, fmt.Errorf("blob store: pack: %w", err)
	}
	e := idxEntry{kind: kind, key: key, off: uint32(p.size), n: uint32(len(data))}
	p.records = append(p.records, e)
	p.unsynced = append(p.unsynced, e)
	p.size += n
	num, end, failures := p.num, p.size, p.failures
	return func() error { return p.flush(num, end, failures) }, nil
}

// flush makes the records of pack num up to end durable and visible,
// unless a sync since (another's flush, or sealing) already has. Records
// appended after a failed sync may have been dropped with it: failures
// tells.
func (p *packs) flush(num uint32, end int64, failures uint64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case num == p.num && end <= p.durable:
		return nil
	case failures != p.failures:
		return errors.New("blob store: pack: a sync failed; the content was not stored")
	case num != p.num || p.active == nil:
		return nil // sealed since, which synced it
	}
	return p.sync()
}

// sync syncs the active pack and makes its unsynced records visible. If it
// fails they are dropped, and the next append overwrites them.
func (p *packs) sync() error {
	if len(p.unsynced) == 0 {
		return nil
	}
	if err := p.syncFile(p.active); err != nil {
		p.records = p.records[:len(p.records)-len(p.unsynced)]
		p.unsynced = p.unsynced[:0]
		p.size = p.durable
		p.failures++
		return fmt.Errorf("blob store: pack: %w", err)
	}
	p.durable = p.size
	p.imu.Lock()
	for _, e := range p.unsynced {
		p.apply(p.num, e)
	}
	p.imu.Unlock()
	p.unsynced = p.unsynced[:0]
	return nil
}

// start makes a new active pack.
func (p *packs) start() error {
	n := p.nextPack
	f, err := os.OpenFile(packName(p.dir, n), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("blob store: pack: %w", err)
	}
	_, err = f.Write([]byte(packMagic))
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(p.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("blob store: pack: %w", err)
	}
	p.active, p.num, p.size, p.durable, p.records, p.nextPack = f, n, int64(len(packMagic)), int64(len(packMagic)), nil, n+1
	return nil
}

// seal writes the active pack's index and closes it.
func (p *packs) seal() error {
	if err := p.sync(); err != nil {
		return err
	}
	if err := writeIndex(packName(p.dir, p.num)+".idx", p.records); err != nil {
		return fmt.Errorf("blob store: pack index: %w", err)
	}
	if err := syncDir(p.dir); err != nil {
		return err
	}
	err := p.active.Close()
	p.active, p.records = nil, nil
	return err
}

// close seals the active pack, so that the next start reads its index.
func (p *packs) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.active == nil {
		return nil
	}
	return p.seal()
}

func (p *packs) lookup(key [32]byte) (loc, bool) {
	p.imu.RLock()
	defer p.imu.RUnlock()
	l, ok := p.idx[key]
	return l, ok
}

type packReader struct {
	*io.SectionReader
	f *os.File
}

func (r packReader) Close() error { return r.f.Close() }

func (p *packs) open(l loc) (io.ReadCloser, error) {
	f, err := os.Open(packName(p.dir, l.pack))
	if err != nil {
		return nil, err
	}
	return packReader{io.NewSectionReader(f, int64(l.off), int64(l.n)), f}, nil
}

func (p *packs) keys() [][32]byte {
	p.imu.RLock()
	defer p.imu.RUnlock()
	ks := make([][32]byte, 0, len(p.idx))
	for k := range p.idx {
		ks = append(ks, k)
	}
	return ks
}

// packPending buffers a file in memory while it is small enough to pack;
// past that it goes on as a file of its own.
type packPending struct {
	l     *Local
	name  string
	key   [32]byte
	buf   *bytes.Buffer
	large PendingFile
	done  bool
}

func (l *Local) newPackPending(name string, key [32]byte) *packPending {
	buf, _ := l.packs.bufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	return &packPending{l: l, name: name, key: key, buf: buf}
}

// release gives the buffer back, once its content is written or dropped.
func (pp *packPending) release() {
	if pp.buf != nil {
		pp.l.packs.bufs.Put(pp.buf)
		pp.buf = nil
	}
}

func (pp *packPending) Write(b []byte) (int, error) {
	if pp.done {
		return 0, errors.New("blob store: file already committed or aborted")
	}
	if pp.large != nil {
		return pp.large.Write(b)
	}
	if pp.buf.Len()+len(b) <= pp.l.packs.maxFile {
		return pp.buf.Write(b)
	}
	large, err := pp.l.createFile(pp.name)
	if err != nil {
		return 0, err
	}
	pp.large = large
	if _, err := large.Write(pp.buf.Bytes()); err != nil {
		return 0, err
	}
	pp.release()
	return large.Write(b)
}

func (pp *packPending) Commit() error {
	flush, err := pp.CommitDeferred()
	if err != nil {
		return err
	}
	return flush()
}

// CommitDeferred appends the file to the active pack without syncing it
// (see packs.append); a file of its own is committed in full.
func (pp *packPending) CommitDeferred() (flush func() error, err error) {
	if pp.done {
		return nil, errors.New("blob store: file already committed or aborted")
	}
	pp.done = true
	if pp.large != nil {
		return func() error { return nil }, pp.large.Commit()
	}
	defer pp.release()
	return pp.l.packs.append(kindPut, pp.key, pp.buf.Bytes())
}

func (pp *packPending) Abort() error {
	pp.done = true
	if pp.large != nil {
		return pp.large.Abort()
	}
	pp.release()
	return nil
}

// compact copies the records in force of every sealed pack that holds
// others to the active pack, then removes it. A rotation of the master key
// leaves every packed blob's earlier version behind, its data key wrapped
// under the old key; so would removals. The copies are synced before a
// pack is removed, and a later pack's record of a key wins, so a crash in
// the middle loses nothing. A pack without its index is left alone.
func (p *packs) compact(ctx context.Context) (freed int64, err error) {
	p.mu.Lock()
	active := p.active != nil
	activeNum, next := p.num, p.nextPack
	p.mu.Unlock()
	for n := range next {
		if active && n == activeNum {
			continue
		}
		fi, err := os.Stat(packName(p.dir, n))
		if err != nil {
			continue // removed before
		}
		recs, err := readIndex(packName(p.dir, n) + ".idx")
		if err != nil {
			continue
		}
		var live int64
		for _, r := range recs {
			if p.current(n, r) {
				live += recHeader + int64(r.n)
			}
		}
		if live == fi.Size()-int64(len(packMagic)) {
			continue
		}
		if err := p.evacuate(ctx, n, recs); err != nil {
			return freed, err
		}
		freed += fi.Size() - live
	}
	return freed, nil
}

// current reports whether record r of pack n is still in force: the put
// the index points at, or the removal of a key still removed (an earlier
// pack may hold it).
func (p *packs) current(n uint32, r idxEntry) bool {
	at, ok := p.lookup(r.key)
	if r.kind == kindRemove {
		return !ok
	}
	return ok && at.pack == n && at.off == r.off+recHeader
}

// evacuate copies pack n's records in force to the active pack and removes
// it.
// A damaged record stops it: copying would give the damage a valid CRC.
func (p *packs) evacuate(ctx context.Context, n uint32, recs []idxEntry) error {
	f, err := os.Open(packName(p.dir, n))
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	var buf []byte
	for _, r := range recs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !p.current(n, r) {
			continue
		}
		if _, _, whole := readRecord(f, int64(r.off), fi.Size(), &buf); !whole {
			return fmt.Errorf("blob store: pack %d: record at %d damaged; not compacted", n, r.off)
		}
		if err := p.add(r.kind, r.key, buf); err != nil {
			return err
		}
	}
	f.Close()
	if err := os.Remove(packName(p.dir, n) + ".idx"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Remove(packName(p.dir, n)); err != nil {
		return err
	}
	return syncDir(p.dir)
}
