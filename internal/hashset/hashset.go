// Package hashset reads and writes lists of known hashes (VICS JSON, ICSE
// CSV, plain lists, Meta's PDQ lines, NIST NSRL RDSv3) as streams of entries.
package hashset

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ivid-project/ivid/internal/pdq"
	"github.com/ivid-project/ivid/internal/vpdq"
)

// Category is a VICS category; Uncategorised is the zero value.
type Category int

const (
	Uncategorised Category = -1
	NonPertinent  Category = 0 // VICS 0
	CSAM          Category = 1 // VICS 1: child sexual abuse material
	Exploitative  Category = 2 // VICS 2: child-exploitative (not CSAM), age-difficult
	CGI           Category = 3 // VICS 3: CGI or animation
	Comparison    Category = 4 // VICS 4: comparison
)

// Entry is one known item. Empty strings and nil pointers mean "not given".
type Entry struct {
	MD5      string    `json:"md5,omitempty"`
	SHA1     string    `json:"sha1,omitempty"`
	SHA256   string    `json:"sha256,omitempty"`
	PDQ      *pdq.Hash `json:"pdq,omitempty"`
	Quality  *int      `json:"pdq_quality,omitempty"`
	PhotoDNA string    `json:"photodna,omitempty"` // carried, never computed
	// VPDQ is a video's frame hashes (ivid's own format and vPDQ files).
	VPDQ []vpdq.Frame `json:"vpdq,omitempty"`
	// Category is Uncategorised unless the source gives one.
	Category           Category `json:"category"`
	Series             string   `json:"series,omitempty"`
	VictimIdentified   *bool    `json:"victim_identified,omitempty"`
	OffenderIdentified *bool    `json:"offender_identified,omitempty"`
	Distributed        *bool    `json:"distributed,omitempty"`
	Baseline           *bool    `json:"baseline,omitempty"`
	FileAvailable      *bool    `json:"file_available,omitempty"`
	MediaID            string   `json:"media_id,omitempty"`
	MediaType          string   `json:"media_type,omitempty"`
	Submissions        int      `json:"submissions,omitempty"`
	Label              string   `json:"label,omitempty"`  // a name from plain lists
	Source             string   `json:"source,omitempty"` // set the entry came from
	// Extra keeps fields ivid does not model, so that a VICS round trip
	// loses nothing.
	Extra map[string]json.RawMessage `json:"extra,omitempty"`
}

// HasHash reports whether the entry carries at least one hash ivid matches on.
func (e *Entry) HasHash() bool {
	return e.MD5 != "" || e.SHA1 != "" || e.SHA256 != "" || e.PDQ != nil || len(e.VPDQ) > 0
}

// Kind says what a set's entries mean to a scan.
type Kind string

const (
	Known     Kind = "known"      // known material, with categories
	KnownGood Kind = "known-good" // operating-system and application files
)

// Header describes a set.
type Header struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Kind    Kind   `json:"kind"`
	Source  string `json:"source,omitempty"`
	Created string `json:"created,omitempty"`
	// PDQThreshold is the distance at or below which a PDQ match counts.
	PDQThreshold int `json:"pdq_threshold,omitempty"`
}

// ParseError locates a malformed record.
type ParseError struct {
	File   string
	Line   int   // 1-based, for line formats
	Offset int64 // byte offset, for JSON
	Field  string
	Err    error
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	} else {
		fmt.Fprintf(&b, ": offset %d", e.Offset)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": field %s", e.Field)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// ErrMalformed is wrapped by every ParseError's cause.
var ErrMalformed = errors.New("malformed")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// normHex lower-cases a hex digest and checks its length.
func normHex(s string, n int, field string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	if len(s) != n {
		return "", malformed("%s must be %d hex digits, got %d characters", field, n, len(s))
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", malformed("%s is not hexadecimal", field)
		}
	}
	return s, nil
}

// parseFlag reads the booleans of ICSE and VICS files: y/yes/t/true/1 and
// n/no/f/false/0, any case; empty means not given.
func parseFlag(s string) (*bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return nil, nil
	case "y", "yes", "t", "true", "1":
		v := true
		return &v, nil
	case "n", "no", "f", "false", "0":
		v := false
		return &v, nil
	}
	return nil, malformed("%q is not a yes/no flag", s)
}

func formatFlag(b *bool, yes, no string) string {
	switch {
	case b == nil:
		return ""
	case *b:
		return yes
	}
	return no
}
