// Package vpdq hashes videos with Meta's vPDQ (PDQ over sampled frames,
// decoded by the ffmpeg program), reads and writes vPDQ files, and matches
// videos by the share of their frames that have a near-identical twin.
package vpdq

import (
	"fmt"

	"github.com/ivid-project/ivid/internal/pdq"
)

// Frame is the PDQ hash of one decoded frame.
type Frame struct {
	// Number is the frame's index in decode-output order, from 0.
	Number  int
	Quality int
	Hash    pdq.Hash
	// Timestamp is Number / frame rate in seconds, computed in float32 as
	// the reference does; it is not the frame's presentation time.
	Timestamp float64
	// Dihedral holds the frame's eight rotation and flip hashes when they
	// were asked for; it is not written out.
	Dihedral *pdq.Dihedral
}

// String formats a frame as one line of the reference CLI's output.
func (f Frame) String() string {
	return fmt.Sprintf("%d,%d,%s,%.3f", f.Number, f.Quality, f.Hash, f.Timestamp)
}

// MarshalText writes the reference CLI line, so that a []Frame is a JSON
// list of lines.
func (f Frame) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText reads a reference CLI line.
func (f *Frame) UnmarshalText(b []byte) error {
	g, err := parseLine(string(b))
	if err != nil {
		return err
	}
	*f = g
	return nil
}
