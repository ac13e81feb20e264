package hashset

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ivid-project/ivid/internal/pdq"
)

// ICSEHeader is the header of ICSE CSV files, `;`-separated.
var ICSEHeader = []string{"MD5", "SHA1", "PhotoDNA", "Image ID", "Is distributed", "Victim identified",
	"Offender identified", "Series name", "Number of submissions", "File Available", "Media Type", "Baseline"}

// lineReader reads delimited records with line numbers.
type lineReader struct {
	file  string
	cr    *csv.Reader
	col   map[string]int
	line  int
	parse func(l *lineReader, rec []string) (Entry, error)
}

func newLineReader(r io.Reader, file string, comma rune) *lineReader {
	cr := csv.NewReader(bufio.NewReaderSize(r, 1<<16))
	cr.Comma = comma
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	cr.Comment = '#'
	return &lineReader{file: file, cr: cr}
}

func (l *lineReader) perr(field string, err error) error {
	return &ParseError{File: l.file, Line: l.line, Field: field, Err: err}
}

func (l *lineReader) Next() (Entry, error) {
	for {
		rec, err := l.cr.Read()
		if err == io.EOF {
			return Entry{}, io.EOF
		}
		l.line, _ = l.cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				l.line = pe.Line
				return Entry{}, l.perr("", malformed("%v", pe.Err))
			}
			return Entry{}, fatalError{l.perr("", err)}
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		return l.parse(l, rec)
	}
}

func (l *lineReader) field(rec []string, name string) string {
	if i, ok := l.col[name]; ok && i < len(rec) {
		return strings.TrimSpace(rec[i])
	}
	return ""
}

// NewICSEReader reads an ICSE CSV export.
func NewICSEReader(r io.Reader, file string) Reader {
	l := newLineReader(r, file, ';')
	l.parse = parseICSE
	return l
}

func parseICSE(l *lineReader, rec []string) (Entry, error) {
	if l.col == nil {
		l.col = map[string]int{}
		for i, h := range rec {
			l.col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
		}
		for _, h := range []string{"md5", "sha1"} {
			if _, ok := l.col[h]; !ok {
				return Entry{}, fatalError{l.perr(h, malformed("ICSE header lacks %s", h))}
			}
		}
		return l.Next()
	}
	e := Entry{Category: Uncategorised}
	var err error
	set := func(name string, f func(string) error) {
		if err == nil {
			if ferr := f(l.field(rec, strings.ToLower(name))); ferr != nil {
				err = l.perr(name, ferr)
			}
		}
	}
	set("MD5", func(s string) (e2 error) { e.MD5, e2 = normHex(s, 32, "MD5"); return })
	set("SHA1", func(s string) (e2 error) { e.SHA1, e2 = normHex(s, 40, "SHA1"); return })
	set("PhotoDNA", func(s string) error { e.PhotoDNA = s; return nil })
	set("Image ID", func(s string) error { e.MediaID = s; return nil })
	set("Is distributed", func(s string) (e2 error) { e.Distributed, e2 = parseFlag(s); return })
	set("Victim identified", func(s string) (e2 error) { e.VictimIdentified, e2 = parseFlag(s); return })
	set("Offender identified", func(s string) (e2 error) { e.OffenderIdentified, e2 = parseFlag(s); return })
	set("Series name", func(s string) error { e.Series = s; return nil })
	set("Number of submissions", func(s string) (e2 error) {
		if s != "" {
			e.Submissions, e2 = strconv.Atoi(s)
			if e2 != nil {
				e2 = malformed("not a number: %q", s)
			}
		}
		return
	})
	set("File Available", func(s string) (e2 error) { e.FileAvailable, e2 = parseFlag(s); return })
	set("Media Type", func(s string) error { e.MediaType = s; return nil })
	set("Baseline", func(s string) (e2 error) { e.Baseline, e2 = parseFlag(s); return })
	if err == nil && !e.HasHash() {
		err = l.perr("MD5", malformed("row has neither MD5 nor SHA1"))
	}
	return e, err
}

// ICSEWriter writes ICSE CSV.
type ICSEWriter struct{ w *csv.Writer }

// NewICSEWriter writes the header and returns the writer.
func NewICSEWriter(w io.Writer) (*ICSEWriter, error) {
	cw := csv.NewWriter(w)
	cw.Comma = ';'
	return &ICSEWriter{cw}, cw.Write(ICSEHeader)
}

// Write writes a row; entries with neither MD5 nor SHA-1 cannot be
// expressed in ICSE CSV and are left out.
func (iw *ICSEWriter) Write(e Entry) error {
	if e.MD5 == "" && e.SHA1 == "" {
		return nil
	}
	sub := ""
	if e.Submissions != 0 {
		sub = strconv.Itoa(e.Submissions)
	}
	return iw.w.Write([]string{strings.ToUpper(e.MD5), strings.ToUpper(e.SHA1), e.PhotoDNA, e.MediaID,
		formatFlag(e.Distributed, "Yes", "No"), formatFlag(e.VictimIdentified, "Yes", "No"),
		formatFlag(e.OffenderIdentified, "Yes", "No"), e.Series, sub,
		formatFlag(e.FileAvailable, "Yes", "No"), e.MediaType, formatFlag(e.Baseline, "Yes", "No")})
}

func (iw *ICSEWriter) Close() error { iw.w.Flush(); return iw.w.Error() }

// NewPlainReader reads a plain hash list: CSV or TSV (by the first line) with
// a header naming any of md5, sha1, sha256, pdq, quality, label, category,
// series; or one hash per line without a header, its type taken from its
// length (32 MD5, 40 SHA-1, 64 SHA-256), as md5sum and its kin print them.
func NewPlainReader(r io.Reader, file string) Reader {
	br := bufio.NewReaderSize(r, 1<<16)
	first, _ := br.Peek(4096)
	comma := ','
	if i := strings.IndexByte(string(first), '\n'); i >= 0 && strings.Contains(string(first[:i]), "\t") {
		comma = '\t'
	} else if i < 0 && strings.Contains(string(first), "\t") {
		comma = '\t'
	}
	l := newLineReader(br, file, comma)
	l.parse = parsePlain
	return l
}

var plainColumns = []string{"md5", "sha1", "sha256", "pdq", "quality", "label", "name", "category", "series"}

func parsePlain(l *lineReader, rec []string) (Entry, error) {
	if l.col == nil {
		l.col = map[string]int{}
		isHeader := false
		for i, h := range rec {
			h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
			for _, c := range plainColumns {
				if h == c || h == strings.ReplaceAll(c, "sha", "sha-") {
					l.col[c] = i
					isHeader = true
				}
			}
		}
		if isHeader {
			return l.Next()
		}
		l.col["bare"] = 0
	}
	e := Entry{Category: Uncategorised}
	if _, bare := l.col["bare"]; bare {
		// md5sum/sha1sum/sha256sum lines: "HASH  name" ("*name" in binary mode).
		fields := strings.Fields(rec[0])
		if len(fields) == 0 {
			return l.Next()
		}
		s := fields[0]
		if len(rec) == 1 && len(fields) > 1 {
			rec = []string{s, strings.TrimPrefix(strings.Join(fields[1:], " "), "*")}
		}
		var err error
		switch len(s) {
		case 32:
			e.MD5, err = normHex(s, 32, "md5")
		case 40:
			e.SHA1, err = normHex(s, 40, "sha1")
		case 64:
			e.SHA256, err = normHex(s, 64, "sha256")
		default:
			err = malformed("%d characters is not an MD5, SHA-1 or SHA-256", len(s))
		}
		if err != nil {
			return Entry{}, l.perr("hash", err)
		}
		if len(rec) > 1 {
			e.Label = strings.TrimSpace(rec[1])
		}
		return e, nil
	}
	var err error
	if e.MD5, err = normHex(l.field(rec, "md5"), 32, "md5"); err != nil {
		return Entry{}, l.perr("md5", err)
	}
	if e.SHA1, err = normHex(l.field(rec, "sha1"), 40, "sha1"); err != nil {
		return Entry{}, l.perr("sha1", err)
	}
	if e.SHA256, err = normHex(l.field(rec, "sha256"), 64, "sha256"); err != nil {
		return Entry{}, l.perr("sha256", err)
	}
	if s := l.field(rec, "pdq"); s != "" {
		h, err := pdq.ParseHex(s)
		if err != nil {
			return Entry{}, l.perr("pdq", malformed("%v", err))
		}
		e.PDQ = &h
	}
	if s := l.field(rec, "quality"); s != "" {
		q, err := strconv.Atoi(s)
		if err != nil || q < 0 || q > 100 {
			return Entry{}, l.perr("quality", malformed("quality %q is not 0-100", s))
		}
		e.Quality = &q
	}
	if e.Category, err = parseCategory(l.field(rec, "category")); err != nil {
		return Entry{}, l.perr("category", err)
	}
	e.Label = l.field(rec, "label")
	if e.Label == "" {
		e.Label = l.field(rec, "name")
	}
	e.Series = l.field(rec, "series")
	if !e.HasHash() {
		return Entry{}, l.perr("", malformed("row has no hash"))
	}
	return e, nil
}

// PlainWriter writes CSV with the columns md5, sha1, sha256, pdq, quality,
// category, series, label.
type PlainWriter struct{ w *csv.Writer }

func NewPlainWriter(w io.Writer) (*PlainWriter, error) {
	cw := csv.NewWriter(w)
	return &PlainWriter{cw}, cw.Write([]string{"md5", "sha1", "sha256", "pdq", "quality", "category", "series", "label"})
}

func (p *PlainWriter) Write(e Entry) error {
	var h, q, c string
	if e.PDQ != nil {
		h = e.PDQ.String()
	}
	if e.Quality != nil {
		q = strconv.Itoa(*e.Quality)
	}
	if e.Category != Uncategorised {
		c = strconv.Itoa(int(e.Category))
	}
	return p.w.Write([]string{e.MD5, e.SHA1, e.SHA256, h, q, c, e.Series, e.Label})
}

func (p *PlainWriter) Close() error { p.w.Flush(); return p.w.Error() }

// NewPDQReader reads Meta's PDQ lines: "hash,quality,name" (quality and
// name optional), as pdq-photo-hasher prints them.
func NewPDQReader(r io.Reader, file string) Reader {
	l := newLineReader(r, file, ',')
	l.parse = func(l *lineReader, rec []string) (Entry, error) {
		h, err := pdq.ParseHex(strings.TrimSpace(rec[0]))
		if err != nil {
			return Entry{}, l.perr("hash", malformed("%v", err))
		}
		e := Entry{Category: Uncategorised, PDQ: &h}
		if len(rec) > 1 {
			q, err := strconv.Atoi(strings.TrimSpace(rec[1]))
			if err != nil || q < 0 || q > 100 {
				return Entry{}, l.perr("quality", malformed("quality %q is not 0-100", rec[1]))
			}
			e.Quality = &q
		}
		if len(rec) > 2 {
			e.Label = strings.TrimSpace(strings.Join(rec[2:], ","))
		}
		return e, nil
	}
	return l
}

// PDQWriter writes "hash,quality,name" lines; entries without PDQ are skipped.
type PDQWriter struct{ w *bufio.Writer }

func NewPDQWriter(w io.Writer) *PDQWriter { return &PDQWriter{bufio.NewWriter(w)} }

func (p *PDQWriter) Write(e Entry) error {
	if e.PDQ == nil {
		return nil
	}
	q := 0
	if e.Quality != nil {
		q = *e.Quality
	}
	name := e.Label
	if name == "" {
		name = e.MediaID
	}
	_, err := fmt.Fprintf(p.w, "%s,%d,%s\n", e.PDQ, q, name)
	return err
}

func (p *PDQWriter) Close() error { return p.w.Flush() }
