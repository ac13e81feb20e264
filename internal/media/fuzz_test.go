package media

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the sniffer, the decoders and the EXIF
// reader: none may panic, and the pixel limit must hold.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		mime := Sniff(data)
		_, _ = ReadMetadata(data, mime)
		if !IsImage(mime) || mime == "image/heic" || mime == "image/heif" {
			return
		}
		img, err := Decode(data, mime, 1<<20)
		if err == nil {
			if b := img.Bounds(); int64(b.Dx())*int64(b.Dy()) > 1<<20 {
				t.Fatalf("decoded %v above the limit", b)
			}
		}
	})
}

// FuzzDecodeHEIC is FuzzDecode for HEIC, kept apart as its decoder (libheif
// run as WebAssembly) takes about a hundred times as long a file: every
// input is given to it as HEIC, whatever it sniffs as.
func FuzzDecodeHEIC(f *testing.F) {
	f.Add(read(f, "sample.heic"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ReadMetadata(data, "image/heic")
		img, err := Decode(data, "image/heic", 1<<20)
		if err == nil {
			if b := img.Bounds(); int64(b.Dx())*int64(b.Dy()) > 1<<20 {
				t.Fatalf("decoded %v above the limit", b)
			}
		}
	})
}
