// Package audit defines ivid's tamper-evident audit trail: each record
// carries the SHA-256 of the one before, so that an edited, removed or
// reordered record breaks the chain at a place Verify names.
package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"
)

// Record is one audited event. Detail holds IDs and facts, never secrets,
// file names or case contents.
type Record struct {
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	UserID   int64     `json:"user_id,omitempty"`
	AgencyID int64     `json:"agency_id,omitempty"`
	Action   string    `json:"action"` // e.g. login, media.read, case.create, export.baseline
	Object   string    `json:"object,omitempty"`
	Detail   string    `json:"detail,omitempty"`
	Prev     string    `json:"prev"`
	Hash     string    `json:"hash"`
}

// Genesis is the Prev of the first record.
var Genesis = hex.EncodeToString(make([]byte, 32))

// Sum computes a record's hash over every field but Hash, each
// length-prefixed so that no two records encode alike.
func (r *Record) Sum() string {
	h := sha256.New()
	var b [8]byte
	put := func(s string) {
		binary.BigEndian.PutUint64(b[:], uint64(len(s)))
		h.Write(b[:])
		h.Write([]byte(s))
	}
	binary.BigEndian.PutUint64(b[:], uint64(r.Seq))
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], uint64(r.Time.UnixMicro()))
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], uint64(r.UserID))
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], uint64(r.AgencyID))
	h.Write(b[:])
	put(r.Action)
	put(r.Object)
	put(r.Detail)
	put(r.Prev)
	return hex.EncodeToString(h.Sum(nil))
}

// Link makes r the record after prev (nil for the first): it sets Seq,
// Prev and Hash. Times are kept to the microsecond, as stored.
func Link(prev *Record, r Record) Record {
	r.Seq, r.Prev = 1, Genesis
	if prev != nil {
		r.Seq, r.Prev = prev.Seq+1, prev.Hash
	}
	r.Time = r.Time.UTC().Truncate(time.Microsecond)
	r.Hash = r.Sum()
	return r
}

// BreakError says where the chain breaks and how.
type BreakError struct {
	Seq    int64 // the record at which the break is seen
	Reason string
}

func (e *BreakError) Error() string { return fmt.Sprintf("audit record %d: %s", e.Seq, e.Reason) }

// Verifier checks records fed in stored order.
type Verifier struct {
	prev  *Record
	Count int64
}

// Next checks one record against the one before.
func (v *Verifier) Next(r Record) error {
	want := int64(1)
	prevHash := Genesis
	if v.prev != nil {
		want, prevHash = v.prev.Seq+1, v.prev.Hash
	}
	switch {
	case r.Sum() != r.Hash:
		return &BreakError{r.Seq, "edited: its content does not match its hash"}
	case r.Seq < want:
		return &BreakError{r.Seq, fmt.Sprintf("out of order: comes after record %d", want-1)}
	case r.Seq > want:
		return &BreakError{r.Seq, fmt.Sprintf("records %d to %d missing here: removed or moved", want, r.Seq-1)}
	case r.Prev != prevHash:
		return &BreakError{r.Seq, fmt.Sprintf("does not follow record %d: moved, or record %d was replaced", want-1, want-1)}
	}
	cp := r
	v.prev = &cp
	v.Count++
	return nil
}

// End checks that the chain ends at the head recorded apart from it, so
// that cutting records off the end is seen too.
func (v *Verifier) End(headSeq int64, headHash string) error {
	last, hash := int64(0), Genesis
	if v.prev != nil {
		last, hash = v.prev.Seq, v.prev.Hash
	}
	switch {
	case headSeq > last:
		return &BreakError{last + 1, fmt.Sprintf("records %d to %d removed from the end", last+1, headSeq)}
	case headSeq < last || hash != headHash:
		return &BreakError{last, "the recorded head does not match the last record"}
	}
	return nil
}
