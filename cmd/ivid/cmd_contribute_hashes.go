package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ivid-project/ivid/internal/client"
	"github.com/ivid-project/ivid/internal/hashset"
)

// runContributeHashes sends hash lists to a case, o.listBatch entries a
// request, resuming each list after the entries the journal says the
// server committed.
func runContributeHashes(ctx context.Context, o contributeOptions, lists []string, stdout, stderr io.Writer) error {
	done := map[string]int{} // list -> entries committed
	if f, err := os.Open(o.journal); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var l journalLine
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Status == "list" {
				done[l.Path] = max(done[l.Path], l.Entries)
			}
		}
		f.Close()
	}
	jf, err := os.OpenFile(o.journal, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer jf.Close()
	c := &client.Client{Base: o.server, Token: o.token}
	var sent, created, skipped, failed int
	var stop error
	for _, path := range lists {
		if stop != nil || ctx.Err() != nil {
			break
		}
		abs, _ := filepath.Abs(path)
		// The whole list is read and checked before anything is sent, so
		// that a malformed one sends nothing; then read again and sent a
		// part at a time, so that only a part is held in memory.
		// The check also names the list to the server by its content:
		// entries of a list sent again to the same case, whether a lost
		// answer's request was repeated or the list was given twice, add
		// no second submission.
		sum := sha256.New()
		n, err := readList(path, sum, func(hashset.Entry) error { return nil })
		key := "list-sha256:" + hex.EncodeToString(sum.Sum(nil))
		if err != nil {
			failed++
			fmt.Fprintf(stderr, "ivid: %s: %v\n", path, err)
			continue
		}
		from := min(done[abs], n)
		skipped += from
		var part []hashset.Entry
		send := func() error {
			r, err := contributeListPart(ctx, c, o, part, key, from, stderr)
			part = part[:0]
			if r.Items > 0 {
				from += r.Items
				sent += r.Items
				created += r.New
				b, _ := json.Marshal(journalLine{Path: abs, Status: "list", Entries: from})
				jf.Write(append(b, '\n'))
				if !o.quiet {
					fmt.Fprintf(stdout, "%s: entries to %d of %d committed: %d new, %d known\n", path, from, n, r.New, r.Items-r.New)
				}
			}
			return err
		}
		i := 0
		_, err = readList(path, nil, func(e hashset.Entry) error {
			if i++; i <= from {
				return nil
			}
			if part = append(part, e); len(part) == o.listBatch {
				return send()
			}
			return ctx.Err()
		})
		if err == nil && len(part) > 0 {
			err = send()
		}
		if err != nil {
			failed += n - from
			fmt.Fprintf(stderr, "ivid: %s: %d entries not committed: %v\n", path, n-from, err)
			stop = err
		}
	}
	jf.Sync()
	fmt.Fprintf(stderr, "ivid contribute: %d entries committed (%d new items), %d already sent, %d failed\n", sent, created, skipped, failed)
	switch {
	case errors.Is(stop, client.ErrFatal):
		return stop
	case ctx.Err() != nil:
		return ctx.Err()
	case failed > 0:
		return partialError{failed}
	}
	return nil
}

// readList reads the hash list at path in full, strictly, and returns its
// entries' number; every byte of the file goes to digest, if not nil.
func readList(path string, digest io.Writer, fn func(hashset.Entry) error) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var r io.Reader = f
	if digest != nil {
		r = io.TeeReader(f, digest)
	}
	h, rd, err := hashset.OpenReader(r, path, hashset.FormatAuto)
	if errors.Is(err, hashset.ErrDatabaseSet) || (err == nil && h.Kind == hashset.KnownGood) {
		return 0, fmt.Errorf("a known-good set (NSRL) is not contributed")
	}
	if err != nil {
		return 0, err
	}
	st, err := hashset.ReadAll(rd, true, fn)
	if err == nil && digest != nil {
		_, err = io.Copy(io.Discard, r) // what follows the last entry
	}
	return st.Read, err
}

// contributeListPart sends part, entry first of the list key names on,
// and again after a broken connection or a server error (1 s, 2 s, 4 s…,
// --retries times) what the server's answer did not cover; the server
// adds nothing for what it committed before an answer was lost. It
// returns what was committed in all.
func contributeListPart(ctx context.Context, c *client.Client, o contributeOptions, part []hashset.Entry, key string, first int, stderr io.Writer) (client.HashesResult, error) {
	var total client.HashesResult
	for attempt := 0; ; attempt++ {
		r, err := c.ContributeHashes(ctx, o.caseID, part, key, first)
		total.Items += r.Items
		total.New += r.New
		part, first = part[r.Items:], first+r.Items
		if err == nil || len(part) == 0 {
			return total, nil
		}
		if !client.Temporary(err) || attempt == o.retries || ctx.Err() != nil {
			return total, err
		}
		wait := time.Second << attempt
		fmt.Fprintf(stderr, "ivid: %d entries not committed: %v; sending them again in %v\n", len(part), err, wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
	}
}
