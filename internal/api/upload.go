package api

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/ivid-project/ivid/internal/audit"
	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/ivid"
)

func isBreak(err error) bool {
	var be *audit.BreakError
	return errors.As(err, &be)
}

// contributeResult is one line of a contribution's response.
type contributeResult struct {
	File       string           `json:"file"`
	Comparison *ivid.Comparison `json:"comparison,omitempty"`
	Error      string           `json:"error,omitempty"`
	Status     int              `json:"status"`
}

// contribute streams a multipart upload: each file part is spooled to disk
// (never held in memory), hashed, stored and compared, and its result is
// written back at once as a line of JSON, so that a client knows which
// items were acknowledged even if the connection breaks later.
func (s *Server) contribute(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	caseID := ivid.CaseID(id)
	if _, err := s.svc.Case(r.Context(), a, caseID); err != nil {
		return err
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return fmt.Errorf("%w: want multipart/form-data: %v", errBadRequest, err)
	}
	// Results go back while the body is still being read: HTTP/1.1 needs
	// full duplex for that.
	if err := http.NewResponseController(w).EnableFullDuplex(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	started := false
	emit := func(res contributeResult) {
		if !started {
			w.WriteHeader(http.StatusOK)
			started = true
		}
		enc.Encode(res)
		flush()
	}
	n := 0
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			// A truncated or malformed body: what was acknowledged stands.
			if !started {
				return fmt.Errorf("%w: multipart body: %v", errBadRequest, err)
			}
			emit(contributeResult{Error: "multipart body cut short: " + err.Error(), Status: http.StatusBadRequest})
			return nil
		}
		name := part.FileName()
		if name == "" {
			part.Close()
			continue
		}
		n++
		res := contributeResult{File: filepath.Base(name)}
		c, err := s.contributePart(r, a, caseID, name, part)
		part.Close()
		if err != nil {
			res.Error, res.Status = err.Error(), status(err)
			if res.Status >= 500 {
				s.opts.Log.Error("contribute", "request_id", requestID(r), "err", err)
				res.Error = "internal error"
			}
			if errors.Is(err, errTruncated) || r.Context().Err() != nil {
				emit(res)
				return nil
			}
		} else {
			res.Comparison, res.Status = &c, http.StatusOK
		}
		emit(res)
	}
	if n == 0 {
		if !started {
			return fmt.Errorf("%w: no file in the upload", errBadRequest)
		}
	}
	return nil
}

var errTruncated = fmt.Errorf("%w: upload cut short", errBadRequest)

func (s *Server) contributePart(r *http.Request, a ivid.Actor, caseID ivid.CaseID, name string, part io.Reader) (ivid.Comparison, error) {
	f, err := os.CreateTemp(s.opts.SpoolDir, "upload-*")
	if err != nil {
		return ivid.Comparison{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	n, err := io.Copy(f, io.LimitReader(part, s.opts.MaxUpload+1))
	if err != nil {
		return ivid.Comparison{}, fmt.Errorf("%w: %v", errTruncated, err)
	}
	if n > s.opts.MaxUpload {
		return ivid.Comparison{}, &http.MaxBytesError{Limit: s.opts.MaxUpload}
	}
	if err := f.Close(); err != nil {
		return ivid.Comparison{}, err
	}
	return s.svc.Contribute(r.Context(), a, caseID, filepath.Base(name), f.Name())
}

// contributeHashes takes a VICS JSON or ICSE CSV body (detected), at most
// 256 MiB, and contributes its entries; a malformed file is refused whole.
func (s *Server) contributeHashes(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.svc.Case(r.Context(), a, ivid.CaseID(id)); err != nil {
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
	case hashset.FormatVICS:
		rd = hashset.NewVICSReader(br, "upload")
	case hashset.FormatICSE:
		rd = hashset.NewICSEReader(br, "upload")
	case hashset.FormatCSV:
		rd = hashset.NewPlainReader(br, "upload")
	default:
		return fmt.Errorf("%w: send VICS JSON, ICSE CSV or a CSV hash list", errBadRequest)
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
	cs, err := s.svc.ContributeHashes(r.Context(), a, ivid.CaseID(id), entries)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, map[string]any{"items": len(cs), "comparisons": cs})
}
