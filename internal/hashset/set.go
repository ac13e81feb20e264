package hashset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Reader streams entries. Next returns io.EOF at the end, a *ParseError for a
// malformed record (the next call goes on with the following record), or an
// error wrapping a fatal one after which the stream cannot go on.
type Reader interface {
	Next() (Entry, error)
}

// Writer writes entries in one format; Close completes the document.
type Writer interface {
	Write(Entry) error
	Close() error
}

// Format names a hash set format.
type Format string

const (
	FormatAuto   Format = "auto"
	FormatNative Format = "ivid" // ivid's own: JSON Lines with a header line
	FormatVICS   Format = "vics" // Project VIC JSON 1.x/2.0
	FormatICSE   Format = "icse" // ICSE CSV
	FormatCSV    Format = "csv"  // plain CSV/TSV hash list
	FormatPDQ    Format = "pdq"  // Meta's hash,quality,name lines
	FormatNSRL   Format = "nsrl" // NIST NSRL RDSv3 SQLite database
	FormatVPDQ   Format = "vpdq" // one video's vPDQ: reference CLI lines or HMA's JSON list
)

// Formats lists the formats for help texts.
var Formats = []Format{FormatNative, FormatVICS, FormatICSE, FormatCSV, FormatPDQ, FormatNSRL, FormatVPDQ}

// IsFatal reports whether a Next error ends the stream.
func IsFatal(err error) bool {
	var f fatalError
	return err != nil && err != io.EOF && (errors.As(err, &f) || !errors.As(err, new(*ParseError)))
}

// Detect guesses a file's format from its first bytes.
func Detect(head []byte) Format {
	if bytes.HasPrefix(head, []byte("SQLite format 3\x00")) {
		return FormatNSRL
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(t) > 0 && t[0] == '{' {
		if bytes.Contains(t[:min(len(t), 200)], []byte(`"ivid_hashset"`)) {
			return FormatNative
		}
		return FormatVICS
	}
	if len(t) > 0 && t[0] == '[' {
		return FormatVPDQ
	}
	line := t
	if i := bytes.IndexByte(t, '\n'); i >= 0 {
		line = t[:i]
	}
	upper := strings.ToUpper(string(line))
	if strings.HasPrefix(upper, "MD5;SHA1") {
		return FormatICSE
	}
	fields := strings.Split(strings.TrimSpace(string(line)), ",")
	if len(fields) == 4 && isDigits(fields[0]) && len(fields[2]) == 64 {
		return FormatVPDQ
	}
	if len(fields) >= 2 && len(fields[0]) == 64 && isDigits(fields[1]) {
		return FormatPDQ
	}
	return FormatCSV
}

func isDigits(s string) bool {
	s = strings.TrimSpace(s)
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// Open opens a hash set file for reading. The header comes from the file
// for ivid's own format and is derived from the file name otherwise.
func Open(path string, format Format) (Header, Reader, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, nil, nil, err
	}
	br := bufio.NewReaderSize(f, 1<<16)
	if format == FormatAuto || format == "" {
		head, _ := br.Peek(4096)
		format = Detect(head)
	}
	if format == FormatNSRL {
		f.Close()
		r, c, err := OpenNSRL(path)
		if err != nil {
			return Header{}, nil, nil, err
		}
		return Header{Name: nameOf(path), Kind: KnownGood, Source: string(format)}, r, c, nil
	}
	h, r, err := OpenReader(br, path, format)
	if err != nil {
		f.Close()
		return Header{}, nil, nil, err
	}
	return h, r, f, nil
}

// ErrDatabaseSet is OpenReader's answer to an NSRL set: an SQLite
// database, which only Open reads, from its file.
var ErrDatabaseSet = errors.New("an NSRL set is read from its file")

// OpenReader is Open for a set read from r, named name (a path) in its
// header and errors.
func OpenReader(r io.Reader, name string, format Format) (Header, Reader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	if format == FormatAuto || format == "" {
		head, _ := br.Peek(4096)
		format = Detect(head)
	}
	h := Header{Name: nameOf(name), Kind: Known, Source: string(format)}
	var rd Reader
	var err error
	switch format {
	case FormatNative:
		h, rd, err = NewNativeReader(br, name)
	case FormatVICS:
		rd = NewVICSReader(br, name)
	case FormatICSE:
		rd = NewICSEReader(br, name)
	case FormatCSV:
		rd = NewPlainReader(br, name)
	case FormatPDQ:
		rd = NewPDQReader(br, name)
	case FormatVPDQ:
		rd = NewVPDQReader(br, name)
	case FormatNSRL:
		return Header{Name: h.Name, Kind: KnownGood, Source: h.Source}, nil, ErrDatabaseSet
	default:
		err = fmt.Errorf("unknown hash set format %q", format)
	}
	return h, rd, err
}

func nameOf(path string) string {
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}

// NewWriter returns a writer of the format. The header is used by ivid's
// own format only.
func NewWriter(w io.Writer, format Format, h Header) (Writer, error) {
	switch format {
	case FormatNative:
		return newNativeWriter(w, h)
	case FormatVICS:
		return NewVICSWriter(w), nil
	case FormatICSE:
		return NewICSEWriter(w)
	case FormatCSV:
		return NewPlainWriter(w)
	case FormatPDQ:
		return NewPDQWriter(w), nil
	case FormatVPDQ:
		return NewVPDQWriter(w), nil
	}
	return nil, fmt.Errorf("cannot write hash set format %q", format)
}

// Stats counts what a read did.
type Stats struct {
	Read    int
	Skipped int
	Errors  []error // the first few malformed records
}

const keptErrors = 20

// ReadAll calls fn for every entry. With strict, the first malformed record
// aborts the read; otherwise it is skipped and counted.
func ReadAll(r Reader, strict bool, fn func(Entry) error) (Stats, error) {
	var st Stats
	for {
		e, err := r.Next()
		if err == io.EOF {
			return st, nil
		}
		if err != nil {
			if strict || IsFatal(err) {
				return st, err
			}
			st.Skipped++
			if len(st.Errors) < keptErrors {
				st.Errors = append(st.Errors, err)
			}
			continue
		}
		st.Read++
		if err := fn(e); err != nil {
			return st, err
		}
	}
}

// ivid's own format: a header object line, then one Entry object a line.
type nativeHeader struct {
	Format string `json:"ivid_hashset"`
	Header
}

const nativeVersion = "1"

// NewNativeReader reads ivid's own format: its header line, then the
// entries.
func NewNativeReader(r *bufio.Reader, file string) (Header, Reader, error) {
	line, err := r.ReadBytes('\n')
	if err != nil && len(line) == 0 {
		return Header{}, nil, &ParseError{File: file, Line: 1, Err: malformed("empty file")}
	}
	var h nativeHeader
	if err := json.Unmarshal(line, &h); err != nil || h.Format == "" {
		return Header{}, nil, &ParseError{File: file, Line: 1, Field: "ivid_hashset", Err: malformed("bad header")}
	}
	if h.Format != nativeVersion {
		return Header{}, nil, &ParseError{File: file, Line: 1, Field: "ivid_hashset", Err: fmt.Errorf("unsupported version %q", h.Format)}
	}
	return h.Header, &nativeReader{file: file, sc: r, line: 1}, nil
}

type nativeReader struct {
	file string
	sc   *bufio.Reader
	line int
}

func (n *nativeReader) Next() (Entry, error) {
	for {
		b, err := n.sc.ReadBytes('\n')
		if len(b) == 0 && err != nil {
			if err == io.EOF {
				return Entry{}, io.EOF
			}
			return Entry{}, fatalError{&ParseError{File: n.file, Line: n.line, Err: err}}
		}
		n.line++
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		e := Entry{Category: Uncategorised}
		if err := json.Unmarshal(b, &e); err != nil {
			return Entry{}, &ParseError{File: n.file, Line: n.line, Err: malformed("%v", err)}
		}
		if e.Category < Uncategorised || e.Category > Comparison {
			return Entry{}, &ParseError{File: n.file, Line: n.line, Field: "category", Err: malformed("category %d", e.Category)}
		}
		return e, nil
	}
}

type nativeWriter struct {
	w   *bufio.Writer
	enc *json.Encoder
}

func newNativeWriter(w io.Writer, h Header) (Writer, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(nativeHeader{Format: nativeVersion, Header: h}); err != nil {
		return nil, err
	}
	return &nativeWriter{bw, enc}, nil
}

func (n *nativeWriter) Write(e Entry) error { return n.enc.Encode(e) }
func (n *nativeWriter) Close() error        { return n.w.Flush() }
