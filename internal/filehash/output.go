package filehash

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/ivid-project/ivid/internal/pdq"
)

// Format is an output format for records.
type Format string

const (
	Text Format = "text"
	JSON Format = "json" // JSON Lines: one object a line
	CSV  Format = "csv"
)

// RecordWriter writes records in one format.
type RecordWriter interface {
	Write(Record) error
	Flush() error
}

// NewWriter returns a RecordWriter for the format. dihedral adds the eight
// dihedral hashes to text and CSV output.
func NewWriter(f Format, w io.Writer, dihedral bool) (RecordWriter, error) {
	switch f {
	case Text:
		return &textWriter{w: w, dihedral: dihedral}, nil
	case JSON:
		return &jsonWriter{enc: json.NewEncoder(w)}, nil
	case CSV:
		return &csvWriter{w: csv.NewWriter(w), dihedral: dihedral}, nil
	}
	return nil, fmt.Errorf("unknown output format %q", f)
}

type jsonWriter struct{ enc *json.Encoder }

func (j *jsonWriter) Write(r Record) error { return j.enc.Encode(r) }
func (j *jsonWriter) Flush() error         { return nil }

// textWriter aligns columns with fixed widths (every digest has a fixed
// length), so that it can stream without buffering the whole run.
type textWriter struct {
	w        io.Writer
	dihedral bool
	header   bool
}

const textFormat = "%-32s  %-40s  %-64s  %-64s  %3s  %11s  %12s  %-16s  %s\n"

func (t *textWriter) Write(r Record) error {
	if !t.header {
		t.header = true
		if _, err := fmt.Fprintf(t.w, textFormat, "MD5", "SHA1", "SHA256", "PDQ", "Q", "DIMENSIONS", "SIZE", "TYPE", "PATH"); err != nil {
			return err
		}
	}
	p, q, dims := "-", "-", "-"
	if r.PDQ != nil {
		p, q = r.PDQ.String(), strconv.Itoa(*r.Quality)
	}
	if r.Width > 0 {
		dims = fmt.Sprintf("%dx%d", r.Width, r.Height)
	}
	if r.Video != nil {
		p = fmt.Sprintf("vPDQ: %d frames, %.1f s %s", len(r.VPDQ), r.Video.Duration, r.Video.Codec)
	}
	if _, err := fmt.Fprintf(t.w, textFormat, r.MD5, r.SHA1, r.SHA256, p, q, dims, strconv.FormatInt(r.Size, 10), r.MIME, r.Path); err != nil {
		return err
	}
	if t.dihedral && r.Dihedral != nil {
		for i, h := range r.Dihedral.All() {
			if _, err := fmt.Fprintf(t.w, "%-32s  %-40s  %-64s  %s\n", "", "", "  dihedral "+pdq.DihedralNames[i], h); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *textWriter) Flush() error { return nil }

type csvWriter struct {
	w        *csv.Writer
	dihedral bool
	header   bool
}

func (c *csvWriter) Write(r Record) error {
	if !c.header {
		c.header = true
		h := []string{"path", "size", "mime", "kind", "md5", "sha1", "sha256", "width", "height", "pdq", "pdq_quality"}
		if c.dihedral {
			for _, n := range pdq.DihedralNames {
				h = append(h, "pdq_"+n)
			}
		}
		h = append(h, "camera_make", "camera_model", "camera_serial", "capture_time", "gps_latitude", "gps_longitude", "video_codec", "video_duration", "vpdq_frames", "error")
		if err := c.w.Write(h); err != nil {
			return err
		}
	}
	row := []string{r.Path, strconv.FormatInt(r.Size, 10), r.MIME, string(r.Kind), r.MD5, r.SHA1, r.SHA256, "", "", "", ""}
	if r.Width > 0 {
		row[7], row[8] = strconv.Itoa(r.Width), strconv.Itoa(r.Height)
	}
	if r.PDQ != nil {
		row[9], row[10] = r.PDQ.String(), strconv.Itoa(*r.Quality)
	}
	if c.dihedral {
		for i := range 8 {
			v := ""
			if r.Dihedral != nil {
				v = r.Dihedral.All()[i].String()
			}
			row = append(row, v)
		}
	}
	var mk, mo, sn, ct, lat, lon string
	if m := r.Metadata; m != nil {
		mk, mo, sn = m.CameraMake, m.CameraModel, m.CameraSerial
		if m.CaptureTime != nil {
			ct = m.CaptureTime.Format(time.RFC3339)
		}
		if m.GPS != nil {
			lat = strconv.FormatFloat(m.GPS.Latitude, 'f', -1, 64)
			lon = strconv.FormatFloat(m.GPS.Longitude, 'f', -1, 64)
		}
	}
	var codec, dur, frames string
	if v := r.Video; v != nil {
		codec, dur, frames = v.Codec, strconv.FormatFloat(v.Duration, 'f', -1, 64), strconv.Itoa(len(r.VPDQ))
	}
	row = append(row, mk, mo, sn, ct, lat, lon, codec, dur, frames, r.Error)
	return c.w.Write(row)
}

func (c *csvWriter) Flush() error {
	c.w.Flush()
	return c.w.Error()
}
