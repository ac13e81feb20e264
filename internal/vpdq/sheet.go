package vpdq

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
)

// SheetOptions lay out a contact sheet.
type SheetOptions struct {
	Cols, Rows int // 4 each when zero
	Width      int // pixels of the whole sheet; 1280 when zero
}

// ContactSheet writes one JPEG holding Cols×Rows frames spread evenly over
// the video, left to right and top to bottom, so that a reviewer sees a
// video at a glance (and the UI can blur it like any image). Frames are
// shown as stored; display rotation is not applied, as for vPDQ.
func ContactSheet(ctx context.Context, path string, o Options, so SheetOptions, w io.Writer) error {
	if so.Cols <= 0 {
		so.Cols = 4
	}
	if so.Rows <= 0 {
		so.Rows = 4
	}
	if so.Width <= 0 {
		so.Width = 1280
	}
	if so.Cols > 16 || so.Rows > 16 || so.Width > 8192 {
		return fmt.Errorf("contact sheet: at most 16×16 tiles and 8192 pixels wide")
	}
	prog, err := lookPath("ffmpeg", o.FFmpeg)
	if err != nil {
		return err
	}
	info, err := Probe(ctx, path, o)
	if err != nil {
		return err
	}
	n := so.Cols * so.Rows
	// Even tiles keep chroma subsampling out of the way.
	tw := max(2, so.Width/so.Cols/2*2)
	th := max(2, int(float64(tw)*float64(info.Height)/float64(info.Width))/2*2)
	rate := "1"
	if info.Duration > 0 {
		rate = fmt.Sprintf("%d/%f", n, info.Duration)
	}
	vf := fmt.Sprintf("fps=%s,scale=%d:%d:flags=area,tile=%dx%d", rate, tw, th, so.Cols, so.Rows)
	args := append([]string{"-nostdin", "-hide_banner", "-loglevel", "error", "-noautorotate"}, input(path)...)
	args = append(args, "-map", "0:v:0", "-vf", vf, "-frames:v", "1", "-f", "image2pipe", "-c:v", "ppm", "-pix_fmt", "rgb24", "pipe:1")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd, stdout, stderr, err := startFFmpeg(ctx, prog, args)
	if err != nil {
		return err
	}
	img, readErr := readPPM(bufio.NewReader(stdout), o.maxPixels())
	if readErr != nil {
		cancel()
	}
	waitErr := cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case waitErr != nil:
		return fmt.Errorf("%w: ffmpeg: %v: %s", ErrCorrupt, waitErr, stderr.String())
	case readErr != nil:
		return readErr
	}
	return jpeg.Encode(w, img, &jpeg.Options{Quality: 85})
}

func readPPM(r *bufio.Reader, maxPixels int64) (*image.RGBA, error) {
	w, h, err := readPPMHeader(r)
	if err == io.EOF {
		return nil, errNoFrames
	}
	if err != nil {
		return nil, err
	}
	if int64(w)*int64(h) > maxPixels {
		return nil, fmt.Errorf("%w: %d×%d", ErrTooLarge, w, h)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	row := make([]byte, 3*w)
	for y := range h {
		if _, err := io.ReadFull(r, row); err != nil {
			return nil, fmt.Errorf("%w: contact sheet cut short", ErrCorrupt)
		}
		px := img.Pix[y*img.Stride:]
		for x := range w {
			px[4*x], px[4*x+1], px[4*x+2], px[4*x+3] = row[3*x], row[3*x+1], row[3*x+2], 255
		}
	}
	return img, nil
}
