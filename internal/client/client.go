// Package client talks to an ivid server's API on behalf of the CLI:
// contributions of files, one or many a request, with their comparison
// results.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/ivid-project/ivid/internal/ivid"
)

// Client is an API client authenticated by an API token.
type Client struct {
	Base  string // e.g. https://ivid.example:8443
	Token string
	HTTP  *http.Client
}

// Result is the server's answer for one contributed file.
type Result struct {
	Part       int              `json:"part"`
	File       string           `json:"file"`
	Comparison *ivid.Comparison `json:"comparison,omitempty"`
	Error      string           `json:"error,omitempty"`
	Status     int              `json:"status"`
}

// ErrRejected marks a file the server refused (bad content, too large);
// retrying will not help.
var ErrRejected = errors.New("rejected by the server")

// Contribute uploads one file to a case, streaming it from disk (the
// multipart body is produced through a pipe, never held in memory), and
// returns the server's comparison.
func (c *Client) Contribute(ctx context.Context, caseID int64, path string) (Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Result{}, err
	}
	// The multipart body is its head, the file and a trailer, streamed
	// from disk with a known length (no chunked encoding).
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	if _, err := mw.CreateFormFile("file", filepath.Base(path)); err != nil {
		return Result{}, err
	}
	trailer := "\r\n--" + mw.Boundary() + "--\r\n"
	body := io.MultiReader(&head, io.LimitReader(f, fi.Size()), strings.NewReader(trailer))
	req, err := http.NewRequestWithContext(ctx, "POST", c.mediaURL(caseID), body)
	if err != nil {
		return Result{}, err
	}
	req.ContentLength = int64(head.Len()) + fi.Size() + int64(len(trailer))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.http().Do(req)
	if err != nil {
		return Result{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return Result{}, problem(resp)
	}
	var r Result
	if err := json.NewDecoder(bufio.NewReader(resp.Body)).Decode(&r); err != nil {
		return Result{}, fmt.Errorf("reading the server's answer: %w", err)
	}
	// Read to the end so that the connection is reused.
	io.Copy(io.Discard, resp.Body)
	return r, r.err()
}

// ContributeFiles uploads files to a case in one streamed request: the
// server hashes them in parallel and commits them in groups, so that its
// durable writes overlap the hashing of the next files. fn is called once
// per file, in the order the server acknowledges them, with the server's
// comparison or the reason the file failed (ErrRejected for bad content).
// An error returned is about the request as a whole: files that fn has not
// seen by then were not acknowledged and can be sent again.
func (c *Client) ContributeFiles(ctx context.Context, caseID int64, paths []string, fn func(path string, r Result, err error)) error {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	// Files that cannot be read are answered here; the others are numbered
	// in the order they are sent, as the server numbers the parts.
	var sent []string
	var mu sync.Mutex
	written := make(chan struct{})
	// fn is never called once this returns: the body's writer is stopped
	// and waited for.
	defer func() {
		pr.CloseWithError(errStopped)
		<-written
	}()
	go func() {
		defer close(written)
		for _, p := range paths {
			f, err := os.Open(p)
			if err != nil {
				mu.Lock()
				fn(p, Result{}, err)
				mu.Unlock()
				continue
			}
			mu.Lock()
			sent = append(sent, p)
			mu.Unlock()
			w, err := mw.CreateFormFile("file", filepath.Base(p))
			if err == nil {
				_, err = io.Copy(w, f)
			}
			f.Close()
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(mw.Close())
	}()
	req, err := http.NewRequestWithContext(ctx, "POST", c.mediaURL(caseID), pr)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.http().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return problem(resp)
	}
	dec := json.NewDecoder(bufio.NewReader(resp.Body))
	answered := map[int]bool{}
	for {
		var r Result
		if err := dec.Decode(&r); err == io.EOF {
			// The server answers every part it read before it ends.
			pr.CloseWithError(errStopped)
			mu.Lock()
			defer mu.Unlock()
			if len(answered) < len(sent) {
				return fmt.Errorf("the server answered %d of %d files", len(answered), len(sent))
			}
			return nil
		} else if err != nil {
			return fmt.Errorf("reading the server's answer: %w", err)
		}
		mu.Lock()
		if answered[r.Part] {
			mu.Unlock()
			return fmt.Errorf("the server answered part %d twice", r.Part)
		}
		answered[r.Part] = true
		if r.Part < 0 || r.Part >= len(sent) {
			mu.Unlock()
			if r.Error != "" {
				return fmt.Errorf("server: %s", r.Error)
			}
			return fmt.Errorf("server answered for part %d of %d", r.Part, len(sent))
		}
		p := sent[r.Part]
		ferr := r.err()
		if ferr == nil && r.Comparison == nil {
			ferr = errors.New("the server's answer has no comparison")
		}
		fn(p, r, ferr)
		mu.Unlock()
	}
}

// mediaURL is the contribution endpoint of a case.
func (c *Client) mediaURL(caseID int64) string {
	return strings.TrimRight(c.Base, "/") + "/api/v1/cases/" + strconv.FormatInt(caseID, 10) + "/media"
}

// err is the file's failure reported in r, if any: ErrRejected for content
// the server refused.
func (r Result) err() error {
	switch {
	case r.Error == "":
		return nil
	case r.Status >= 400 && r.Status < 500:
		return fmt.Errorf("%w: %s", ErrRejected, r.Error)
	}
	return errors.New(r.Error)
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// problem turns an error response into an error naming its detail.
func problem(resp *http.Response) error {
	var p struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &p) == nil && (p.Detail != "" || p.Title != "") {
		msg := p.Detail
		if msg == "" {
			msg = p.Title
		}
		err := fmt.Errorf("server: %d %s", resp.StatusCode, msg)
		if resp.StatusCode == 401 || resp.StatusCode == 403 || resp.StatusCode == 404 {
			return fmt.Errorf("%w (%v)", ErrFatal, err)
		}
		return err
	}
	return fmt.Errorf("server: %s", resp.Status)
}

// errStopped ends a request body whose answer has ended.
var errStopped = errors.New("the request was answered")

// ErrFatal marks answers that will not change on retry for any file: bad
// token, no right, no such case.
var ErrFatal = errors.New("stopped")
