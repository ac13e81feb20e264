package hashset

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/ivid-project/ivid/internal/vpdq"
)

// maxVPDQFile bounds a vPDQ file read into memory: every frame of a
// 24-hour video at 30 fps is about 200 MB, far above what anyone sends.
const maxVPDQFile = 256 << 20

// vpdqReader reads one video's vPDQ hashes, in the reference CLI's lines or
// as HMA's JSON list, as a single entry labelled with the file name.
type vpdqReader struct {
	r    io.Reader
	file string
	done bool
}

// NewVPDQReader returns a reader of one vPDQ file.
func NewVPDQReader(r io.Reader, file string) Reader { return &vpdqReader{r: r, file: file} }

func (v *vpdqReader) Next() (Entry, error) {
	if v.done {
		return Entry{}, io.EOF
	}
	v.done = true
	data, err := io.ReadAll(io.LimitReader(v.r, maxVPDQFile+1))
	if err != nil {
		return Entry{}, fatalError{&ParseError{File: v.file, Err: err}}
	}
	if len(data) > maxVPDQFile {
		return Entry{}, fatalError{&ParseError{File: v.file, Err: malformed("vPDQ file larger than %d bytes", maxVPDQFile)}}
	}
	var frames []vpdq.Frame
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		frames, err = vpdq.ParseHMA(string(t))
	} else {
		frames, err = vpdq.ReadLines(bytes.NewReader(data))
	}
	if err != nil {
		pe := &ParseError{File: v.file, Field: "vpdq", Err: malformed("%v", err)}
		var ve *vpdq.ParseError
		if errors.As(err, &ve) {
			pe.Line = ve.Line
		}
		return Entry{}, fatalError{pe}
	}
	if len(frames) == 0 {
		return Entry{}, fatalError{&ParseError{File: v.file, Field: "vpdq", Err: malformed("no frames")}}
	}
	name := strings.TrimSuffix(filepath.Base(v.file), filepath.Ext(v.file))
	return Entry{VPDQ: frames, MediaType: "video", Label: name, Category: Uncategorised}, nil
}

// vpdqWriter writes the frames of the one video entry a vPDQ file holds.
type vpdqWriter struct {
	w      *bufio.Writer
	videos int
}

// NewVPDQWriter returns a writer of one video's frames in the reference
// CLI's format; entries without vPDQ are left out.
func NewVPDQWriter(w io.Writer) Writer { return &vpdqWriter{w: bufio.NewWriter(w)} }

func (v *vpdqWriter) Write(e Entry) error {
	if len(e.VPDQ) == 0 {
		return nil
	}
	if v.videos++; v.videos > 1 {
		return fmt.Errorf("a vPDQ file holds one video; this set has more (use the ivid format)")
	}
	return vpdq.WriteLines(v.w, e.VPDQ)
}

func (v *vpdqWriter) Close() error { return v.w.Flush() }
