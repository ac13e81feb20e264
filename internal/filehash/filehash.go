// Package filehash turns a file into a Record: size, content type, MD5, SHA-1
// and SHA-256 in one pass over the bytes, for images PDQ and EXIF, and for
// videos vPDQ and the stream's description.
package filehash

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/ivid-project/ivid/internal/jpegluma"
	"github.com/ivid-project/ivid/internal/media"
	"github.com/ivid-project/ivid/internal/pdq"
	"github.com/ivid-project/ivid/internal/vpdq"
)

// Kind is the broad class of a file.
type Kind string

const (
	Image Kind = "image"
	Video Kind = "video"
	Other Kind = "other"
)

// Record is everything ivid learns about one file's content.
type Record struct {
	Path     string    `json:"path"`
	Size     int64     `json:"size"`
	MIME     string    `json:"mime"`
	Kind     Kind      `json:"kind"`
	MD5      string    `json:"md5"`
	SHA1     string    `json:"sha1"`
	SHA256   string    `json:"sha256"`
	Width    int       `json:"width,omitempty"`
	Height   int       `json:"height,omitempty"`
	PDQ      *pdq.Hash `json:"pdq,omitempty"`
	Quality  *int      `json:"pdq_quality,omitempty"`
	Dihedral *Dihedral `json:"pdq_dihedral,omitempty"`
	// FastScale is set when the PDQ hash was computed from the JPEG's luma
	// decoded at 1/FastScale (Options.Fast): a few bits from full mode.
	FastScale int             `json:"pdq_fast_scale,omitempty"`
	Metadata  *media.Metadata `json:"metadata,omitempty"`
	Video     *vpdq.Info      `json:"video,omitempty"`
	// VPDQ is the video's frame hashes, each written as the reference
	// CLI's line "frame,quality,hash,timestamp".
	VPDQ []vpdq.Frame `json:"vpdq,omitempty"`
	// VPDQCropped is the frame hashes of the picture inside the video's
	// black bars (Video.Crop), with Options.VideoCropped; not the
	// reference's.
	VPDQCropped []vpdq.Frame `json:"vpdq_cropped,omitempty"`
	// Error says why the content could not be fully hashed; digests are
	// still filled whenever the bytes could be read.
	Error string `json:"error,omitempty"`
}

// Dihedral names the eight rotation and flip hashes as the reference does.
type Dihedral struct {
	Orig   pdq.Hash `json:"orig"`
	Rot90  pdq.Hash `json:"rot90"`
	Rot180 pdq.Hash `json:"rot180"`
	Rot270 pdq.Hash `json:"rot270"`
	FlipX  pdq.Hash `json:"flipx"`
	FlipY  pdq.Hash `json:"flipy"`
	FlipP  pdq.Hash `json:"flipp"`
	FlipM  pdq.Hash `json:"flipm"`
}

// All returns the hashes in the reference's order.
func (d *Dihedral) All() [8]pdq.Hash {
	return [8]pdq.Hash{d.Orig, d.Rot90, d.Rot180, d.Rot270, d.FlipX, d.FlipY, d.FlipP, d.FlipM}
}

// Options configure a Hasher.
type Options struct {
	Mode      pdq.Mode
	Dihedral  bool
	MaxPixels int64 // decompression-bomb limit; 0 means media.DefaultMaxPixels
	// MaxImageBytes is the largest image file read into memory for
	// decoding; larger ones get digests only. 0 means 512 MiB.
	MaxImageBytes int64
	// Fast hashes baseline JPEGs of at least 257 pixels a side from their
	// luma decoded at reduced scale in the DCT domain (FastScale); other
	// images are decoded in full. Full mode only.
	Fast bool
	// Video, when set, hashes videos with vPDQ (through ffmpeg) as well;
	// otherwise they get digests only. Only files named by a path are
	// hashed this way, not standard input.
	Video *vpdq.Options
	// DecodeLimit bounds the time one image's metadata reading, decoding
	// and hashing may take: 0 means DefaultDecodeLimit, a negative value
	// none. See ErrDecodeLimit.
	DecodeLimit time.Duration
	// Stuck, if set, counts the decodings abandoned at DecodeLimit that
	// are still running: each is counted until it ends, if it ever does.
	Stuck *atomic.Int64
	// Decoders, if set, decodes images in worker processes, which are
	// stopped at DecodeLimit rather than abandoned.
	Decoders *Decoders
	// VideoCropped also hashes, for a video with black bars, the picture
	// inside them into Record.VPDQCropped, so that copies with bars added
	// or removed can be matched; VPDQ keeps the reference's hashes.
	VideoCropped bool
}

// Timing is the time spent in each stage for one file.
type Timing struct {
	Read   time.Duration // reading and digests
	Decode time.Duration
	PDQ    time.Duration // luma, filter, DCT
}

// Add accumulates another file's timing.
func (t *Timing) Add(o Timing) { t.Read += o.Read; t.Decode += o.Decode; t.PDQ += o.PDQ }

// Hasher hashes files one at a time; it keeps scratch buffers, so use one
// per goroutine.
type Hasher struct {
	opts              Options
	buf               *bytes.Buffer
	md5, sha1, sha256 hash.Hash
	scratch           *scratch
}

// scratch is what an image's decoding and hashing reuse from one file to
// the next; a decoding abandoned at the time limit keeps its own.
type scratch struct {
	pdq  pdq.Hasher
	luma []float32 // JPEG luma
}

// DefaultDecodeLimit is Options.DecodeLimit's default: a 100-megapixel
// image decodes and hashes in a few seconds.
const DefaultDecodeLimit = time.Minute

// ErrDecodeLimit is returned for an image whose decoding did not end within
// Options.DecodeLimit. It is abandoned, not stopped (Go cannot stop it): a
// decoder stuck on a crafted file goes on using a processor until the
// program ends, but the file is reported and the others are hashed.
var ErrDecodeLimit = errors.New("image not decoded within the time limit")

// New returns a Hasher with the given options.
func New(opts Options) *Hasher {
	if opts.MaxImageBytes <= 0 {
		opts.MaxImageBytes = 512 << 20
	}
	if opts.DecodeLimit == 0 {
		opts.DecodeLimit = DefaultDecodeLimit
	}
	return &Hasher{opts: opts, buf: new(bytes.Buffer), md5: md5.New(), sha1: sha1.New(), sha256: sha256.New(), scratch: new(scratch)}
}

// ErrNotRegular is returned for directories, devices, FIFOs and sockets.
var ErrNotRegular = errors.New("not a regular file")

// File hashes the file at path, opened read-only and without updating its
// access time where the system allows. The error is non-nil when the file
// could not be read or its content could not be fully hashed; in the latter
// case the Record still holds its digests and says why in Error.
func (h *Hasher) File(path string) (Record, Timing, error) {
	return h.FileContext(context.Background(), path)
}

// FileContext is File with a context, which stops a video's decoding.
func (h *Hasher) FileContext(ctx context.Context, path string) (Record, Timing, error) {
	// Stat before opening: opening a FIFO would block.
	if fi, err := os.Stat(path); err != nil {
		return Record{Path: path}, Timing{}, err
	} else if !fi.Mode().IsRegular() {
		return Record{Path: path}, Timing{}, fmt.Errorf("%w (%s)", ErrNotRegular, fileType(fi.Mode()))
	}
	f, err := openEvidence(path)
	if err != nil {
		return Record{Path: path}, Timing{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Record{Path: path}, Timing{}, err
	}
	if !fi.Mode().IsRegular() {
		return Record{Path: path}, Timing{}, fmt.Errorf("%w (%s)", ErrNotRegular, fileType(fi.Mode()))
	}
	rec, tm, err := h.Reader(path, f, fi.Size())
	if err != nil || rec.Kind != Video || h.opts.Video == nil {
		return rec, tm, err
	}
	start := time.Now()
	err = h.video(ctx, &rec)
	tm.Decode = time.Since(start)
	return rec, tm, err
}

// video adds vPDQ and the stream's description. Frames decoded before an
// error are kept.
func (h *Hasher) video(ctx context.Context, rec *Record) error {
	o := *h.opts.Video
	o.Dihedral = o.Dihedral || h.opts.Dihedral
	info, err := vpdq.Hash(ctx, rec.Path, o, func(f vpdq.Frame) error {
		rec.VPDQ = append(rec.VPDQ, f)
		return nil
	})
	if info.Codec != "" {
		rec.Video = &info
		rec.Width, rec.Height = info.Width, info.Height
	}
	if err != nil {
		rec.Error = err.Error()
		return err
	}
	if h.opts.VideoCropped {
		return h.videoCropped(ctx, rec, o, info)
	}
	return nil
}

// videoCropped adds the hashes of the picture inside the video's black
// bars, if it has any. A failure there leaves the reference's hashes alone.
func (h *Hasher) videoCropped(ctx context.Context, rec *Record, o vpdq.Options, info vpdq.Info) error {
	rect, err := vpdq.DetectCrop(ctx, rec.Path, o, info)
	if err != nil || rect == "" {
		return ctx.Err()
	}
	o.CropRect = rect
	var frames []vpdq.Frame
	if _, err := vpdq.Hash(ctx, rec.Path, o, func(f vpdq.Frame) error {
		frames = append(frames, f)
		return nil
	}); err != nil {
		return ctx.Err()
	}
	rec.VPDQCropped = frames
	rec.Video.Crop = rect
	return nil
}

// Reader hashes content read from r; size is its length or -1 if unknown.
func (h *Hasher) Reader(name string, r io.Reader, size int64) (Record, Timing, error) {
	rec := Record{Path: name}
	var tm Timing
	start := time.Now()
	h.md5.Reset()
	h.sha1.Reset()
	h.sha256.Reset()
	digests := io.MultiWriter(h.md5, h.sha1, h.sha256)

	// Sniff, then either keep the whole content for decoding or stream it.
	h.buf.Reset()
	if _, err := io.CopyN(h.buf, r, media.SniffLen); err != nil && err != io.EOF {
		return rec, tm, fmt.Errorf("read: %w", err)
	}
	rec.MIME = media.Sniff(h.buf.Bytes())
	keep := media.IsImage(rec.MIME) && (size < 0 || size <= h.opts.MaxImageBytes)
	var n int64
	var err error
	if keep {
		if size > 0 {
			h.buf.Grow(int(size) - h.buf.Len())
		}
		_, err = io.Copy(h.buf, io.LimitReader(r, h.opts.MaxImageBytes+1-int64(h.buf.Len())))
		n = int64(h.buf.Len())
		digests.Write(h.buf.Bytes())
		if err == nil && n > h.opts.MaxImageBytes {
			// Content from a stream turned out too large to decode.
			keep = false
			var m int64
			m, err = io.Copy(digests, r)
			n += m
		}
	} else {
		digests.Write(h.buf.Bytes())
		var m int64
		m, err = io.Copy(digests, r)
		n = int64(h.buf.Len()) + m
	}
	if err != nil {
		return rec, tm, fmt.Errorf("read: %w", err)
	}
	if size >= 0 && n != size {
		return rec, tm, fmt.Errorf("read: file changed while being read (%d bytes, expected %d)", n, size)
	}
	rec.Size = n
	rec.MD5 = hex.EncodeToString(h.md5.Sum(nil))
	rec.SHA1 = hex.EncodeToString(h.sha1.Sum(nil))
	rec.SHA256 = hex.EncodeToString(h.sha256.Sum(nil))
	tm.Read = time.Since(start)

	switch {
	case media.IsVideo(rec.MIME):
		rec.Kind = Video
		return rec, tm, nil
	case !media.IsImage(rec.MIME):
		rec.Kind = Other
		return rec, tm, nil
	}
	rec.Kind = Image
	if !keep {
		err := fmt.Errorf("%w: %d bytes is above the %d-byte image limit", media.ErrTooLarge, n, h.opts.MaxImageBytes)
		rec.Error = err.Error()
		return rec, tm, err
	}
	return h.decodeWithin(rec, tm, h.buf.Bytes())
}

// decodeWithin is decode within the time limit. Past it, the decoding is
// left to finish (or not) on its own goroutine with the buffers it holds,
// and the Hasher takes new ones.
func (h *Hasher) decodeWithin(rec Record, tm Timing, data []byte) (Record, Timing, error) {
	if h.opts.Decoders != nil {
		return h.decodeIsolated(rec, tm, data)
	}
	if h.opts.DecodeLimit < 0 {
		return h.decode(h.scratch, rec, tm, data)
	}
	type result struct {
		rec   Record
		tm    Timing
		err   error
		crash *decoderPanic
	}
	done := make(chan result, 1)
	sc := h.scratch
	go func(rec Record, tm Timing) {
		defer func() {
			// A decoder's panic is raised again on the caller's goroutine,
			// whose recover (the server's) fails the file; once abandoned,
			// it is dropped.
			if p := recover(); p != nil {
				done <- result{crash: &decoderPanic{p, debug.Stack()}}
			}
		}()
		rec, tm, err := h.decode(sc, rec, tm, data)
		done <- result{rec: rec, tm: tm, err: err}
	}(rec, tm)
	t := time.NewTimer(h.opts.DecodeLimit)
	defer t.Stop()
	select {
	case r := <-done:
		if r.crash != nil {
			panic(r.crash)
		}
		return r.rec, r.tm, r.err
	case <-t.C:
		if stuck := h.opts.Stuck; stuck != nil {
			stuck.Add(1)
			go func() {
				<-done
				stuck.Add(-1)
			}()
		}
		h.buf, h.scratch = new(bytes.Buffer), new(scratch)
		err := fmt.Errorf("%w (%v), abandoned", ErrDecodeLimit, h.opts.DecodeLimit)
		rec.Error = err.Error()
		return rec, tm, err
	}
}

// decoderPanic is a panic of an image's decoding, with the stack of the
// goroutine it happened on.
type decoderPanic struct {
	value any
	stack []byte
}

func (p *decoderPanic) String() string {
	return fmt.Sprintf("decoding an image: %v\n\n%s", p.value, p.stack)
}

// decode adds an image's metadata, size and PDQ hashes to rec. It uses
// only sc of the Hasher's buffers, and reads only its options.
func (h *Hasher) decode(sc *scratch, rec Record, tm Timing, data []byte) (Record, Timing, error) {
	if hook := testHookDecode.Load(); hook != nil {
		(*hook)(rec.Path)
	}
	if md, err := media.ReadMetadata(data, rec.MIME); err == nil && !md.IsZero() {
		rec.Metadata = &md
	}
	start := time.Now()
	if rec.MIME == "image/jpeg" && h.opts.Mode == pdq.Full {
		// The luma alone, decoded as libjpeg does (in full, or at reduced
		// scale with Fast): what the reference hashes, minus colour
		// conversion, at a fraction of a full decode.
		scale := func(w, ht int) int {
			if s := FastScale(w, ht); h.opts.Fast && s > 0 {
				return s
			}
			return 1
		}
		y, err := jpegluma.Decode(data, jpegluma.Options{MaxPixels: h.maxPixels(), Scale: scale, Gradient: fastPlanes, Luma: sc.luma})
		if err == nil {
			tm.Decode = time.Since(start)
			start = time.Now()
			rec.Width, rec.Height = y.Width, y.Height
			var res pdq.Result
			var dih *pdq.Dihedral
			if y.Scale == 1 {
				sc.luma = y.Luma
				res, dih = sc.pdq.HashLuma(y.Luma, y.Rows, y.Cols, h.opts.Dihedral)
			} else {
				rec.FastScale = y.Scale
				res, dih = sc.pdq.HashReduced(y.Luma, y.GradX, y.GradY, y.Rows, y.Cols, y.Height, y.Width, y.Scale, h.opts.Dihedral)
			}
			tm.PDQ = time.Since(start)
			h.setPDQ(&rec, res, dih)
			return rec, tm, nil
		}
		// Anything else (CMYK, arithmetic coding, corrupt) takes the
		// general path, which gives the definitive error if there is one.
	}
	img, err := media.Decode(data, rec.MIME, h.opts.MaxPixels)
	tm.Decode = time.Since(start)
	if err != nil {
		rec.Error = err.Error()
		return rec, tm, err
	}
	start = time.Now()
	b := img.Bounds()
	rec.Width, rec.Height = b.Dx(), b.Dy()
	res, dih := sc.pdq.HashImage(img, h.opts.Mode, h.opts.Dihedral)
	tm.PDQ = time.Since(start)
	h.setPDQ(&rec, res, dih)
	return rec, tm, nil
}

// FastScale is the reduction Options.Fast decodes an image at, from PDQ's
// filter window for the image's short side (one pixel in 128): 8 when the
// window is at least 8 pixels, else the largest of 4 and 2 below the
// window. Images under 257 pixels a side return 0: decoded in full.
// Measured on 84 JPEGs of 800x502 to 4032x3024 pixels against full mode:
// median 0 bits, at most 6.
func FastScale(width, height int) int {
	window := (min(width, height) + 127) / 128
	switch {
	case window >= 8:
		return 8
	case window > 4:
		return 4
	case window > 2:
		return 2
	}
	return 0
}

// fastPlanes says whether 1/8-scale blocks are hashed as planes (from
// their lowest AC coefficients) rather than flat: when the window is
// exactly 8 pixels (short side 897 to 1024), where flat blocks were 10
// bits off on some photos. Above, flat blocks are accurate and cheaper.
func fastPlanes(width, height int) bool { return (min(width, height)+127)/128 == 8 }

func (h *Hasher) maxPixels() int64 {
	if h.opts.MaxPixels > 0 {
		return h.opts.MaxPixels
	}
	return media.DefaultMaxPixels
}

func (h *Hasher) setPDQ(rec *Record, res pdq.Result, dih *pdq.Dihedral) {
	rec.PDQ, rec.Quality = &res.Hash, &res.Quality
	if dih != nil {
		rec.Dihedral = &Dihedral{dih[0], dih[1], dih[2], dih[3], dih[4], dih[5], dih[6], dih[7]}
	}
}

// openEvidence opens read-only, asking the kernel not to update the access
// time (O_NOATIME is refused for files the caller does not own; then it
// falls back to a plain read-only open).
func openEvidence(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|oNoATime|oNonBlock, 0)
	if err != nil && oNoATime != 0 {
		f, err = os.OpenFile(path, os.O_RDONLY|oNonBlock, 0)
	}
	return f, err
}

func fileType(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&os.ModeNamedPipe != 0:
		return "FIFO"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeCharDevice != 0:
		return "character device"
	case m&os.ModeDevice != 0:
		return "block device"
	case m&os.ModeSymlink != 0:
		return "symbolic link"
	}
	return m.Type().String()
}
