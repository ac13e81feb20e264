// Package client talks to an ivid server's API on behalf of the CLI:
// contributions of files, one request each, with their comparison results.
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
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(c.Base, "/")+"/api/v1/cases/"+strconv.FormatInt(caseID, 10)+"/media", body)
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
	if r.Error != "" {
		if r.Status >= 400 && r.Status < 500 {
			return r, fmt.Errorf("%w: %s", ErrRejected, r.Error)
		}
		return r, errors.New(r.Error)
	}
	return r, nil
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

// ErrFatal marks answers that will not change on retry for any file: bad
// token, no right, no such case.
var ErrFatal = errors.New("stopped")
