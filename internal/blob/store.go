package blob

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// Blob file layout (all sealing is XChaCha20-Poly1305):
//
//	magic "IVIDBLB1" | master key ID (8) | wrap nonce (24) | wrapped data key (48) | nonce prefix (16)
//	chunk 0 | chunk 1 | ... | final chunk
//
// Each chunk seals 64 KiB of plaintext under the data key with nonce =
// prefix || chunk index, and the blob's name, the index and a final flag as
// additional data, so that chunks cannot be reordered, swapped between
// blobs or cut off. The final chunk holds less than 64 KiB (possibly
// nothing). The wrapped data key is sealed under the master key with the
// magic and the name as additional data.
const (
	magic       = "IVIDBLB1"
	chunkSize   = 64 << 10
	headerSize  = 8 + 8 + 24 + 32 + 16 + 16
	keyringName = "keyring"
)

// Store is an encrypted, content-addressed blob store over a Backend. It is
// safe for concurrent use.
type Store struct {
	be     Backend
	keys   []Key // keys[0] seals new blobs
	secret []byte
	// sealBufs holds Put's chunk buffers for reuse (128 kB of memory
	// to map and zero a blob otherwise).
	sealBufs sync.Pool
}

type sealBufs struct{ in, out []byte }

// Open opens a store. The first key seals new blobs; further keys open
// blobs sealed before a rotation finished. A new store gets a random naming
// secret, sealed under the first key: file names are an HMAC of the
// content's SHA-256, so that the disk does not reveal which known files it
// holds.
func Open(ctx context.Context, be Backend, keys ...Key) (*Store, error) {
	if len(keys) == 0 {
		return nil, errors.New("blob store: no master key")
	}
	s := &Store{be: be, keys: keys}
	rc, err := be.Open(ctx, keyringName)
	switch {
	case errors.Is(err, ErrNotFound):
		s.secret = make([]byte, 32)
		rand.Read(s.secret)
		if err := s.writeKeyring(ctx); err != nil {
			return nil, err
		}
		return s, nil
	case err != nil:
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 1024))
	if err != nil {
		return nil, err
	}
	if len(b) != 8+8+24+32+16 || string(b[:8]) != "IVIDKEY1" {
		return nil, fmt.Errorf("blob store keyring: %w", ErrCorrupt)
	}
	k, err := s.key(b[8:16])
	if err != nil {
		return nil, err
	}
	aead, _ := chacha20poly1305.NewX(k.k[:])
	s.secret, err = aead.Open(nil, b[16:40], b[40:], []byte("IVIDKEY1"))
	if err != nil {
		return nil, fmt.Errorf("blob store keyring: %w", ErrCorrupt)
	}
	if !bytes.Equal(b[8:16], keys[0].id[:]) {
		// A rotation was interrupted: seal the keyring under the new key.
		if err := s.writeKeyring(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Store) writeKeyring(ctx context.Context) error {
	k := s.keys[0]
	aead, _ := chacha20poly1305.NewX(k.k[:])
	nonce := make([]byte, 24)
	rand.Read(nonce)
	b := append([]byte("IVIDKEY1"), k.id[:]...)
	b = append(b, nonce...)
	b = aead.Seal(b, nonce, s.secret, []byte("IVIDKEY1"))
	pf, err := s.be.Create(ctx, keyringName)
	if err != nil {
		return err
	}
	if _, err := pf.Write(b); err != nil {
		pf.Abort()
		return err
	}
	return pf.Commit()
}

func (s *Store) key(id []byte) (Key, error) {
	for _, k := range s.keys {
		if bytes.Equal(k.id[:], id) {
			return k, nil
		}
	}
	return Key{}, fmt.Errorf("%w (key %s)", ErrWrongKey, hex.EncodeToString(id))
}

// name is the file name of a blob: HMAC-SHA256(secret, id).
func (s *Store) name(id ID) (string, []byte) {
	m := hmac.New(sha256.New, s.secret)
	m.Write(id[:])
	raw := m.Sum(nil)
	return hex.EncodeToString(raw), raw
}

// DeriveKey returns a 32-byte key for another use of the store's owner
// (sealing second-factor secrets, say), derived from the store's secret:
// it survives master-key rotation, which re-seals that secret, and is lost
// with it. Different purposes give independent keys; the label cannot
// collide with a blob name's input (a 32-byte digest).
func (s *Store) DeriveKey(purpose string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("ivid derived key\x00" + purpose))
	return m.Sum(nil)
}

// Has reports whether the blob is stored.
func (s *Store) Has(ctx context.Context, id ID) (bool, error) {
	n, _ := s.name(id)
	return s.be.Exists(ctx, n)
}

// Put stores content read from r under id, which must be its SHA-256. It
// streams, so content of any size takes constant memory. Content already
// stored is not written again (and r is not read). Content that does not
// hash to id is discarded with ErrMismatch; nothing half-written is ever
// visible.
func (s *Store) Put(ctx context.Context, id ID, r io.Reader) (written bool, err error) {
	return s.put(ctx, id, r, nil)
}

// Batch puts blobs that are made durable together by Sync. On a backend
// that syncs each file on commit (Local's packs), the batch's files share
// one sync: a group of small photos costs one disk flush, not one each.
type Batch struct {
	s       *Store
	flushes []func() error
}

// Batch starts a batch of puts. It is for one goroutine.
func (s *Store) Batch() *Batch { return &Batch{s: s} }

// Put is Store.Put, except that the blob may be neither durable nor
// readable before Sync has returned without error.
func (b *Batch) Put(ctx context.Context, id ID, r io.Reader) (written bool, err error) {
	return b.s.put(ctx, id, r, b)
}

// Sync makes the blobs put so far durable and readable. If it fails, any
// of them may be lost: put them again.
func (b *Batch) Sync() error {
	var errs []error
	for _, flush := range b.flushes {
		if err := flush(); err != nil {
			errs = append(errs, err)
		}
	}
	b.flushes = b.flushes[:0]
	return errors.Join(errs...)
}

// deferredCommitter is a PendingFile that can be committed without
// waiting for the disk: it is durable and visible once flush returns nil,
// and a flush may serve many files.
type deferredCommitter interface {
	CommitDeferred() (flush func() error, err error)
}

// put is Put, in batch b if not nil.
func (s *Store) put(ctx context.Context, id ID, r io.Reader, b *Batch) (written bool, err error) {
	name, rawName := s.name(id)
	if ok, err := s.be.Exists(ctx, name); err != nil || ok {
		return false, err
	}
	pf, err := s.be.Create(ctx, name)
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil {
			pf.Abort()
		}
	}()
	k := s.keys[0]
	dek := make([]byte, 32)
	rand.Read(dek)
	hdr := make([]byte, 0, headerSize)
	hdr = append(hdr, magic...)
	hdr = append(hdr, k.id[:]...)
	wrapNonce := make([]byte, 24)
	rand.Read(wrapNonce)
	hdr = append(hdr, wrapNonce...)
	kek, _ := chacha20poly1305.NewX(k.k[:])
	hdr = kek.Seal(hdr, wrapNonce, dek, append([]byte(magic), rawName...))
	prefix := make([]byte, 16)
	rand.Read(prefix)
	hdr = append(hdr, prefix...)
	if _, err := pf.Write(hdr); err != nil {
		return false, err
	}
	aead, _ := chacha20poly1305.NewX(dek)
	h := sha256.New()
	bufs, _ := s.sealBufs.Get().(*sealBufs)
	if bufs == nil {
		bufs = &sealBufs{in: make([]byte, chunkSize), out: make([]byte, 0, chunkSize+aead.Overhead())}
	}
	defer s.sealBufs.Put(bufs)
	buf, out := bufs.in, bufs.out
	for idx := uint64(0); ; idx++ {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		n, rerr := io.ReadFull(r, buf)
		final := rerr == io.EOF || rerr == io.ErrUnexpectedEOF
		if rerr != nil && !final {
			return false, rerr
		}
		h.Write(buf[:n])
		out = aead.Seal(out[:0], chunkNonce(prefix, idx), buf[:n], chunkAD(rawName, idx, final))
		if _, err := pf.Write(out); err != nil {
			return false, err
		}
		if final {
			break
		}
	}
	if !bytes.Equal(h.Sum(nil), id[:]) {
		return false, ErrMismatch
	}
	if dc, ok := pf.(deferredCommitter); ok && b != nil {
		flush, err := dc.CommitDeferred()
		if err != nil {
			return false, err
		}
		b.flushes = append(b.flushes, flush)
		return true, nil
	}
	if err := pf.Commit(); err != nil {
		return false, err
	}
	return true, nil
}

func chunkNonce(prefix []byte, idx uint64) []byte {
	n := make([]byte, 24)
	copy(n, prefix)
	binary.BigEndian.PutUint64(n[16:], idx)
	return n
}

func chunkAD(name []byte, idx uint64, final bool) []byte {
	ad := make([]byte, 0, len(name)+9)
	ad = append(ad, name...)
	ad = binary.BigEndian.AppendUint64(ad, idx)
	if final {
		return append(ad, 1)
	}
	return append(ad, 0)
}

// Get returns the blob's content. Every chunk is authenticated before its
// bytes are returned, and the end of the stream checks the content's
// SHA-256 against id: a damaged or tampered blob gives ErrCorrupt.
func (s *Store) Get(ctx context.Context, id ID) (io.ReadCloser, error) {
	name, rawName := s.name(id)
	rc, err := s.be.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(rc, chunkSize+64)
	dek, prefix, _, err := s.readHeader(br, rawName)
	if err != nil {
		rc.Close()
		return nil, err
	}
	aead, _ := chacha20poly1305.NewX(dek)
	return &reader{rc: rc, br: br, aead: aead, prefix: prefix, name: rawName, id: id, h: sha256.New(),
		in: make([]byte, chunkSize+aead.Overhead())}, nil
}

func (s *Store) readHeader(br io.Reader, rawName []byte) (dek, prefix []byte, keyID []byte, err error) {
	hdr := make([]byte, headerSize)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, nil, nil, fmt.Errorf("%w: header cut short", ErrCorrupt)
	}
	if string(hdr[:8]) != magic {
		return nil, nil, nil, fmt.Errorf("%w: not a blob", ErrCorrupt)
	}
	k, err := s.key(hdr[8:16])
	if err != nil {
		return nil, nil, nil, err
	}
	kek, _ := chacha20poly1305.NewX(k.k[:])
	dek, err = kek.Open(nil, hdr[16:40], hdr[40:40+48], append([]byte(magic), rawName...))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: data key does not open", ErrCorrupt)
	}
	return dek, hdr[88:104], hdr[8:16], nil
}

type reader struct {
	rc   io.ReadCloser
	br   *bufio.Reader
	aead interface {
		Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
	}
	prefix []byte
	name   []byte
	id     ID
	h      hash.Hash
	idx    uint64
	in     []byte
	plain  []byte
	done   bool
	err    error
}

func (r *reader) Read(p []byte) (int, error) {
	for len(r.plain) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			r.err = io.EOF
			return 0, io.EOF
		}
		r.err = r.next()
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

func (r *reader) next() error {
	n, err := io.ReadFull(r.br, r.in)
	final := err == io.ErrUnexpectedEOF || err == io.EOF
	if err != nil && !final {
		return err
	}
	if final && n < 16 {
		return fmt.Errorf("%w: content cut short", ErrCorrupt)
	}
	if !final {
		// A full chunk is never the last one; the stream must go on.
		if _, err := r.br.Peek(1); err != nil {
			return fmt.Errorf("%w: content cut short", ErrCorrupt)
		}
	}
	plain, err := r.aead.Open(r.in[:0], chunkNonce(r.prefix, r.idx), r.in[:n], chunkAD(r.name, r.idx, final))
	if err != nil {
		return fmt.Errorf("%w: chunk %d fails authentication", ErrCorrupt, r.idx)
	}
	r.idx++
	r.h.Write(plain)
	if final {
		r.done = true
		if !bytes.Equal(r.h.Sum(nil), r.id[:]) {
			return fmt.Errorf("%w: content does not hash to its id", ErrCorrupt)
		}
	}
	r.plain = plain
	return nil
}

func (r *reader) Close() error { return r.rc.Close() }

// Verify reads a blob through and reports whether it is intact.
func (s *Store) Verify(ctx context.Context, id ID) error {
	rc, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}

// Rotate re-wraps every blob's data key, and the naming secret, under the
// store's first key; blobs already under it are left alone, so an
// interrupted rotation resumes. Content is not re-encrypted: only the
// wrapped keys change, but each blob file is rewritten atomically. It
// returns how many blobs were re-wrapped.
func (s *Store) Rotate(ctx context.Context) (int, error) {
	if err := s.writeKeyring(ctx); err != nil {
		return 0, err
	}
	n := 0
	var names []string
	if err := s.be.List(ctx, func(name string) error {
		if len(name) == 64 {
			names = append(names, name)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	for _, name := range names {
		done, err := s.rewrap(ctx, name)
		if err != nil {
			return n, fmt.Errorf("rotate %s: %w", name, err)
		}
		if done {
			n++
		}
	}
	return n, nil
}

func (s *Store) rewrap(ctx context.Context, name string) (bool, error) {
	rawName, err := hex.DecodeString(name)
	if err != nil {
		return false, err
	}
	rc, err := s.be.Open(ctx, name)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	br := bufio.NewReader(rc)
	dek, prefix, keyID, err := s.readHeader(br, rawName)
	if err != nil {
		return false, err
	}
	k := s.keys[0]
	if bytes.Equal(keyID, k.id[:]) {
		return false, nil
	}
	hdr := append([]byte(magic), k.id[:]...)
	wrapNonce := make([]byte, 24)
	rand.Read(wrapNonce)
	hdr = append(hdr, wrapNonce...)
	kek, _ := chacha20poly1305.NewX(k.k[:])
	hdr = kek.Seal(hdr, wrapNonce, dek, append([]byte(magic), rawName...))
	hdr = append(hdr, prefix...)
	pf, err := s.be.Create(ctx, name)
	if err != nil {
		return false, err
	}
	if _, err := pf.Write(hdr); err != nil {
		pf.Abort()
		return false, err
	}
	if _, err := io.Copy(pf, br); err != nil {
		pf.Abort()
		return false, err
	}
	return true, pf.Commit()
}
