package vpdq

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ivid-project/ivid/internal/pdq"
)

var (
	// ErrNoFFmpeg means the ffmpeg or ffprobe program is not installed.
	ErrNoFFmpeg = errors.New("ffmpeg/ffprobe not found: install FFmpeg (Debian/Ubuntu: apt install ffmpeg; Fedora: dnf install ffmpeg; macOS: brew install ffmpeg) or pass its path")
	// ErrNoVideo means the file has no video stream (audio only, say).
	ErrNoVideo = errors.New("no video stream")
	// ErrTooLarge means the frames exceed the pixel limit, or there are
	// more than the frame limit to hash (a video bomb: still frames take
	// a few bytes each).
	ErrTooLarge = errors.New("video too large")
	// ErrTimeLimit means the video was not hashed within Options.TimeLimit;
	// ffmpeg was stopped.
	ErrTimeLimit = errors.New("video not hashed within the time limit")
	// ErrCorrupt means ffmpeg could not read the file.
	ErrCorrupt = errors.New("video corrupt or unreadable")
)

// DefaultMaxPixels bounds a frame's size (and so the memory of one frame
// buffer): 8K UHD with room to spare.
const DefaultMaxPixels = 64 << 20

// DefaultMaxFrames bounds the frames hashed from one video: 9.7 hours at
// 30 frames a second when every frame is hashed, 12 days at one a second.
// A caller that keeps the frames holds about 320 bytes each with the
// dihedral hashes.
const DefaultMaxFrames = 1 << 20

// DefaultTimeLimit bounds one Hash call. It is a backstop: a two-hour
// film hashed at every frame takes about 40 minutes of one core at 720p
// (ivid bench video), four times that in 4K.
const DefaultTimeLimit = 12 * time.Hour

// DefaultStallLimit bounds the wait for the next frame (the first one
// included): an 8K frame decodes and hashes in 0.3 s.
const DefaultStallLimit = 10 * time.Minute

// Info is what ffprobe says about a video's first video stream.
type Info struct {
	Duration  float64 `json:"duration"` // seconds; 0 when unknown
	Codec     string  `json:"codec"`
	Width     int     `json:"width"`
	Height    int     `json:"height"`
	FrameRate float64 `json:"frame_rate"` // average, as vPDQ samples by it
	Frames    int64   `json:"frames,omitempty"`
	// Rotation is the display rotation in degrees. vPDQ ignores it and
	// hashes the frames as stored, as the reference does.
	Rotation int  `json:"rotation,omitempty"`
	Audio    bool `json:"audio,omitempty"`
	// Crop is the picture kept when Options.Crop found black bars, as
	// ffmpeg's crop filter takes it (width:height:x:y); empty otherwise.
	Crop string `json:"crop,omitempty"`
}

// Options configure video hashing.
type Options struct {
	// FFmpeg and FFprobe are the programs; empty means looking them up in
	// PATH.
	FFmpeg, FFprobe string
	// SecondsPerHash samples one frame every SecondsPerHash seconds of
	// frames (the reference's -r); 0 hashes every frame.
	SecondsPerHash float64
	// ExactC turns off FFmpeg's SIMD (-cpuflags 0) so that frames are
	// bit-exact with reference hashes made the same way, on any CPU. It
	// costs decoding speed.
	ExactC bool
	// Threads is ffmpeg's decoding thread count; 0 leaves ffmpeg's default.
	Threads   int
	MaxPixels int64 // 0 means DefaultMaxPixels
	// MaxFrames bounds the frames hashed (after sampling); past it Hash
	// stops ffmpeg and returns ErrTooLarge. 0 means DefaultMaxFrames.
	MaxFrames int
	// TimeLimit bounds one Hash call, probe and crop detection included;
	// past it ffmpeg is stopped and Hash returns ErrTimeLimit. 0 means
	// DefaultTimeLimit, a negative value none.
	TimeLimit time.Duration
	// StallLimit stops ffmpeg, as TimeLimit does, when no frame has come
	// for this long (a decoder looping on a crafted file); 0 means
	// DefaultStallLimit, a negative value none.
	StallLimit time.Duration
	// Dihedral also computes the eight rotation and flip hashes of each
	// frame, for finding mirrored copies.
	Dihedral bool
	// Crop strips black bars (letterbox, pillarbox) before hashing, as
	// found by ffmpeg's cropdetect over the keyframes: bars added by a
	// re-encoding otherwise defeat matching. The reference does not crop,
	// so the hashes of a video with bars are then not the reference's
	// (without bars they are the same).
	Crop bool
	// CropRect, if set, is the picture to hash (width:height:x:y, as
	// DetectCrop returns it), with no detection.
	CropRect string
}

func (o Options) maxPixels() int64 {
	if o.MaxPixels > 0 {
		return o.MaxPixels
	}
	return DefaultMaxPixels
}

func (o Options) maxFrames() int {
	if o.MaxFrames > 0 {
		return o.MaxFrames
	}
	return DefaultMaxFrames
}

func lookPath(name, given string) (string, error) {
	if given == "" {
		given = name
	}
	p, err := exec.LookPath(given)
	if err != nil {
		return "", fmt.Errorf("%w (%v)", ErrNoFFmpeg, err)
	}
	return p, nil
}

// input names a local file so that ffmpeg neither reads a name like
// "http:x" as a protocol nor follows a file's references to the network.
func input(path string) []string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return []string{"-protocol_whitelist", "file", "-i", "file:" + abs}
}

type probeOut struct {
	Streams []struct {
		CodecType    string `json:"codec_type"`
		CodecName    string `json:"codec_name"`
		Width        int    `json:"width"`
		Height       int    `json:"height"`
		AvgFrameRate string `json:"avg_frame_rate"`
		RFrameRate   string `json:"r_frame_rate"`
		NbFrames     string `json:"nb_frames"`
		Duration     string `json:"duration"`
		Disposition  struct {
			AttachedPic int `json:"attached_pic"`
		} `json:"disposition"`
		Tags struct {
			Rotate string `json:"rotate"`
		} `json:"tags"`
		SideData []struct {
			Rotation *float64 `json:"rotation"`
		} `json:"side_data_list"`
	} `json:"streams"`
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

// Probe runs ffprobe on a file and describes its first video stream, the
// one vPDQ hashes.
func Probe(ctx context.Context, path string, o Options) (Info, error) {
	prog, err := lookPath("ffprobe", o.FFprobe)
	if err != nil {
		return Info{}, err
	}
	args := append([]string{"-v", "error", "-show_streams", "-show_format", "-of", "json"}, input(path)...)
	cmd := exec.CommandContext(ctx, prog, args...)
	var stderr tail
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return Info{}, ctx.Err()
		}
		return Info{}, fmt.Errorf("%w: ffprobe: %v: %s", ErrCorrupt, err, stderr.String())
	}
	var p probeOut
	if err := json.Unmarshal(out, &p); err != nil {
		return Info{}, fmt.Errorf("%w: ffprobe output: %v", ErrCorrupt, err)
	}
	var info Info
	found := false
	for _, s := range p.Streams {
		switch {
		case s.CodecType == "audio":
			info.Audio = true
		case s.CodecType == "video" && !found:
			// ffmpeg's 0:v:0 is the first video stream, cover art included.
			found = true
			info.Codec = s.CodecName
			info.Width, info.Height = s.Width, s.Height
			info.FrameRate = rate(s.AvgFrameRate)
			if info.FrameRate == 0 {
				info.FrameRate = rate(s.RFrameRate)
			}
			info.Frames, _ = strconv.ParseInt(s.NbFrames, 10, 64)
			info.Duration, _ = strconv.ParseFloat(s.Duration, 64)
			if r, err := strconv.Atoi(s.Tags.Rotate); err == nil {
				info.Rotation = r
			}
			for _, sd := range s.SideData {
				if sd.Rotation != nil {
					info.Rotation = int(math.Round(*sd.Rotation))
				}
			}
		}
	}
	if !found {
		return info, ErrNoVideo
	}
	if d, err := strconv.ParseFloat(p.Format.Duration, 64); err == nil && info.Duration == 0 {
		info.Duration = d
	}
	if info.Width <= 0 || info.Height <= 0 {
		return info, fmt.Errorf("%w: video stream has no dimensions", ErrCorrupt)
	}
	if int64(info.Width)*int64(info.Height) > o.maxPixels() {
		return info, fmt.Errorf("%w: %d×%d exceeds the limit of %d pixels", ErrTooLarge, info.Width, info.Height, o.maxPixels())
	}
	return info, nil
}

// rate parses ffprobe's "num/den"; 0 when unknown (0/0).
func rate(s string) float64 {
	n, d, ok := strings.Cut(s, "/")
	if !ok {
		return 0
	}
	num, err1 := strconv.ParseFloat(n, 64)
	den, err2 := strconv.ParseFloat(d, 64)
	if err1 != nil || err2 != nil || den == 0 || num <= 0 {
		return 0
	}
	return num / den
}

// FrameMod is the reference's sampling step: every FrameMod-th decoded
// frame is hashed, FrameMod = int(secondsPerHash × fps), at least 1.
func FrameMod(secondsPerHash, fps float64) int {
	return max(1, int(secondsPerHash*fps))
}

// Hash decodes a video with ffmpeg and hashes its sampled frames, calling
// emit for each in order. Memory is one frame, however long the video. A
// damaged file returns an error wrapping ErrCorrupt after emitting the
// frames that could be decoded. When
// ctx is cancelled or emit fails, ffmpeg is killed and reaped before Hash
// returns.
func Hash(ctx context.Context, path string, o Options, emit func(Frame) error) (Info, error) {
	var info Info
	err := within(ctx, o, func(ctx context.Context) (err error) {
		sctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		stall := orDefault(o.StallLimit, DefaultStallLimit)
		if stall > 0 {
			t := time.AfterFunc(stall, func() { cancel(errStalled) })
			defer t.Stop()
			next := emit
			emit = func(f Frame) error {
				t.Reset(stall)
				return next(f)
			}
		}
		info, err = hash(sctx, path, o, emit)
		if err != nil && ctx.Err() == nil && context.Cause(sctx) == errStalled {
			return fmt.Errorf("%w: no frame decoded for %v", ErrTimeLimit, stall)
		}
		return err
	})
	return info, err
}

var errStalled = errors.New("stalled")

// orDefault is a limit option's value: 0 means def, a negative value none.
func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// within runs f under o.TimeLimit; ffmpeg runs under f's context, so it is
// stopped at the limit.
func within(ctx context.Context, o Options, f func(context.Context) error) error {
	limit := orDefault(o.TimeLimit, DefaultTimeLimit)
	if limit < 0 {
		return f(ctx)
	}
	lctx, cancel := context.WithTimeoutCause(ctx, limit, ErrTimeLimit)
	defer cancel()
	err := f(lctx)
	if err != nil && ctx.Err() == nil && context.Cause(lctx) == ErrTimeLimit {
		return fmt.Errorf("%w (%v)", ErrTimeLimit, limit)
	}
	return err
}

func hash(ctx context.Context, path string, o Options, emit func(Frame) error) (Info, error) {
	prog, err := lookPath("ffmpeg", o.FFmpeg)
	if err != nil {
		return Info{}, err
	}
	info, err := Probe(ctx, path, o)
	if err != nil {
		return info, err
	}
	if info.FrameRate == 0 {
		return info, fmt.Errorf("%w: no frame rate", ErrCorrupt)
	}
	mod := 1
	if o.SecondsPerHash > 0 {
		mod = FrameMod(o.SecondsPerHash, info.FrameRate)
	}
	// The container's frame count can lie, so readFrames counts too; this
	// only spares decoding a video that says it is too long.
	if info.Frames > 0 && (info.Frames+int64(mod)-1)/int64(mod) > int64(o.maxFrames()) {
		return info, fmt.Errorf("%w: %d frames to hash exceed the limit of %d", ErrTooLarge, (info.Frames+int64(mod)-1)/int64(mod), o.maxFrames())
	}

	var filters []string
	if mod > 1 {
		filters = append(filters, fmt.Sprintf(`select=not(mod(n\,%d))`, mod))
	}
	crop := o.CropRect
	if crop == "" && o.Crop {
		if crop, err = detectCrop(ctx, prog, path, o, info); err != nil {
			return info, err
		}
	}
	if crop != "" {
		info.Crop = crop
		filters = append(filters, "crop="+crop)
	}
	args := []string{"-nostdin", "-hide_banner", "-loglevel", "error"}
	if o.ExactC {
		args = append(args, "-cpuflags", "0")
	}
	if o.Threads > 0 {
		args = append(args, "-threads", strconv.Itoa(o.Threads))
	}
	args = append(args, "-noautorotate")
	args = append(args, input(path)...)
	args = append(args, "-map", "0:v:0", "-fps_mode", "passthrough")
	if len(filters) > 0 {
		args = append(args, "-vf", strings.Join(filters, ","))
	}
	// PPM frames carry their own size, so a stream whose size changes
	// midway is still read right.
	args = append(args, "-sws_flags", "area", "-f", "image2pipe", "-c:v", "ppm", "-pix_fmt", "rgb24", "pipe:1")

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd, stdout, stderr, err := startFFmpeg(ctx, prog, args)
	if err != nil {
		return info, err
	}
	var emitErr error
	readErr := readFrames(bufio.NewReaderSize(stdout, 1<<20), o, info.FrameRate, mod, func(f Frame) error {
		emitErr = emit(f)
		return emitErr
	})
	if readErr != nil {
		cancel() // kill ffmpeg; Wait reaps it
	}
	waitErr := cmd.Wait()
	switch {
	case parent.Err() != nil:
		return info, parent.Err()
	case emitErr != nil:
		return info, emitErr
	case waitErr != nil && readErr == nil || waitErr != nil && errors.Is(readErr, errNoFrames):
		return info, fmt.Errorf("%w: ffmpeg: %v: %s", ErrCorrupt, waitErr, stderr.String())
	case readErr != nil:
		return info, readErr
	case stderr.Len() > 0:
		// ffmpeg got to the end but reported damage (a truncated or
		// corrupt stream): the frames hashed so far stand, and so does
		// the error.
		return info, fmt.Errorf("%w: decoded with errors: %s", ErrCorrupt, stderr.String())
	}
	return info, nil
}

// DetectCrop returns the picture inside a video's black bars (letterbox,
// pillarbox) as width:height:x:y, or "" when it has none; info is the
// video's Probe. It runs within o.TimeLimit.
func DetectCrop(ctx context.Context, path string, o Options, info Info) (string, error) {
	prog, err := lookPath("ffmpeg", o.FFmpeg)
	if err != nil {
		return "", err
	}
	var rect string
	err = within(ctx, o, func(ctx context.Context) (err error) {
		rect, err = detectCrop(ctx, prog, path, o, info)
		return err
	})
	return rect, err
}

// detectCrop runs ffmpeg's cropdetect over the keyframes (decoding only
// them keeps it fast) and returns the picture inside the black bars, as
// width:height:x:y, or "" when there are no bars. cropdetect keeps the
// union of what every frame shows (reset=0), so a dark scene does not
// shrink it; round=2 keeps the content whole (the default rounds to 16).
func detectCrop(ctx context.Context, prog, path string, o Options, info Info) (string, error) {
	args := []string{"-nostdin", "-hide_banner", "-nostats", "-loglevel", "info", "-skip_frame", "nokey", "-noautorotate"}
	if o.Threads > 0 {
		args = append(args, "-threads", strconv.Itoa(o.Threads))
	}
	args = append(args, input(path)...)
	args = append(args, "-map", "0:v:0", "-vf", "cropdetect=limit=24:round=2:reset=0:skip=0", "-f", "null", "-")
	cmd, stdout, out, err := startFFmpeg(ctx, prog, args)
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("%w: ffmpeg cropdetect: %v: %s", ErrCorrupt, err, out.String())
	}
	return parseCrop(out.String(), info.Width, info.Height), nil
}

// parseCrop takes the last crop=W:H:X:Y of cropdetect's log; it returns ""
// when there is none, when it is the whole frame or when it is empty (an
// all-black video).
func parseCrop(log string, width, height int) string {
	i := strings.LastIndex(log, "crop=")
	if i < 0 {
		return ""
	}
	var w, h, x, y int
	if n, _ := fmt.Sscanf(log[i:], "crop=%d:%d:%d:%d", &w, &h, &x, &y); n != 4 {
		return ""
	}
	if w <= 0 || h <= 0 || x < 0 || y < 0 || (w >= width && h >= height) || x+w > width || y+h > height {
		return ""
	}
	return fmt.Sprintf("%d:%d:%d:%d", w, h, x, y)
}

// startFFmpeg starts ffmpeg with its standard output on a pipe and the tail
// of its standard error kept for messages. Cancelling ctx kills it; the
// caller must Wait, which reaps it.
func startFFmpeg(ctx context.Context, prog string, args []string) (*exec.Cmd, io.Reader, *tail, error) {
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = 5 * time.Second
	stderr := new(tail)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, fmt.Errorf("start ffmpeg: %w", err)
	}
	return cmd, stdout, stderr, nil
}

var errNoFrames = fmt.Errorf("%w: no frame could be decoded", ErrCorrupt)

func readFrames(r *bufio.Reader, o Options, fps float64, mod int, emit func(Frame) error) error {
	var h pdq.Hasher
	var buf []byte
	n := 0
	for k := 0; ; k++ {
		w, ht, err := readPPMHeader(r)
		if err == io.EOF {
			if n == 0 {
				return errNoFrames
			}
			return nil
		}
		if err != nil {
			return err
		}
		if int64(w)*int64(ht) > o.maxPixels() {
			return fmt.Errorf("%w: %d×%d frame exceeds the limit of %d pixels", ErrTooLarge, w, ht, o.maxPixels())
		}
		if n >= o.maxFrames() {
			return fmt.Errorf("%w: more than %d frames to hash", ErrTooLarge, o.maxFrames())
		}
		size := 3 * w * ht
		if cap(buf) < size {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if _, err := io.ReadFull(r, buf); err != nil {
			return fmt.Errorf("%w: frame %d cut short: %v", ErrCorrupt, k*mod, err)
		}
		res, dih := h.HashRGB24(buf, w, ht, o.Dihedral)
		num := k * mod
		f := Frame{
			Number:    num,
			Quality:   res.Quality,
			Hash:      res.Hash,
			Timestamp: float64(float32(num) / float32(fps)),
			Dihedral:  dih,
		}
		if err := emit(f); err != nil {
			return err
		}
		n++
	}
}

// readPPMHeader reads "P6 <width> <height> 255" and the single whitespace
// byte before the pixels.
func readPPMHeader(r *bufio.Reader) (w, h int, err error) {
	magic := make([]byte, 2)
	if _, err := io.ReadFull(r, magic); err != nil {
		if err == io.EOF {
			return 0, 0, io.EOF
		}
		return 0, 0, fmt.Errorf("%w: frame stream cut short: %v", ErrCorrupt, err)
	}
	if string(magic) != "P6" {
		return 0, 0, fmt.Errorf("%w: unexpected frame header %q", ErrCorrupt, magic)
	}
	var v [3]int
	for i := range v {
		if v[i], err = ppmInt(r); err != nil {
			return 0, 0, err
		}
	}
	if v[2] != 255 || v[0] <= 0 || v[1] <= 0 {
		return 0, 0, fmt.Errorf("%w: unexpected frame header %dx%d max %d", ErrCorrupt, v[0], v[1], v[2])
	}
	return v[0], v[1], nil
}

// ppmInt skips whitespace, reads a decimal number and consumes the one
// whitespace byte that ends it.
func ppmInt(r *bufio.Reader) (int, error) {
	var c byte
	var err error
	for {
		if c, err = r.ReadByte(); err != nil {
			return 0, fmt.Errorf("%w: frame header cut short", ErrCorrupt)
		}
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
			break
		}
	}
	n, digits := 0, 0
	for ; c >= '0' && c <= '9'; digits++ {
		if n > 1<<24 {
			return 0, fmt.Errorf("%w: frame header number too large", ErrCorrupt)
		}
		n = n*10 + int(c-'0')
		if c, err = r.ReadByte(); err != nil {
			return 0, fmt.Errorf("%w: frame header cut short", ErrCorrupt)
		}
	}
	if digits == 0 || (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
		return 0, fmt.Errorf("%w: bad frame header", ErrCorrupt)
	}
	return n, nil
}

// tail keeps the last 2 KiB written to it, for error messages.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2048 {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-2048:]...)
	}
	return len(p), nil
}

func (t *tail) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.buf)
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(strings.ReplaceAll(string(t.buf), "\n", "; "))
}
