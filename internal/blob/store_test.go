package blob

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func content(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func openTest(t testing.TB, keys ...Key) (*Store, string) {
	t.Helper()
	return openWith(t, defaultPackFile, keys...)
}

// openFileTest is openTest with every blob a file of its own, for the
// tests that damage blob files.
func openFileTest(t testing.TB, keys ...Key) (*Store, string) {
	t.Helper()
	return openWith(t, 0, keys...)
}

func openWith(t testing.TB, packFile int, keys ...Key) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	be, err := openLocal(dir, packFile, defaultPackSize)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), be, keys...)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func readAll(t *testing.T, s *Store, id ID) ([]byte, error) {
	t.Helper()
	rc, err := s.Get(t.Context(), id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestRoundTrip(t *testing.T) {
	s, dir := openTest(t, GenerateKey())
	for _, n := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3*chunkSize + 5} {
		b := content(n, uint64(n))
		id := Sum(b)
		written, err := s.Put(t.Context(), id, bytes.NewReader(b))
		if err != nil || !written {
			t.Fatalf("%d bytes: written %v, %v", n, written, err)
		}
		got, err := readAll(t, s, id)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("%d bytes: read back %d bytes, %v", n, len(got), err)
		}
		// A second contribution of the same content is not stored twice.
		if written, err := s.Put(t.Context(), id, strings.NewReader("never read")); err != nil || written {
			t.Fatalf("%d bytes: second put wrote %v, %v", n, written, err)
		}
		if err := s.Verify(t.Context(), id); err != nil {
			t.Fatal(err)
		}
	}
	// No file is named after the content's SHA-256, and none holds plaintext.
	b := content(1000, 7)
	s.Put(t.Context(), Sum(b), bytes.NewReader(b))
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if strings.Contains(p, Sum(b).String()) {
			t.Errorf("file named by the plaintext hash: %s", p)
		}
		if !d.IsDir() {
			data, _ := os.ReadFile(p)
			if bytes.Contains(data, b[:64]) {
				t.Errorf("plaintext in %s", p)
			}
		}
		return nil
	})
}

func TestMismatchLeavesNothing(t *testing.T) {
	s, dir := openTest(t, GenerateKey())
	b := content(200000, 1)
	wrong := Sum([]byte("something else"))
	if _, err := s.Put(t.Context(), wrong, bytes.NewReader(b)); !errors.Is(err, ErrMismatch) {
		t.Fatalf("got %v, want ErrMismatch", err)
	}
	if ok, _ := s.Has(t.Context(), wrong); ok {
		t.Fatal("mismatched content is visible")
	}
	// A reader failing midway (a truncated upload) leaves nothing either.
	failing := io.MultiReader(bytes.NewReader(b[:100000]), errReader{})
	if _, err := s.Put(t.Context(), Sum(b), failing); err == nil {
		t.Fatal("a failing reader was stored")
	}
	if ok, _ := s.Has(t.Context(), Sum(b)); ok {
		t.Fatal("half-written blob is visible")
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if strings.HasPrefix(d.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// blobPath finds the one blob file (not the keyring) in dir.
func blobPath(t *testing.T, dir string) string {
	var found string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if !d.IsDir() && len(d.Name()) == 64 {
			found = p
		}
		return nil
	})
	if found == "" {
		t.Fatal("no blob file")
	}
	return found
}

func TestTamperingDetected(t *testing.T) {
	b := content(3*chunkSize+100, 3)
	id := Sum(b)
	for _, c := range []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"flip a body byte", func(f []byte) []byte { f[headerSize+chunkSize+77] ^= 1; return f }},
		{"flip a header byte", func(f []byte) []byte { f[50] ^= 1; return f }},
		{"cut at a chunk boundary", func(f []byte) []byte { return f[:headerSize+2*(chunkSize+16)] }},
		{"cut mid-chunk", func(f []byte) []byte { return f[:len(f)-40] }},
		{"swap two chunks", func(f []byte) []byte {
			c := chunkSize + 16
			a := append([]byte(nil), f[headerSize:headerSize+c]...)
			copy(f[headerSize:], f[headerSize+c:headerSize+2*c])
			copy(f[headerSize+c:], a)
			return f
		}},
		{"trailing bytes", func(f []byte) []byte { return append(f, 0) }},
		{"empty file", func([]byte) []byte { return nil }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, dir := openFileTest(t, GenerateKey())
			if _, err := s.Put(t.Context(), id, bytes.NewReader(b)); err != nil {
				t.Fatal(err)
			}
			p := blobPath(t, dir)
			f, _ := os.ReadFile(p)
			os.Chmod(p, 0o600)
			os.WriteFile(p, c.damage(f), 0o600)
			if _, err := readAll(t, s, id); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestWrongKeyAndRotation(t *testing.T) {
	old, next := GenerateKey(), GenerateKey()
	s, dir := openTest(t, old)
	var ids []ID
	for i := range 5 {
		b := content(1000*i+10, uint64(i))
		ids = append(ids, Sum(b))
		s.Put(t.Context(), Sum(b), bytes.NewReader(b))
	}
	be, _ := OpenLocal(dir)
	if _, err := Open(t.Context(), be, next); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("opening with another key: %v, want ErrWrongKey", err)
	}
	// Rotation: the new key first, the old one to open what it sealed.
	s2, err := Open(t.Context(), be, next, old)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s2.Rotate(t.Context())
	if err != nil || n != 5 {
		t.Fatalf("rotated %d, %v", n, err)
	}
	if n, _ := s2.Rotate(t.Context()); n != 0 {
		t.Fatalf("second rotation re-wrapped %d blobs", n)
	}
	s3, err := Open(t.Context(), be, next)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := s3.Verify(t.Context(), id); err != nil {
			t.Fatalf("after rotation: %v", err)
		}
	}
	if _, err := Open(t.Context(), be, old); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("the old key still opens the store: %v", err)
	}
}

func TestKeyParsing(t *testing.T) {
	k := GenerateKey()
	back, err := ParseKey(k.Encode())
	if err != nil || back != k {
		t.Fatalf("base64 round trip: %v", err)
	}
	for _, bad := range []string{"", "short", strings.Repeat("a", 63), strings.Repeat("zz", 32)} {
		if _, err := ParseKey(bad); !errors.Is(err, ErrBadKey) {
			t.Errorf("ParseKey(%q) = %v", bad, err)
		}
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "master.key")
	if err := WriteKeyFile(p, k); err != nil {
		t.Fatal(err)
	}
	if err := WriteKeyFile(p, GenerateKey()); err == nil {
		t.Fatal("an existing key file was overwritten")
	}
	if got, err := ReadKeyFile(p); err != nil || got != k {
		t.Fatalf("ReadKeyFile: %v", err)
	}
	os.Chmod(p, 0o644)
	if _, err := ReadKeyFile(p); err == nil {
		t.Fatal("a world-readable key file was accepted")
	}
}

// FuzzOpenBlob: any damage to a blob file gives an error, never a panic
// and never content that differs from the original.
func FuzzOpenBlob(f *testing.F) {
	f.Add(uint32(0), byte(1), uint32(0))
	f.Add(uint32(headerSize+5), byte(0x80), uint32(10))
	b := content(2*chunkSize+3, 9)
	id := Sum(b)
	f.Fuzz(func(t *testing.T, pos uint32, mask byte, cut uint32) {
		s, dir := openFileTest(t, GenerateKey())
		s.Put(context.Background(), id, bytes.NewReader(b))
		p := blobPath(t, dir)
		file, _ := os.ReadFile(p)
		if mask != 0 {
			file[int(pos)%len(file)] ^= mask
		}
		cutN := int(cut) % len(file)
		file = file[:len(file)-cutN]
		os.Chmod(p, 0o600)
		os.WriteFile(p, file, 0o600)
		got, err := readAll(t, s, id)
		if err == nil && !bytes.Equal(got, b) {
			t.Fatal("damaged blob read back as other content")
		}
		if err == nil && (mask != 0 || cutN != 0) {
			t.Fatal("damage went unnoticed")
		}
	})
}

// TestDeriveKey: derived keys differ by purpose and from store to store,
// and a store reopened under a new master key (after rotation) derives the
// same ones.
func TestDeriveKey(t *testing.T) {
	old := GenerateKey()
	s, dir := openTest(t, old)
	a, b := s.DeriveKey("second-factor secrets"), s.DeriveKey("another use")
	if len(a) != 32 || bytes.Equal(a, b) {
		t.Fatalf("derived keys %x and %x", a, b)
	}
	other, _ := openTest(t, old)
	if bytes.Equal(other.DeriveKey("second-factor secrets"), a) {
		t.Error("two stores derive the same key")
	}
	next := GenerateKey()
	be, err := OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := Open(t.Context(), be, next, old) // reseals the keyring under next
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rotated.DeriveKey("second-factor secrets"), a) {
		t.Error("the derived key changed with the master key")
	}
}
