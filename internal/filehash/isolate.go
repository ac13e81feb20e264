package filehash

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/ivid-project/ivid/internal/media"
	"github.com/ivid-project/ivid/internal/pdq"
)

// Decoders decodes and hashes images in worker processes: copies of the
// running program started with decoderEnv set (see ServeDecoder). Go
// cannot stop a goroutine, so in-process a decoding past
// Options.DecodeLimit is abandoned and keeps its processor; in a worker it
// is stopped, the process killed. A decoder's fatal error (a stack
// overflow or running out of memory, which recover cannot catch) then
// fails one file instead of ending the program. Idle workers are kept for
// the next file. The cost, measured on 1600×1067 photos two at a time:
// about 1 ms of processor an image (11 %), half of it the decoding itself
// running slower in the worker, half the round trip.
// Decoders is safe for concurrent use.
type Decoders struct {
	exe    string
	mu     sync.Mutex
	idle   []*decoderProc
	all    map[*decoderProc]bool // running
	ended  time.Duration         // processor time of the workers that ended
	closed bool
}

// decoderEnv marks a process started as a decoder worker.
const decoderEnv = "IVID_DECODER_WORKER"

// NewDecoders returns a pool of workers running exe, which must call
// ServeDecoder at start (the ivid binary does).
func NewDecoders(exe string) *Decoders {
	return &Decoders{exe: exe, all: map[*decoderProc]bool{}}
}

// Close stops every worker, and waits for them to end.
func (d *Decoders) Close() error {
	d.mu.Lock()
	d.closed = true
	var all []*decoderProc
	for p := range d.all {
		all = append(all, p)
	}
	d.idle = nil
	d.mu.Unlock()
	for _, p := range all {
		d.discard(p)
	}
	return nil
}

// ProcessTime returns the processor time the workers have used: those
// that ended, and on Linux those still running.
func (d *Decoders) ProcessTime() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.ended
	for p := range d.all {
		t += liveProcessTime(p.cmd.Process.Pid)
	}
	return t
}

// running returns how many worker processes are alive (for tests).
func (d *Decoders) running() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.all)
}

func (d *Decoders) get() (*decoderProc, error) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, errors.New("decoder processes closed")
	}
	if n := len(d.idle); n > 0 {
		p := d.idle[n-1]
		d.idle = d.idle[:n-1]
		d.mu.Unlock()
		return p, nil
	}
	d.mu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errors.New("decoder processes closed")
	}
	p, err := startDecoder(d.exe, d.exited)
	if err != nil {
		return nil, err
	}
	d.all[p] = true
	return p, nil
}

func (d *Decoders) put(p *decoderProc) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		p.kill()
		return
	}
	d.idle = append(d.idle, p)
}

// discard kills a worker that timed out or failed.
func (d *Decoders) discard(p *decoderProc) {
	p.kill()
	<-p.exited
}

// exited accounts for a worker that ended.
func (d *Decoders) exited(p *decoderProc) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if st := p.cmd.ProcessState; st != nil {
		d.ended += st.UserTime() + st.SystemTime()
	}
	delete(d.all, p)
}

// decoderProc is one worker process and its pipes.
type decoderProc struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *headBuffer
	exited chan struct{}
}

func startDecoder(exe string, exited func(*decoderProc)) (*decoderProc, error) {
	cmd := exec.Command(exe)
	// Nothing of ivid's environment (database URL, passwords, tokens)
	// reaches the process that parses hostile files. It decodes one file
	// at a time: with one Go processor, no thread spins waiting for work.
	cmd.Env = []string{decoderEnv + "=1", "GOMAXPROCS=1"}
	cmd.SysProcAttr = dieWithParent()
	inR, in, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	// An image goes through in one write where the system allows it,
	// rather than in 64 kB turns of the two processes.
	growPipe(in, 1<<20)
	cmd.Stdin = inR
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &decoderProc{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 64<<10), stderr: &headBuffer{max: 4096}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	err = cmd.Start()
	inR.Close()
	if err != nil {
		in.Close()
		return nil, fmt.Errorf("start a decoder process: %w", err)
	}
	go func() {
		cmd.Wait()
		exited(p)
		close(p.exited)
	}()
	return p, nil
}

func (p *decoderProc) kill() {
	p.cmd.Process.Kill()
	p.in.Close()
}

// decodeRequest is what the parent sends before an image's bytes: the
// record so far (digests, type) and the options decoding reads.
type decodeRequest struct {
	Record  Record        `json:"record"`
	Options decodeOptions `json:"options"`
}

type decodeOptions struct {
	Mode      pdq.Mode `json:"mode"`
	Dihedral  bool     `json:"dihedral"`
	MaxPixels int64    `json:"max_pixels"`
	Fast      bool     `json:"fast"`
}

// decodeResponse is a worker's answer: the record as decode left it, and
// its error (none if empty) with the class callers test with errors.Is,
// or a panic.
type decodeResponse struct {
	Record Record `json:"record"`
	Timing Timing `json:"timing"`
	Error  string `json:"error,omitempty"`
	Class  string `json:"class,omitempty"`
	Panic  string `json:"panic,omitempty"`
}

// errorClasses are the errors a decoding returns that callers tell apart.
var errorClasses = map[string]error{"too large": media.ErrTooLarge, "corrupt": media.ErrCorrupt, "unsupported": media.ErrUnsupported}

// classError is a worker's error: its message, and the class it had.
type classError struct {
	msg   string
	class error
}

func (e *classError) Error() string { return e.msg }
func (e *classError) Unwrap() error { return e.class }

// writeFrame writes a length-prefixed JSON value, then data if any.
func writeFrame(w io.Writer, v any, data []byte) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var hdr [12]byte
	binary.LittleEndian.PutUint32(hdr[:4], uint32(len(b)))
	binary.LittleEndian.PutUint64(hdr[4:], uint64(len(data)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// maxFrameJSON bounds a frame's JSON: a record with its metadata is a few
// kB.
const maxFrameJSON = 1 << 20

// readFrame reads what writeFrame wrote into v, and the data into *data
// (reused), at most maxData bytes.
func readFrame(r io.Reader, v any, data *[]byte, maxData int64) error {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n, m := binary.LittleEndian.Uint32(hdr[:4]), binary.LittleEndian.Uint64(hdr[4:])
	if n > maxFrameJSON || m > uint64(maxData) {
		return fmt.Errorf("decoder frame of %d and %d bytes", n, m)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return err
	}
	if data != nil {
		if uint64(cap(*data)) < m {
			*data = make([]byte, m)
		}
		*data = (*data)[:m]
		if _, err := io.ReadFull(r, *data); err != nil {
			return err
		}
	}
	return nil
}

// decodeIsolated is decode in a worker of h.opts.Decoders, within the time
// limit; past it, the worker is killed.
func (h *Hasher) decodeIsolated(rec Record, tm Timing, data []byte) (Record, Timing, error) {
	d := h.opts.Decoders
	p, err := d.get()
	if err != nil {
		rec.Error = err.Error()
		return rec, tm, err
	}
	req := decodeRequest{rec, decodeOptions{Mode: h.opts.Mode, Dihedral: h.opts.Dihedral, MaxPixels: h.maxPixels(), Fast: h.opts.Fast}}
	done := make(chan error, 1)
	var resp decodeResponse
	go func() {
		err := writeFrame(p.in, req, data)
		if err == nil {
			err = readFrame(p.out, &resp, nil, 0)
		}
		done <- err
	}()
	var limit <-chan time.Time
	if h.opts.DecodeLimit > 0 {
		t := time.NewTimer(h.opts.DecodeLimit)
		defer t.Stop()
		limit = t.C
	}
	select {
	case err = <-done:
	case <-limit:
		d.discard(p)
		<-done
		err := fmt.Errorf("%w (%v), its process stopped", ErrDecodeLimit, h.opts.DecodeLimit)
		rec.Error = err.Error()
		return rec, tm, err
	}
	if err != nil {
		// The worker died: a fatal error of the decoder on this file.
		d.discard(p)
		err := fmt.Errorf("%w: the decoder's process ended (%v)%s", media.ErrCorrupt, p.cmd.ProcessState, p.stderr.firstLine())
		rec.Error = err.Error()
		return rec, tm, err
	}
	d.put(p)
	if resp.Panic != "" {
		panic(&decoderPanic{value: "in a decoder process", stack: []byte(resp.Panic)})
	}
	rec = resp.Record
	tm.Decode, tm.PDQ = resp.Timing.Decode, resp.Timing.PDQ
	if resp.Error == "" {
		return rec, tm, nil
	}
	err = errors.New(resp.Error)
	if class, ok := errorClasses[resp.Class]; ok {
		err = &classError{resp.Error, class}
	}
	return rec, tm, err
}

// ServeDecoder makes this process a decoder worker if it was started as
// one (see Decoders): it then decodes images from standard input until
// it closes, and exits. Otherwise it returns at once. Programs that use
// Decoders call it first in main.
func ServeDecoder() {
	if os.Getenv(decoderEnv) == "" {
		return
	}
	if err := serveDecoder(os.Stdin, os.Stdout); err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintln(os.Stderr, "decoder:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serveDecoder answers decode requests read from in until it ends.
func serveDecoder(in io.Reader, out io.Writer) error {
	r, w := bufio.NewReaderSize(in, 64<<10), bufio.NewWriter(out)
	hashers := map[decodeOptions]*Hasher{}
	var data []byte
	for {
		var req decodeRequest
		if err := readFrame(r, &req, &data, 1<<40); err != nil {
			return err
		}
		o := req.Options
		h := hashers[o]
		if h == nil {
			h = New(Options{Mode: o.Mode, Dihedral: o.Dihedral, MaxPixels: o.MaxPixels, Fast: o.Fast, DecodeLimit: -1})
			hashers[o] = h
		}
		resp := decodeOne(h, req, data)
		if err := writeFrame(w, resp, nil); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
}

// decodeOne runs decode, turning a panic into the response's report.
func decodeOne(h *Hasher, req decodeRequest, data []byte) (resp decodeResponse) {
	defer func() {
		if p := recover(); p != nil {
			resp = decodeResponse{Panic: fmt.Sprintf("%v\n\n%s", p, debug.Stack())}
		}
	}()
	rec, tm, err := h.decode(h.scratch, req.Record, Timing{}, data)
	resp = decodeResponse{Record: rec, Timing: tm}
	if err != nil {
		resp.Error = cmp.Or(err.Error(), "decoding failed")
		for name, class := range errorClasses {
			if errors.Is(err, class) {
				resp.Class = name
			}
		}
	}
	return resp
}

// headBuffer keeps the first max bytes written to it: a dying Go
// program's first line says why ("fatal error: stack overflow").
type headBuffer struct {
	mu  sync.Mutex
	max int
	b   bytes.Buffer
}

func (t *headBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if room := t.max - t.b.Len(); room > 0 {
		t.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (t *headBuffer) firstLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	line, _, _ := strings.Cut(strings.TrimSpace(t.b.String()), "\n")
	if line == "" {
		return ""
	}
	return ": " + line
}
