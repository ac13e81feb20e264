package demo

import (
	"math"
	"testing"

	"github.com/ivid-project/ivid/internal/media"
)

func TestWithEXIF(t *testing.T) {
	b, _, err := Encode(Scene(1, 320, 240), Resized)
	if err != nil {
		t.Fatal(err)
	}
	c := Camera{Make: "Synthetic", Model: "Trainer 1", Serial: "TRN-0042", Lat: 48.3904, Lon: -4.4861}
	withExif, err := WithEXIF(b, c)
	if err != nil {
		t.Fatal(err)
	}
	md, err := media.ReadMetadata(withExif, "image/jpeg")
	if err != nil {
		t.Fatal(err)
	}
	if md.CameraMake != c.Make || md.CameraModel != c.Model || md.CameraSerial != c.Serial || md.GPS == nil ||
		math.Abs(md.GPS.Latitude-c.Lat) > 1e-4 || math.Abs(md.GPS.Longitude-c.Lon) > 1e-4 {
		t.Fatalf("metadata %+v %+v", md, md.GPS)
	}
	if _, err := media.Decode(withExif, "image/jpeg", 0); err != nil {
		t.Fatalf("JPEG with EXIF does not decode: %v", err)
	}
}
