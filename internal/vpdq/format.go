package vpdq

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/ivid-project/ivid/internal/pdq"
)

// ErrMalformed is wrapped by every parse error of this package.
var ErrMalformed = errors.New("vpdq: malformed hash")

// ParseError locates a malformed line.
type ParseError struct {
	Line int // 1-based; 0 for the HMA list, where Item is set
	Item int // 1-based position in an HMA list
	Err  error
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("item %d: %v", e.Item, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

const maxFrameNumber = 1 << 40

// parseLine reads `frame,quality,hex,timestamp`.
func parseLine(s string) (Frame, error) {
	parts := strings.Split(strings.TrimSpace(s), ",")
	if len(parts) != 4 {
		return Frame{}, fmt.Errorf("%w: want frame,quality,hash,timestamp, got %d fields", ErrMalformed, len(parts))
	}
	n, err := strconv.Atoi(parts[0])
	if err != nil || n < 0 || n > maxFrameNumber {
		return Frame{}, fmt.Errorf("%w: frame number %q", ErrMalformed, parts[0])
	}
	f, err := parseHashQualityTime(parts[2], parts[1], parts[3])
	if err != nil {
		return Frame{}, err
	}
	f.Number = n
	return f, nil
}

func parseHashQualityTime(hexs, qs, ts string) (Frame, error) {
	h, err := pdq.ParseHex(hexs)
	if err != nil {
		return Frame{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	q, err := strconv.Atoi(qs)
	if err != nil || q < 0 || q > 100 {
		return Frame{}, fmt.Errorf("%w: quality %q is not 0-100", ErrMalformed, qs)
	}
	t, err := strconv.ParseFloat(ts, 64)
	if err != nil || t < 0 || math.IsInf(t, 0) || math.IsNaN(t) {
		return Frame{}, fmt.Errorf("%w: timestamp %q", ErrMalformed, ts)
	}
	return Frame{Quality: q, Hash: h, Timestamp: t}, nil
}

// ReadLines reads the reference CLI's format, one
// `frame,quality,hex,timestamp` line per frame. Blank lines are skipped.
func ReadLines(r io.Reader) ([]Frame, error) {
	var out []Frame
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 4096)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		f, err := parseLine(s)
		if err != nil {
			return nil, &ParseError{Line: line, Err: err}
		}
		out = append(out, f)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%w: line longer than 4096 bytes", ErrMalformed)
		}
		return nil, err
	}
	return out, nil
}

// WriteLines writes frames in the reference CLI's format.
func WriteLines(w io.Writer, frames []Frame) error {
	bw := bufio.NewWriter(w)
	for _, f := range frames {
		bw.WriteString(f.String())
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// ParseHMA reads the signal string of HMA and python-threatexchange: a JSON
// list of "hex,quality,timestamp" strings. An empty string is an empty list.
// Frame numbers are not carried; they are set to the position in the list.
func ParseHMA(s string) ([]Frame, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var items []string
	if err := json.Unmarshal([]byte(s), &items); err != nil {
		return nil, fmt.Errorf("%w: not a JSON list of strings: %v", ErrMalformed, err)
	}
	out := make([]Frame, 0, len(items))
	for i, it := range items {
		parts := strings.Split(it, ",")
		if len(parts) != 3 {
			return nil, &ParseError{Item: i + 1, Err: fmt.Errorf("%w: want hash,quality,timestamp, got %d fields", ErrMalformed, len(parts))}
		}
		f, err := parseHashQualityTime(strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1]), strings.TrimSpace(parts[2]))
		if err != nil {
			return nil, &ParseError{Item: i + 1, Err: err}
		}
		f.Number = i
		out = append(out, f)
	}
	return out, nil
}

// FormatHMA writes frames as HMA's signal string, with timestamps formatted
// as Python's f"{t:.3}" does, so that ivid's output equals HMA's byte for
// byte.
func FormatHMA(frames []Frame) string {
	items := make([]string, len(frames))
	for i, f := range frames {
		items[i] = f.Hash.String() + "," + strconv.Itoa(f.Quality) + "," + pyFormat3(f.Timestamp)
	}
	b, _ := json.Marshal(items)
	return string(b)
}

// pyFormat3 is Python's format(v, ".3"): three significant digits, general
// format, switching to scientific notation when the exponent is below -4 or
// at least 2 (precision - 1), and keeping one decimal in fixed notation.
func pyFormat3(v float64) string {
	const p = 3
	if v == 0 {
		return "0.0"
	}
	e := strconv.FormatFloat(v, 'e', p-1, 64) // d.dde±XX
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	if exp < -4 || exp >= p-1 {
		mant = strings.TrimRight(strings.TrimRight(mant, "0"), ".")
		sign := "+"
		if exp < 0 {
			sign, exp = "-", -exp
		}
		return fmt.Sprintf("%se%s%02d", mant, sign, exp)
	}
	s := strconv.FormatFloat(v, 'f', p-1-exp, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
		if strings.HasSuffix(s, ".") {
			s += "0"
		}
	} else {
		s += ".0"
	}
	return s
}
