package api

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ivid-project/ivid/internal/audit"
	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/ivid"
	"github.com/ivid-project/ivid/internal/media"
)

func isBreak(err error) bool {
	var be *audit.BreakError
	return errors.As(err, &be)
}

// contributeResult is one line of a contribution's response.
type contributeResult struct {
	// Part is the file's place in the upload, from 0: results come back
	// in the order they are committed, not always the upload's.
	Part       int              `json:"part"`
	File       string           `json:"file"`
	Comparison *ivid.Comparison `json:"comparison,omitempty"`
	Error      string           `json:"error,omitempty"`
	Status     int              `json:"status"`
}

// maxGroup bounds the items of one group commit.
const maxGroup = 64

// A group commit syncs the blob store and the database's log: a
// millisecond or two of waiting, and processor time in the kernel and in
// thread switches that slows the hashing beside it. So while every hasher
// has a part of the request to hash after the item ready, the answer waits
// for more, up to groupItems items or Options.GroupWait after the first:
// one sync then serves several, and acknowledgements come at most
// GroupWait later. With fewer parts coming (a slow upload, the request's
// end), a hasher is idle and the item is committed at once.
const groupItems = 8

// upload is a file part on its way through a contribution's pipeline.
type upload struct {
	part int
	file string
	key  string // the part's Idempotency-Key
	spooled
	hashed ivid.Hashed
	err    error
}

// spooled is a part's content: in memory, or in a file removed once the
// part is answered.
type spooled struct {
	data     []byte
	buf      *bytes.Buffer // holding data, back to spoolBufs when done
	path     string
	reserved int64 // of the server's memory budget
}

// spoolBufs recycles the buffers of parts held in memory.
var spoolBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// contribute streams a multipart upload through a pipeline: file parts are
// read in order, held in memory or spooled to disk (see spool); each is
// hashed as soon as a processor is free; whatever is hashed is committed as a
// group (its contents synced, then one database transaction), and each
// item's result is written back at once as a line of JSON. A client thus
// learns which items were acknowledged even if the connection breaks
// later, and the durable writes of one group overlap the hashing of the
// next files.
func (s *Server) contribute(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	caseID := ivid.CaseID(id)
	ctx := r.Context()
	if _, err := s.svc.Case(ctx, a, caseID); err != nil {
		return err
	}
	mr, err := multipartReader(r)
	if err != nil {
		return fmt.Errorf("%w: want multipart/form-data: %v", errBadRequest, err)
	}
	// Results go back while the body is still being read: HTTP/1.1 needs
	// full duplex for that.
	if err := http.NewResponseController(w).EnableFullDuplex(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	// The end of the body (a chunked body's last chunk, say) may come
	// after the last part. Left to net/http, it is read once the handler
	// has returned, and in full duplex that read can overlap the wait for
	// the next request (golang/go#68560): the server panics and drops the
	// connection, and the client's next request on it fails. Closing the
	// body here reads it to its end first (up to net/http's limit; beyond
	// it, the connection is closed after the answer).
	defer r.Body.Close()
	w.Header().Set("Content-Type", "application/x-ndjson")

	// Parts spooled and not yet answered, per request: reading the body
	// stops while the pipeline is full. It holds a gathering group and
	// the parts hashed meanwhile.
	window := make(chan struct{}, 2*cap(s.hashSlots)+2+groupItems)
	ready := make(chan *upload, cap(window))
	// Parts in the window and not yet ready (see groupItems).
	var coming atomic.Int64
	toAnswer := func(u *upload) {
		coming.Add(-1)
		ready <- u
	}
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		s.answer(w, r, a, caseID, ready, window, &coming)
	}()

	var hashing sync.WaitGroup
	finish := func() {
		hashing.Wait()
		close(ready)
		<-answered
	}
	n := 0
	nextKey := "" // from an idempotency_key field, for the next file
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			// A truncated or malformed body: what was acknowledged stands.
			if n == 0 {
				finish()
				return fmt.Errorf("%w: multipart body: %v", errBadRequest, err)
			}
			window <- struct{}{}
			coming.Add(1)
			toAnswer(&upload{part: n, err: fmt.Errorf("%w: multipart body cut short: %v", errBadRequest, err)})
			break
		}
		name := part.FileName()
		if name == "" {
			// A browser's form cannot give a part headers: a field
			// idempotency_key gives the next file's key instead.
			if part.FormName() == "idempotency_key" {
				b, _ := io.ReadAll(io.LimitReader(part, 2*ivid.MaxRequestKey))
				nextKey = string(b)
			}
			part.Close()
			continue
		}
		u := &upload{part: n, file: filepath.Base(name), key: cmp.Or(part.Header.Get("Idempotency-Key"), nextKey)}
		nextKey = ""
		n++
		window <- struct{}{}
		coming.Add(1)
		if u.key, u.err = requestKey(u.key); u.err != nil {
			part.Close()
			toAnswer(u)
			continue
		}
		u.spooled, u.err = s.spool(part)
		part.Close()
		if u.err != nil {
			toAnswer(u)
			if errors.Is(u.err, errTruncated) || ctx.Err() != nil {
				break
			}
			continue
		}
		hashing.Go(func() {
			defer toAnswer(u)
			// Off the handler's goroutine, so out of recoverAndLog's reach:
			// a decoder's panic must fail the file, not the server.
			defer s.recoverInto(r, &u.err)
			select {
			case s.hashSlots <- struct{}{}:
				defer func() { <-s.hashSlots }()
				if testHookHash != nil {
					testHookHash(u.file)
				}
				if u.data != nil {
					u.hashed, u.err = s.svc.HashUploadBytes(a, u.file, u.data)
				} else {
					u.hashed, u.err = s.svc.HashUpload(ctx, a, u.file, u.path)
				}
				u.hashed.Key = u.key
			case <-ctx.Done():
				u.err = ctx.Err()
			}
		})
	}
	finish()
	if n == 0 {
		return fmt.Errorf("%w: no file in the upload", errBadRequest)
	}
	return nil
}

// answer commits hashed uploads in groups (see groupItems) and writes each
// one's result. It is the only writer of the response.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, a ivid.Actor, caseID ivid.CaseID, ready chan *upload, window chan struct{}, coming *atomic.Int64) {
	enc := json.NewEncoder(w)
	rc := http.NewResponseController(w)
	emit := func(u *upload, res contributeResult) {
		s.unspool(u.spooled)
		res.Part, res.File = u.part, u.file
		enc.Encode(res)
		<-window
	}
	fail := func(u *upload, err error) {
		res := contributeResult{Error: err.Error(), Status: status(err)}
		if res.Status >= 500 {
			s.opts.Log.Error("contribute", "request_id", requestID(r), "err", err)
			res.Error = "internal error"
		}
		emit(u, res)
	}
	timer := time.NewTimer(s.opts.GroupWait)
	timer.Stop()
	for u := range ready {
		group := []*upload{u}
		timer.Reset(s.opts.GroupWait)
	more:
		for len(group) < maxGroup {
			select {
			case u, ok := <-ready:
				if !ok {
					break more
				}
				group = append(group, u)
				continue
			default:
			}
			if len(group) >= groupItems || coming.Load() < int64(cap(s.hashSlots)) {
				break
			}
			select {
			case u, ok := <-ready:
				if !ok {
					break more
				}
				group = append(group, u)
			case <-timer.C:
				break more
			}
		}
		timer.Stop()
		var ok []*upload
		var hashed []ivid.Hashed
		for _, u := range group {
			if u.err != nil {
				fail(u, u.err)
				continue
			}
			ok = append(ok, u)
			hashed = append(hashed, u.hashed)
		}
		if len(ok) > 0 {
			s.commits.Add(1)
			s.committed.Add(int64(len(ok)))
			for i, res := range s.commitGroup(r, a, caseID, hashed) {
				if res.Err != nil {
					fail(ok[i], res.Err)
					continue
				}
				c := res.Comparison
				emit(ok[i], contributeResult{Comparison: &c, Status: http.StatusOK})
			}
		}
		rc.Flush()
	}
}

// multipartReader is r.MultipartReader for form data only (it would take
// multipart/mixed too), over a body read in large blocks: the standard one
// reads it 4 kB at a time, a system call each, 60 for a 240 kB photo.
func multipartReader(r *http.Request) (*multipart.Reader, error) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "multipart/form-data" {
		return nil, http.ErrNotMultipart
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{bufio.NewReaderSize(r.Body, 128<<10), r.Body}
	return r.MultipartReader()
}

// commitGroup is CommitUploads with a panic turned into every item's
// error: the pipeline must go on answering, or the reader would wait for
// its window forever.
func (s *Server) commitGroup(r *http.Request, a ivid.Actor, caseID ivid.CaseID, hashed []ivid.Hashed) (out []ivid.Contributed) {
	var err error
	defer func() {
		if err != nil {
			out = make([]ivid.Contributed, len(hashed))
			for i := range out {
				out[i].Err = err
			}
		}
	}()
	defer s.recoverInto(r, &err)
	return s.svc.CommitUploads(r.Context(), a, caseID, hashed)
}

// recoverInto, deferred, turns a panic into *err and logs it with its stack.
func (s *Server) recoverInto(r *http.Request, err *error) {
	if p := recover(); p != nil {
		s.opts.Log.Error("panic", "request_id", requestID(r), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		*err = errors.New("internal error")
	}
}

// testHookHash, if set by a test, runs before each contributed file is
// hashed.
var testHookHash func(file string)

var errTruncated = fmt.Errorf("%w: upload cut short", errBadRequest)

// memSpool is the largest part held in memory rather than spooled to
// disk, and memBudget what all parts in memory may take together. Spooling
// to disk cost a write, two reads and an unlink a file, about 0.8 ms of
// processor for a 240 kB photo.
const (
	memSpool  = 16 << 20
	memBudget = 256 << 20
)

// spool reads a part, at most MaxUpload bytes, into memory if it is small
// enough, not a video (ffmpeg reads files) and the budget allows, and to a
// file of its own otherwise.
func (s *Server) spool(part io.Reader) (sp spooled, err error) {
	head := make([]byte, media.SniffLen)
	n, err := io.ReadFull(part, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return sp, fmt.Errorf("%w: %v", errTruncated, err)
	}
	head = head[:n]
	limit := min(s.opts.MaxUpload, memSpool)
	inMemory := !media.IsVideo(media.Sniff(head))
	if inMemory && s.memUsed.Add(limit) > memBudget {
		s.memUsed.Add(-limit)
		inMemory = false
	}
	if inMemory {
		buf := spoolBufs.Get().(*bytes.Buffer)
		buf.Reset()
		buf.Write(head)
		sp.reserved, sp.buf = limit, buf
		if _, err := buf.ReadFrom(io.LimitReader(part, limit+1-int64(n))); err != nil {
			s.unspool(sp)
			return spooled{}, fmt.Errorf("%w: %v", errTruncated, err)
		}
		if int64(buf.Len()) <= limit {
			sp.data = buf.Bytes()
			return sp, nil
		}
		// Larger than memory takes: on to disk, with what was read.
		s.memUsed.Add(-limit)
		sp = spooled{}
		defer spoolBufs.Put(buf)
		part = io.MultiReader(buf, part)
	} else {
		part = io.MultiReader(bytes.NewReader(head), part)
	}
	f, err := os.CreateTemp(s.opts.SpoolDir, "upload-*")
	if err != nil {
		return sp, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	size, err := io.Copy(f, io.LimitReader(part, s.opts.MaxUpload+1))
	if err != nil {
		return sp, fmt.Errorf("%w: %v", errTruncated, err)
	}
	if size > s.opts.MaxUpload {
		return sp, &http.MaxBytesError{Limit: s.opts.MaxUpload}
	}
	return spooled{path: f.Name()}, f.Close()
}

// unspool gives back a spooled part's memory or removes its file.
func (s *Server) unspool(sp spooled) {
	if sp.path != "" {
		os.Remove(sp.path)
	}
	if sp.reserved != 0 {
		s.memUsed.Add(-sp.reserved)
	}
	if sp.buf != nil {
		spoolBufs.Put(sp.buf)
	}
}

// requestKey checks an Idempotency-Key header's value (a structured-field
// string, quoted or not) and returns it unquoted; "" if there is none.
func requestKey(v string) (string, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if len(v) > ivid.MaxRequestKey || strings.ContainsFunc(v, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		return "", fmt.Errorf("%w: Idempotency-Key: 1 to %d visible ASCII characters", errBadRequest, ivid.MaxRequestKey)
	}
	return v, nil
}

// entryKeys reads a hash list request's Idempotency-Key header and its
// first parameter, the place of its first entry in the list the key
// names.
func entryKeys(r *http.Request) (ivid.EntryKeys, error) {
	var k ivid.EntryKeys
	key, err := requestKey(r.Header.Get("Idempotency-Key"))
	if err != nil {
		return k, err
	}
	if key == "" {
		if r.URL.Query().Has("first") {
			return k, fmt.Errorf("%w: first is given without an Idempotency-Key", errBadRequest)
		}
		return k, nil
	}
	k.Prefix = key
	if v := r.URL.Query().Get("first"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1<<40 {
			return k, fmt.Errorf("%w: first: the place of the request's first entry in the list, 0 or more", errBadRequest)
		}
		k.First = n
	}
	return k, nil
}

// contributeHashes takes a VICS JSON, ICSE CSV, plain CSV or ivid hash
// list body (detected), at most 256 MiB, and contributes its entries; a
// malformed list is refused whole.
func (s *Server) contributeHashes(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.svc.Case(r.Context(), a, ivid.CaseID(id)); err != nil {
		return err
	}
	keys, err := entryKeys(r)
	if err != nil {
		return err
	}
	body := http.MaxBytesReader(w, r.Body, 256<<20)
	br := bufio.NewReaderSize(body, 1<<16)
	head, _ := br.Peek(4096)
	format := hashset.Detect(head)
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "text/csv" && !strings.HasPrefix(strings.ToUpper(string(head)), "MD5;SHA1") {
		format = hashset.FormatCSV
	}
	var rd hashset.Reader
	switch format {
	case hashset.FormatNative: // what 'ivid contribute --hashes' sends
		if _, rd, err = hashset.NewNativeReader(br, "upload"); err != nil {
			return fmt.Errorf("%w: %v", errBadRequest, err)
		}
	case hashset.FormatVICS:
		rd = hashset.NewVICSReader(br, "upload")
	case hashset.FormatICSE:
		rd = hashset.NewICSEReader(br, "upload")
	case hashset.FormatCSV:
		rd = hashset.NewPlainReader(br, "upload")
	default:
		return fmt.Errorf("%w: send VICS JSON, ICSE CSV, a CSV hash list or ivid's own format", errBadRequest)
	}
	var entries []hashset.Entry
	if _, err := hashset.ReadAll(rd, true, func(e hashset.Entry) error {
		if len(entries) >= 1_000_000 {
			return fmt.Errorf("%w: at most 1,000,000 entries a request", errBadRequest)
		}
		entries = append(entries, e)
		return nil
	}); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) || errors.Is(err, errBadRequest) {
			return err
		}
		return fmt.Errorf("%w: %v", errBadRequest, err)
	}
	// The answer is streamed a group at a time, so that a list of a
	// million entries is not held twice more in memory. Until the first
	// group commits, an error is an error status; after, the groups
	// before it stay, and the answer ends with it.
	n := 0
	err = s.svc.ContributeHashes(r.Context(), a, ivid.CaseID(id), entries, keys, func(cs []ivid.Comparison) error {
		if n == 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(200)
			if _, err := io.WriteString(w, `{"comparisons":[`); err != nil {
				return err
			}
		}
		for _, c := range cs {
			b, err := json.Marshal(c)
			if err != nil {
				return err
			}
			if n > 0 {
				b = append([]byte{','}, b...)
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if n == 0 {
		if err != nil {
			return err
		}
		return writeJSON(w, 200, map[string]any{"items": 0, "comparisons": []ivid.Comparison{}})
	}
	tail := fmt.Sprintf(`],"items":%d`, n)
	if err != nil && status(err) != 499 {
		p, _ := json.Marshal(s.problemOf(r, err))
		tail += `,"error":` + string(p)
	}
	_, werr := io.WriteString(w, tail+"}\n")
	return werr
}
