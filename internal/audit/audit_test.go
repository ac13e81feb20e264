package audit

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func chain(n int) []Record {
	var out []Record
	var prev *Record
	t0 := time.Date(2026, 11, 28, 9, 0, 0, 123456789, time.UTC)
	for i := range n {
		r := Link(prev, Record{Time: t0.Add(time.Duration(i) * time.Second), UserID: int64(i%3 + 1), AgencyID: 2, Action: "media.read", Object: fmt.Sprintf("media/%d", i)})
		out = append(out, r)
		prev = &out[len(out)-1]
	}
	return out
}

func verify(rs []Record, headSeq int64, headHash string) error {
	var v Verifier
	for _, r := range rs {
		if err := v.Next(r); err != nil {
			return err
		}
	}
	return v.End(headSeq, headHash)
}

func TestVerify(t *testing.T) {
	good := chain(10)
	head := good[9]
	if err := verify(good, head.Seq, head.Hash); err != nil {
		t.Fatalf("intact chain: %v", err)
	}
	for _, c := range []struct {
		name   string
		damage func([]Record) []Record
		seq    int64
		reason string
	}{
		{"edited", func(r []Record) []Record { r[4].Object = "media/999"; return r }, 5, "edited"},
		{"edited and rehashed", func(r []Record) []Record { r[4].Object = "media/999"; r[4].Hash = r[4].Sum(); return r }, 6, "does not follow record 5"},
		{"removed", func(r []Record) []Record { return append(r[:3], r[4:]...) }, 5, "records 4 to 4 missing here"},
		{"reordered", func(r []Record) []Record { r[2], r[3] = r[3], r[2]; return r }, 4, "records 3 to 3 missing here: removed or moved"},
		{"cut off the end", func(r []Record) []Record { return r[:7] }, 8, "removed from the end"},
		{"first replaced", func(r []Record) []Record { r[0].Prev = strings.Repeat("1", 64); r[0].Hash = r[0].Sum(); return r }, 1, "does not follow record 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs := c.damage(append([]Record(nil), good...))
			err := verify(rs, head.Seq, head.Hash)
			var be *BreakError
			if !errors.As(err, &be) || be.Seq != c.seq || !strings.Contains(be.Reason, c.reason) {
				t.Fatalf("got %v, want a break at %d (%s)", err, c.seq, c.reason)
			}
		})
	}
}
