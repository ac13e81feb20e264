package media

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/ivid-project/ivid/internal/pdq"
)

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFormats decodes the same synthetic picture saved in every supported
// format and checks that each yields the PNG's PDQ hash: exactly for
// lossless formats, within a few bits for lossy ones.
func TestFormats(t *testing.T) {
	ref, err := Decode(read(t, "sample.png"), "image/png", 0)
	if err != nil {
		t.Fatal(err)
	}
	var h pdq.Hasher
	want, _ := h.HashImage(ref, pdq.Full, false)
	tests := []struct {
		file    string
		mime    string
		maxDist int
	}{
		{"sample.png", "image/png", 0},
		{"sample.bmp", "image/bmp", 0},
		{"sample.tiff", "image/tiff", 0},
		{"sample-lossless.webp", "image/webp", 0},
		{"sample-lossy.webp", "image/webp", 16},
		{"sample-progressive.jpg", "image/jpeg", 16},
		{"sample-cmyk.jpg", "image/jpeg", 16},
		{"sample-grey.jpg", "image/jpeg", 24},
		{"sample.gif", "image/gif", 24}, // 256-colour palette
		{"sample.heic", "image/heic", 16},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data := read(t, tc.file)
			if got := Sniff(data); got != tc.mime {
				t.Fatalf("Sniff = %q, want %q", got, tc.mime)
			}
			img, err := Decode(data, tc.mime, 0)
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != 400 || b.Dy() != 300 {
				t.Fatalf("got %dx%d, want 400x300", b.Dx(), b.Dy())
			}
			got, _ := h.HashImage(img, pdq.Full, false)
			if d := pdq.Distance(got.Hash, want.Hash); d > tc.maxDist {
				t.Errorf("distance to the PNG's hash %d, want <= %d", d, tc.maxDist)
			}
		})
	}
}

// TestBadInput: corrupt, truncated, empty and bomb files each give the right
// error, quickly and without a panic.
func TestBadInput(t *testing.T) {
	tests := []struct {
		file string
		mime string
		want error
	}{
		{"bomb-60000x60000.png", "image/png", ErrTooLarge},
		{"bomb-50000x50000.jpg", "image/jpeg", ErrTooLarge},
		{"truncated.jpg", "image/jpeg", ErrCorrupt},
		{"garbage.png", "image/png", ErrCorrupt},
		{"empty.jpg", "image/jpeg", ErrCorrupt},
		{"sample.png", "application/pdf", ErrUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := Decode(read(t, tc.file), tc.mime, 0)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
				t.Errorf("allocated %d MB refusing the file", grew>>20)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("took %v", el)
			}
			t.Log(err)
		})
	}
}

func TestPixelLimit(t *testing.T) {
	data := read(t, "sample.png") // 400x300 = 120,000 px
	if _, err := Decode(data, "image/png", 119_999); !errors.Is(err, ErrTooLarge) {
		t.Errorf("limit 119999: got %v, want ErrTooLarge", err)
	}
	if _, err := Decode(data, "image/png", 120_000); err != nil {
		t.Errorf("limit 120000: %v", err)
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		head string
		want string
	}{
		{"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "video/mp4"},
		{"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "video/quicktime"},
		{"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"},
		{"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1miaf", "image/heif"},
		{"RIFF\x00\x00\x00\x00AVI LIST", "video/x-msvideo"},
		{"\x1a\x45\xdf\xa3\x01\x00\x00\x00webm", "video/webm"},
		{"GIF89a", "image/gif"},
		{"hello, world", "text/plain"},
		{"", "application/x-empty"},
	}
	for _, tc := range tests {
		if got := Sniff([]byte(tc.head)); got != tc.want {
			t.Errorf("Sniff(%q) = %q, want %q", tc.head, got, tc.want)
		}
	}
}

func TestMetadata(t *testing.T) {
	md, err := ReadMetadata(read(t, "exif-full.jpg"), "image/jpeg")
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2024, 5, 17, 14, 3, 21, 0, time.FixedZone("", 2*3600))
	if md.CaptureTime == nil || !md.CaptureTime.Equal(want) {
		t.Errorf("capture time %v, want %v", md.CaptureTime, want)
	} else if _, off := md.CaptureTime.Zone(); off != 7200 {
		t.Errorf("offset %d s, want 7200", off)
	}
	md.CaptureTime = nil
	wantMD := Metadata{
		CameraMake: "ivid-test", CameraModel: "Synthetic Camera 1", CameraSerial: "SN-0042",
		LensMake: "ivid lens", LensModel: "Test 35mm", Software: "ivid fixture", Orientation: 6,
		GPS: &GPS{Latitude: 49.6116, Longitude: 6.1319, Altitude: 300},
	}
	if md.GPS == nil || *md.GPS != *wantMD.GPS {
		t.Errorf("GPS %+v, want %+v", md.GPS, wantMD.GPS)
	}
	md.GPS, wantMD.GPS = nil, nil
	if md != wantMD {
		t.Errorf("got %+v, want %+v", md, wantMD)
	}
}

// TestMetadataPhone reads a real phone photo (Samsung, EXIF orientation 6).
func TestMetadataPhone(t *testing.T) {
	data, err := os.ReadFile("../../testdata/pdq/images/reg-test-input/exif-rotn/exif-rotn-6.jpg")
	if err != nil {
		t.Fatal(err)
	}
	md, err := ReadMetadata(data, "image/jpeg")
	if err != nil {
		t.Fatal(err)
	}
	if md.CameraMake != "samsung" || md.CameraModel != "SM-G930V" || md.Orientation != 6 || md.GPS == nil {
		t.Fatalf("got %+v", md)
	}
	if d := md.GPS.Latitude - 38.977936; d > 1e-5 || d < -1e-5 {
		t.Errorf("latitude %v", md.GPS.Latitude)
	}
}

func TestMetadataAbsentOrBroken(t *testing.T) {
	for _, f := range []string{"sample.png", "truncated.jpg", "garbage.png", "sample-grey.jpg"} {
		if _, err := ReadMetadata(read(t, f), Sniff(read(t, f))); err != nil {
			t.Logf("%s: %v", f, err) // an error is fine; a panic is not
		}
	}
}

// TestMetadataCraftedJPEG feeds JPEGs whose segments are wrong in ways that
// have made EXIF scanners loop forever or read past the end: each must
// give an answer at once, with no metadata.
func TestMetadataCraftedJPEG(t *testing.T) {
	tail := bytes.Repeat([]byte{0xff, 0xe1, 0x00, 0x10}, 32)
	exif := read(t, "exif-full.jpg")
	cases := []struct {
		name string
		data []byte
	}{
		// Found by FuzzDecode: imagemeta's scanner looped on it.
		{"end of image then markers", append([]byte{0xff, 0xd8, 0xff, 0xd9}, tail...)},
		{"only the start", []byte{0xff, 0xd8}},
		{"fill bytes to the end", append([]byte{0xff, 0xd8}, bytes.Repeat([]byte{0xff}, 100)...)},
		{"segment longer than the file", []byte{0xff, 0xd8, 0xff, 0xe1, 0xff, 0xff, 'E', 'x', 'i', 'f', 0, 0}},
		{"segment length below 2", append([]byte{0xff, 0xd8, 0xff, 0xe1, 0x00, 0x01}, tail...)},
		{"no marker after the start", append([]byte{0xff, 0xd8, 0x00}, tail...)},
		{"EXIF block cut short", exif[:300]}, // its APP1 runs from byte 20 to 540
		{"empty EXIF block", []byte{0xff, 0xd8, 0xff, 0xe1, 0x00, 0x08, 'E', 'x', 'i', 'f', 0, 0, 0xff, 0xd9}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			done := make(chan Metadata, 1)
			go func() {
				md, _ := ReadMetadata(c.data, "image/jpeg")
				done <- md
			}()
			select {
			case md := <-done:
				if !md.IsZero() {
					t.Errorf("metadata %+v from a file without an EXIF block", md)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("ReadMetadata did not return within 10 s")
			}
		})
	}
}
