package media

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/evanoberholster/imagemeta"
	"github.com/evanoberholster/imagemeta/exif2"
	"github.com/rs/zerolog"

	"github.com/ivid-project/ivid/internal/jpegluma"
)

// Metadata is what EXIF says about how and where a picture was taken: the
// camera fields link items made with the same device, GPS the same place.
type Metadata struct {
	CameraMake   string     `json:"camera_make,omitempty"`
	CameraModel  string     `json:"camera_model,omitempty"`
	CameraSerial string     `json:"camera_serial,omitempty"`
	LensMake     string     `json:"lens_make,omitempty"`
	LensModel    string     `json:"lens_model,omitempty"`
	LensSerial   string     `json:"lens_serial,omitempty"`
	Software     string     `json:"software,omitempty"`
	CaptureTime  *time.Time `json:"capture_time,omitempty"`
	Orientation  int        `json:"orientation,omitempty"`
	GPS          *GPS       `json:"gps,omitempty"`
}

// GPS is a position in decimal degrees (WGS 84) and metres.
type GPS struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Altitude  float64 `json:"altitude"`
}

// IsZero reports whether no field was found.
func (m Metadata) IsZero() bool { return m == Metadata{} }

func init() {
	// imagemeta logs through a package-level zerolog logger; keep it quiet.
	imagemeta.SetLogger(io.Discard, zerolog.Disabled)
}

// ReadMetadata extracts EXIF metadata from JPEG, TIFF, PNG and HEIF content.
// Content without EXIF gives a zero Metadata and no error.
func ReadMetadata(data []byte, mime string) (md Metadata, err error) {
	var decode func(io.ReadSeeker) (exif2.Exif, error)
	switch mime {
	case "image/jpeg":
		// imagemeta's own JPEG scanner loops forever on some crafted files
		// (an end of image right after the start, then a marker): the
		// segments are walked here, and only the EXIF block, a TIFF
		// structure, is given to it.
		tiff, ok := jpegExif(data)
		if !ok {
			return md, nil
		}
		data, decode = tiff, imagemeta.DecodeTiff
	case "image/tiff":
		decode = imagemeta.DecodeTiff
	case "image/png":
		decode = imagemeta.DecodePng
	case "image/heic", "image/heif":
		decode = imagemeta.DecodeHeif
	default:
		return md, nil
	}
	defer func() {
		if r := recover(); r != nil {
			md, err = Metadata{}, fmt.Errorf("exif: parser failed: %v", r)
		}
	}()
	e, err := decode(bytes.NewReader(data))
	if err != nil {
		if errors.Is(err, imagemeta.ErrNoExif) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Metadata{}, nil
		}
		return Metadata{}, fmt.Errorf("exif: %w", err)
	}
	md = Metadata{
		CameraMake:   clean(e.Make),
		CameraModel:  clean(e.Model),
		CameraSerial: clean(e.CameraSerial),
		LensMake:     clean(e.LensMake),
		LensModel:    clean(e.LensModel),
		LensSerial:   clean(e.LensSerial),
		Software:     clean(e.Software),
		Orientation:  int(e.Orientation),
	}
	if t := e.DateTimeOriginal(); !t.IsZero() {
		md.CaptureTime = &t
	} else if t := e.CreateDate(); !t.IsZero() {
		md.CaptureTime = &t
	}
	if lat, lon := e.GPS.Latitude(), e.GPS.Longitude(); lat != 0 || lon != 0 {
		md.GPS = &GPS{Latitude: lat, Longitude: lon, Altitude: float64(e.GPS.Altitude())}
	}
	return md, nil
}

// clean trims the NULs and spaces that cameras pad EXIF strings with.
func clean(s string) string {
	return string(bytes.Trim([]byte(s), " \x00"))
}

// jpegExif returns the TIFF structure of a JPEG's EXIF segment (APP1,
// "Exif\0\0"), looking at the segments before the image data only, as
// EXIF requires.
func jpegExif(data []byte) (tiff []byte, ok bool) {
	// A header damaged before its EXIF block has none to give: the error
	// adds nothing.
	_ = jpegluma.Segments(data, func(marker byte, seg []byte) bool {
		if marker == 0xe1 && len(seg) > 6 && string(seg[:5]) == "Exif\x00" {
			tiff, ok = seg[6:], true
		}
		return !ok
	})
	return tiff, ok
}
