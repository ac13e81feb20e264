package media

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"github.com/gen2brain/heic"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// DefaultMaxPixels is the default decompression-bomb limit: 100 megapixels.
const DefaultMaxPixels = 100_000_000

var (
	// ErrUnsupported is returned for content ivid cannot decode as an image.
	ErrUnsupported = errors.New("unsupported image format")
	// ErrCorrupt is returned when the decoder rejects the content.
	ErrCorrupt = errors.New("corrupt image")
	// ErrTooLarge is returned for images above the pixel limit; they are
	// refused before any pixel is decoded.
	ErrTooLarge = errors.New("image exceeds the pixel limit")
)

type codec struct {
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

var codecs = map[string]codec{
	"image/jpeg": {jpeg.DecodeConfig, jpeg.Decode},
	"image/png":  {png.DecodeConfig, png.Decode},
	"image/gif":  {gif.DecodeConfig, gif.Decode}, // first frame only
	"image/bmp":  {bmp.DecodeConfig, bmp.Decode},
	"image/tiff": {tiff.DecodeConfig, tiff.Decode},
	"image/webp": {webp.DecodeConfig, webp.Decode},
	"image/heic": {heic.DecodeConfig, heic.Decode},
	"image/heif": {heic.DecodeConfig, heic.Decode},
}

// Config returns the dimensions declared by an image without decoding it.
func Config(data []byte, mime string) (cfg image.Config, err error) {
	c, ok := codecs[mime]
	if !ok {
		return cfg, fmt.Errorf("%w: %s", ErrUnsupported, mime)
	}
	defer recoverAs(&err)
	cfg, err = c.config(bytes.NewReader(data))
	if err != nil {
		return cfg, fmt.Errorf("%w: %s header: %v", ErrCorrupt, short(mime), err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return cfg, fmt.Errorf("%w: %s declares %dx%d pixels", ErrCorrupt, short(mime), cfg.Width, cfg.Height)
	}
	return cfg, nil
}

// Decode decodes an image of the given MIME type after checking that its
// declared size is within maxPixels (0 means [DefaultMaxPixels]). A decoder
// panic on hostile input is returned as [ErrCorrupt].
func Decode(data []byte, mime string, maxPixels int64) (img image.Image, err error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	cfg, err := Config(data, mime)
	if err != nil {
		return nil, err
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > maxPixels {
		return nil, fmt.Errorf("%w: %dx%d is %.1f MP, limit %.1f MP", ErrTooLarge,
			cfg.Width, cfg.Height, float64(px)/1e6, float64(maxPixels)/1e6)
	}
	defer recoverAs(&err)
	img, err = codecs[mime].decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, short(mime), err)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		// A decoder that disagrees with its own header is not to be trusted.
		if int64(b.Dx())*int64(b.Dy()) > maxPixels {
			return nil, fmt.Errorf("%w: decoded %dx%d", ErrTooLarge, b.Dx(), b.Dy())
		}
	}
	return img, nil
}

func recoverAs(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: decoder failed: %v", ErrCorrupt, r)
	}
}

func short(mime string) string {
	if i := bytes.IndexByte([]byte(mime), '/'); i >= 0 {
		return mime[i+1:]
	}
	return mime
}
