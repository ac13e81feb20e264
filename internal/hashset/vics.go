package hashset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/ivid-project/ivid/internal/pdq"
)

// VICS JSON (Project VIC). Version 1.x files name their schema in
// "odata.metadata", 2.0 files in "@odata.context"; the payload is "value", an
// array of Cases (each with a "Media" array) or, in 2.0, of Media directly.
// The reader streams: it never holds more than one Media object.

type vicsReader struct {
	file   string
	dec    *json.Decoder
	cases  bool
	inCase bool // inside a Case's Media array
	caseID json.RawMessage
	done   bool
	opened bool
	err    error
}

// NewVICSReader returns a streaming reader of a VICS JSON document.
func NewVICSReader(r io.Reader, file string) Reader {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<16))
	dec.UseNumber()
	return &vicsReader{file: file, dec: dec}
}

func (v *vicsReader) perr(field string, err error) error {
	return &ParseError{File: v.file, Offset: v.dec.InputOffset(), Field: field, Err: err}
}

func (v *vicsReader) fatal(err error) error {
	v.err = fatalError{v.perr("", err)}
	return v.err
}

// open reads up to the first element of "value".
func (v *vicsReader) open() error {
	t, err := v.dec.Token()
	if err != nil || t != json.Delim('{') {
		return v.fatal(malformed("not a VICS JSON document (want an object): %v", errOr(err, t)))
	}
	for v.dec.More() {
		t, err := v.dec.Token()
		if err != nil {
			return v.fatal(malformed("%v", err))
		}
		key, _ := t.(string)
		switch key {
		case "odata.metadata", "@odata.context":
			var ctx string
			if err := v.dec.Decode(&ctx); err != nil {
				return v.fatal(malformed("%s: %v", key, err))
			}
			v.cases = strings.HasSuffix(ctx, "#Cases")
		case "value":
			t, err := v.dec.Token()
			if err != nil || t != json.Delim('[') {
				return v.fatal(malformed("value must be an array"))
			}
			return nil
		default:
			var skip json.RawMessage
			if err := v.dec.Decode(&skip); err != nil {
				return v.fatal(malformed("%s: %v", key, err))
			}
		}
	}
	return v.fatal(malformed("no \"value\" array"))
}

func errOr(err error, t json.Token) any {
	if err != nil {
		return err
	}
	return t
}

type fatalError struct{ error }

func (f fatalError) Unwrap() error { return f.error }

func (v *vicsReader) Next() (Entry, error) {
	if v.err != nil {
		return Entry{}, v.err
	}
	if v.done {
		return Entry{}, io.EOF
	}
	if !v.opened {
		v.opened = true
		if err := v.open(); err != nil {
			return Entry{}, err
		}
	}
	for {
		if v.inCase {
			if v.dec.More() {
				return v.media()
			}
			// End of this case's Media array: skip the case's other fields.
			if _, err := v.dec.Token(); err != nil {
				return Entry{}, v.fatal(malformed("%v", err))
			}
			v.inCase = false
			for v.dec.More() {
				if _, err := v.dec.Token(); err != nil {
					return Entry{}, v.fatal(malformed("%v", err))
				}
				var skip json.RawMessage
				if err := v.dec.Decode(&skip); err != nil {
					return Entry{}, v.fatal(malformed("%v", err))
				}
			}
			if _, err := v.dec.Token(); err != nil { // '}'
				return Entry{}, v.fatal(malformed("%v", err))
			}
			continue
		}
		if !v.dec.More() {
			v.done = true
			return Entry{}, io.EOF
		}
		if !v.cases {
			return v.media()
		}
		if err := v.enterCase(); err != nil {
			return Entry{}, err
		}
	}
}

// enterCase reads a Case's fields up to its Media array.
func (v *vicsReader) enterCase() error {
	if t, err := v.dec.Token(); err != nil || t != json.Delim('{') {
		return v.fatal(malformed("a Case must be an object"))
	}
	v.caseID = nil
	for v.dec.More() {
		t, err := v.dec.Token()
		if err != nil {
			return v.fatal(malformed("%v", err))
		}
		key, _ := t.(string)
		if strings.EqualFold(key, "Media") {
			if t, err := v.dec.Token(); err != nil || t != json.Delim('[') {
				return v.fatal(malformed("Media must be an array"))
			}
			v.inCase = true
			return nil
		}
		var raw json.RawMessage
		if err := v.dec.Decode(&raw); err != nil {
			return v.fatal(malformed("%s: %v", key, err))
		}
		if strings.EqualFold(key, "CaseID") {
			v.caseID = raw
		}
	}
	if _, err := v.dec.Token(); err != nil {
		return v.fatal(malformed("%v", err))
	}
	v.inCase = false
	return nil // a Case without Media
}

func (v *vicsReader) media() (Entry, error) {
	var raw map[string]json.RawMessage
	if err := v.dec.Decode(&raw); err != nil {
		return Entry{}, v.fatal(malformed("Media object: %v", err))
	}
	if v.caseID != nil {
		if _, ok := raw["CaseID"]; !ok {
			raw["CaseID"] = v.caseID
		}
	}
	return v.entry(raw)
}

// vicsFields maps VICS field names (any case) to entry fields.
var vicsFields = []string{"MD5", "SHA1", "SHA256", "PhotoDNA", "Category", "Series", "VictimIdentified",
	"OffenderIdentified", "IsDistributed", "Baseline", "MediaID", "MediaType", "NumberOfSubmissions",
	"FileAvailable", "PDQ", "PDQQuality"}

func (v *vicsReader) entry(raw map[string]json.RawMessage) (Entry, error) {
	e := Entry{Category: Uncategorised}
	for key, val := range raw {
		name := ""
		for _, f := range vicsFields {
			if strings.EqualFold(key, f) {
				name = f
			}
		}
		if name == "" {
			if e.Extra == nil {
				e.Extra = map[string]json.RawMessage{}
			}
			e.Extra[key] = val
			continue
		}
		s, isNull, err := scalar(val)
		if err != nil {
			return Entry{}, v.perr(key, err)
		}
		if isNull {
			continue
		}
		switch name {
		case "MD5":
			e.MD5, err = normHex(s, 32, key)
		case "SHA1":
			e.SHA1, err = normHex(s, 40, key)
		case "SHA256":
			e.SHA256, err = normHex(s, 64, key)
		case "PDQ":
			if s != "" {
				var h pdq.Hash
				h, err = pdq.ParseHex(s)
				e.PDQ = &h
			}
		case "PDQQuality":
			var q int
			q, err = strconv.Atoi(s)
			e.Quality = &q
		case "PhotoDNA":
			e.PhotoDNA = s
		case "Category":
			e.Category, err = parseCategory(s)
		case "Series":
			e.Series = s
		case "VictimIdentified":
			e.VictimIdentified, err = parseFlag(s)
		case "OffenderIdentified":
			e.OffenderIdentified, err = parseFlag(s)
		case "IsDistributed":
			e.Distributed, err = parseFlag(s)
		case "Baseline":
			e.Baseline, err = parseFlag(s)
		case "FileAvailable":
			e.FileAvailable, err = parseFlag(s)
		case "MediaID":
			e.MediaID = s
		case "MediaType":
			e.MediaType = s
		case "NumberOfSubmissions":
			if s != "" {
				e.Submissions, err = strconv.Atoi(s)
			}
		}
		if err != nil {
			return Entry{}, v.perr(key, err)
		}
	}
	return e, nil
}

// scalar reads a JSON string, number, boolean or null as text.
func scalar(val json.RawMessage) (string, bool, error) {
	val = bytes.TrimSpace(val)
	switch {
	case len(val) == 0 || string(val) == "null":
		return "", true, nil
	case val[0] == '"':
		var s string
		err := json.Unmarshal(val, &s)
		return s, false, err
	case val[0] == '{' || val[0] == '[':
		return "", false, malformed("object or array where a value was expected")
	}
	return string(val), false, nil
}

func parseCategory(s string) (Category, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "uncategorised") || strings.EqualFold(s, "uncategorized") {
		return Uncategorised, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 4 {
		return 0, malformed("category %q is not 0-4", s)
	}
	return Category(n), nil
}

// VICSWriter writes a VICS 2.0 document with the Media envelope.
type VICSWriter struct {
	w *bufio.Writer
	n int
}

// NewVICSWriter starts a VICS 2.0 document.
func NewVICSWriter(w io.Writer) *VICSWriter {
	return &VICSWriter{w: bufio.NewWriterSize(w, 1<<16)}
}

// VICSContext is the @odata.context ivid writes.
const VICSContext = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/ivid/$metadata#Media"

func (vw *VICSWriter) Write(e Entry) error {
	if vw.n == 0 {
		fmt.Fprintf(vw.w, "{\"@odata.context\":%q,\"value\":[\n", VICSContext)
	} else {
		vw.w.WriteString(",\n")
	}
	vw.n++
	m := map[string]any{}
	for k, v := range e.Extra {
		m[k] = v
	}
	put := func(k string, v any, ok bool) {
		if ok {
			m[k] = v
		}
	}
	mediaID := e.MediaID
	if mediaID == "" {
		mediaID = strconv.Itoa(vw.n)
	}
	if id, err := strconv.Atoi(mediaID); err == nil {
		m["MediaID"] = id
	} else {
		m["MediaID"] = mediaID
	}
	put("Category", int(e.Category), e.Category != Uncategorised)
	put("MD5", strings.ToUpper(e.MD5), e.MD5 != "")
	put("SHA1", strings.ToUpper(e.SHA1), e.SHA1 != "")
	put("SHA256", strings.ToUpper(e.SHA256), e.SHA256 != "")
	put("PhotoDNA", e.PhotoDNA, e.PhotoDNA != "")
	if e.PDQ != nil {
		m["PDQ"] = e.PDQ.String()
	}
	put("PDQQuality", e.Quality, e.Quality != nil)
	put("Series", e.Series, e.Series != "")
	put("VictimIdentified", e.VictimIdentified, e.VictimIdentified != nil)
	put("OffenderIdentified", e.OffenderIdentified, e.OffenderIdentified != nil)
	put("IsDistributed", e.Distributed, e.Distributed != nil)
	put("Baseline", e.Baseline, e.Baseline != nil)
	put("FileAvailable", e.FileAvailable, e.FileAvailable != nil)
	put("MediaType", e.MediaType, e.MediaType != "")
	put("NumberOfSubmissions", e.Submissions, e.Submissions != 0)
	// Stable key order keeps exports diffable.
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	vw.w.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			vw.w.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(m[k])
		if err != nil {
			return err
		}
		vw.w.Write(kb)
		vw.w.WriteByte(':')
		vw.w.Write(vb)
	}
	_, err := vw.w.WriteString("}")
	return err
}

// Close ends the document.
func (vw *VICSWriter) Close() error {
	if vw.n == 0 {
		fmt.Fprintf(vw.w, "{\"@odata.context\":%q,\"value\":[\n", VICSContext)
	}
	vw.w.WriteString("\n]}\n")
	return vw.w.Flush()
}
