// Package media recognises image and video files by their content and
// decodes images safely: dimensions are checked before any pixel is decoded.
package media

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"strings"
)

// SniffLen is how many leading bytes [Sniff] looks at.
const SniffLen = 512

// Sniff returns the MIME type of content from its first bytes, never from a
// file name. Unknown content is "application/octet-stream".
func Sniff(head []byte) string {
	if len(head) > SniffLen {
		head = head[:SniffLen]
	}
	switch {
	case len(head) == 0:
		return "application/x-empty"
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return "image/jpeg"
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return "image/gif"
	case len(head) >= 14 && bytes.HasPrefix(head, []byte("BM")) && binary.LittleEndian.Uint32(head[6:]) == 0:
		return "image/bmp"
	case bytes.HasPrefix(head, []byte("II*\x00")), bytes.HasPrefix(head, []byte("MM\x00*")):
		return "image/tiff"
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return "image/webp"
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "AVI ":
		return "video/x-msvideo"
	case bytes.HasPrefix(head, []byte{0x1A, 0x45, 0xDF, 0xA3}):
		if bytes.Contains(head, []byte("webm")) {
			return "video/webm"
		}
		return "video/x-matroska"
	case bytes.HasPrefix(head, []byte{0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11}):
		return "video/x-ms-asf"
	case bytes.HasPrefix(head, []byte("FLV\x01")):
		return "video/x-flv"
	case bytes.HasPrefix(head, []byte{0x00, 0x00, 0x01, 0xBA}):
		return "video/mpeg"
	case len(head) > 188 && head[0] == 0x47 && head[188] == 0x47:
		return "video/mp2t"
	}
	if t := sniffISOBMFF(head); t != "" {
		return t
	}
	t := http.DetectContentType(head)
	if i := strings.IndexByte(t, ';'); i >= 0 {
		t = t[:i]
	}
	return t
}

// sniffISOBMFF recognises the ftyp box of MP4, QuickTime, 3GP and HEIF files.
func sniffISOBMFF(head []byte) string {
	if len(head) < 12 || string(head[4:8]) != "ftyp" {
		return ""
	}
	size := int(binary.BigEndian.Uint32(head))
	if size < 12 || size > len(head) {
		size = min(len(head), 64)
	}
	brands := []string{string(head[8:12])}
	for i := 16; i+4 <= size; i += 4 {
		brands = append(brands, string(head[i:i+4]))
	}
	for _, b := range brands {
		switch b {
		case "heic", "heix", "heim", "heis", "hevc", "hevx":
			return "image/heic"
		case "avif", "avis":
			return "image/avif"
		}
	}
	for _, b := range brands {
		switch b {
		case "mif1", "msf1":
			return "image/heif"
		}
	}
	switch {
	case brands[0] == "qt  ":
		return "video/quicktime"
	case strings.HasPrefix(brands[0], "3gp"), strings.HasPrefix(brands[0], "3g2"):
		return "video/3gpp"
	case brands[0] == "M4A ", brands[0] == "M4B ":
		return "audio/mp4"
	}
	return "video/mp4"
}

// IsImage reports whether ivid decodes and PDQ-hashes this MIME type.
func IsImage(mime string) bool {
	switch mime {
	case "image/jpeg", "image/png", "image/gif", "image/bmp", "image/tiff", "image/webp",
		"image/heic", "image/heif":
		return true
	}
	return false
}

// IsVideo reports whether the MIME type is a video container.
func IsVideo(mime string) bool { return strings.HasPrefix(mime, "video/") }
