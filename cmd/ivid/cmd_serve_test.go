package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ivid-project/ivid/internal/client"
	"github.com/ivid-project/ivid/internal/demo"
	"github.com/ivid-project/ivid/internal/filehash"
	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/ivid"
	"github.com/ivid-project/ivid/internal/storage/storagetest"
)

// TestMain lets a test run this binary as the ivid program in a child
// process (for kill -9 tests): IVID_TEST_RUN_MAIN holds the arguments;
// IVID_TEST_STUCK runs a command that never ends its work.
func TestMain(m *testing.M) {
	filehash.ServeDecoder() // the commands' decoder workers are this binary
	if args := os.Getenv("IVID_TEST_RUN_MAIN"); args != "" {
		var a []string
		if err := json.Unmarshal([]byte(args), &a); err != nil {
			panic(err)
		}
		os.Exit(runWithSignals(a, run))
	}
	if os.Getenv("IVID_TEST_STUCK") != "" {
		// A command whose work never ends, as on a decoder stuck on a
		// hostile file: it sees the first interrupt and goes on waiting.
		os.Exit(runWithSignals(nil, func(ctx context.Context, _ []string, stdout, _ io.Writer) int {
			fmt.Fprintln(stdout, "working")
			<-ctx.Done()
			fmt.Fprintln(stdout, "stopping")
			for {
				time.Sleep(time.Hour)
			}
		}))
	}
	os.Exit(m.Run())
}

// TestSecondInterrupt: the first interrupt asks for an orderly stop, which
// waits for work in progress; the second ends the process at once.
func TestSecondInterrupt(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "IVID_TEST_STUCK=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(out)
	expect := func(want string) {
		t.Helper()
		if !lines.Scan() || lines.Text() != want {
			t.Fatalf("child said %q (%v); want %q", lines.Text(), lines.Err(), want)
		}
	}
	expect("working")
	cmd.Process.Signal(os.Interrupt)
	expect("stopping")
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		t.Fatalf("the first interrupt ended the process (%v); the work in progress should hold it", err)
	case <-time.After(300 * time.Millisecond):
	}
	cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != os.Interrupt {
			t.Errorf("second interrupt: process ended with %v; want killed by the interrupt", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second interrupt did not end the process")
	}
}

// child is an ivid process started by a test.
type child struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	addr string
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startChild(t *testing.T, addr string, args ...string) *child {
	t.Helper()
	a, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "IVID_TEST_RUN_MAIN="+string(a), "IVID_ADMIN_PASSWORD=first-admin-password")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, out: &out, addr: addr}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return c
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("server not ready: %s", out.String())
	return nil
}

// session is a signed-in browser-like client.
type session struct {
	t    *testing.T
	base string
	c    *http.Client
}

func signIn(t *testing.T, base, name, pw string) *session {
	jar, _ := cookiejar.New(nil)
	s := &session{t: t, base: base, c: &http.Client{Jar: jar}}
	if st, body := s.call("POST", "/api/v1/login", map[string]any{"name": name, "password": pw}, nil); st != 200 {
		t.Fatalf("sign in %s: %d %s", name, st, body)
	}
	return s
}

func (s *session) call(method, path string, in, out any) (int, string) {
	s.t.Helper()
	b, _ := json.Marshal(in)
	req, _ := http.NewRequest(method, s.base+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		json.Unmarshal(body, out)
	}
	return resp.StatusCode, string(body)
}

// TestServeDurability: kill -9 the server in the middle of a bulk
// contribution and restart it: every acknowledged item is there and its
// content verifies; nothing half-written is visible. Then the master key
// is rotated and everything still reads back.
func TestServeDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	t.Run("sqlite", func(t *testing.T) { testServeDurability(t, "") })
	if base := os.Getenv(storagetest.EnvPostgres); base != "" {
		t.Run("postgres", func(t *testing.T) { testServeDurability(t, storagetest.PostgresURL(t, base)) })
	} else if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set under CI=true", storagetest.EnvPostgres)
	}
}

func testServeDurability(t *testing.T, database string) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addr := freeAddr(t)
	serve := []string{"serve", "--data", data, "--addr", addr, "--totp-optional", "--insecure-cookies", "--video=false"}
	if database != "" {
		serve = append(serve, "--database", database)
	}
	srv := startChild(t, addr, serve...)
	base := "http://" + addr
	admin := signIn(t, base, "admin", "first-admin-password")
	var ag struct{ ID int64 }
	if st, body := admin.call("POST", "/api/v1/agencies", map[string]any{"name": "OCRVP", "country": "FR", "kind": "national"}, &ag); st != 201 {
		t.Fatalf("agency: %d %s", st, body)
	}
	var nu struct {
		Password string `json:"one_time_password"`
	}
	admin.call("POST", "/api/v1/users", map[string]any{"name": "spec", "agency_id": ag.ID, "roles": "specialist"}, &nu)
	spec := signIn(t, base, "spec", nu.Password)
	var tok struct{ Token string }
	spec.call("POST", "/api/v1/me/tokens", map[string]any{"name": "cli"}, &tok)
	var cs struct{ ID int64 }
	spec.call("POST", "/api/v1/cases", map[string]any{"reference": "FR-BULK"}, &cs)
	if tok.Token == "" || cs.ID == 0 {
		t.Fatal("setup failed")
	}

	files := filepath.Join(dir, "files")
	os.MkdirAll(files, 0o755)
	var paths []string
	for i := range 40 {
		b, _, _ := demo.Encode(demo.Scene(i+1, 800, 600), demo.Original)
		p := filepath.Join(files, fmt.Sprintf("img-%02d.png", i))
		os.WriteFile(p, b, 0o644)
		paths = append(paths, p)
	}
	cl := &client.Client{Base: base, Token: tok.Token}
	var mu sync.Mutex
	acked := map[string]int64{}
	killed := make(chan struct{})
	// One streamed request, as 'ivid contribute' sends: the server hashes
	// in parallel and commits in groups while the kill comes.
	go func() {
		cl.ContributeFiles(context.Background(), cs.ID, paths, func(p string, r client.Result, err error) {
			if err != nil {
				return
			}
			mu.Lock()
			acked[p] = int64(r.Comparison.Media.ID)
			n := len(acked)
			mu.Unlock()
			if n == 8 {
				close(killed)
			}
		})
	}()
	select {
	case <-killed:
	case <-time.After(60 * time.Second):
		t.Fatalf("no 8 acknowledgements: %s", srv.out.String())
	}
	srv.cmd.Process.Signal(syscall.SIGKILL)
	srv.cmd.Wait()
	mu.Lock()
	got := map[string]int64{}
	for k, v := range acked {
		got[k] = v
	}
	mu.Unlock()

	srv = startChild(t, addr, serve...)
	check := func(label string) {
		for p, id := range got {
			want, _ := os.ReadFile(p)
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/media/%d/content", base, id), nil)
			req.Header.Set("Authorization", "Bearer "+tok.Token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Equal(b, want) {
				t.Fatalf("%s: acknowledged %s (media %d): %d, %d bytes", label, filepath.Base(p), id, resp.StatusCode, len(b))
			}
		}
		// Nothing half-written: every item the case lists reads back whole.
		var items []struct {
			ID     int64
			Size   int64
			Stored bool
		}
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/cases/%d/media", base, cs.ID), nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&items)
		resp.Body.Close()
		if len(items) < len(got) {
			t.Fatalf("%s: case lists %d items, %d were acknowledged", label, len(items), len(got))
		}
		for _, it := range items {
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/media/%d/content", base, it.ID), nil)
			req.Header.Set("Authorization", "Bearer "+tok.Token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || n != it.Size {
				t.Fatalf("%s: media %d: %d, %d of %d bytes", label, it.ID, resp.StatusCode, n, it.Size)
			}
		}
		t.Logf("%s: %d acknowledged, %d in the case, all intact", label, len(got), len(items))
	}
	check("after kill -9")
	srv.cmd.Process.Signal(syscall.SIGTERM)
	srv.cmd.Wait()

	// The audit trail survived the crash intact.
	verify := []string{"audit", "verify", "--data", data}
	if database != "" {
		verify = append(verify, "--database", database)
	}
	if code, out, errs := runIvid(t, verify...); code != 0 || !strings.Contains(out, "chain intact") {
		t.Fatalf("audit verify: %d %s %s", code, out, errs)
	}
	// Key rotation: everything still reads back, under the new key only.
	oldKey, _ := os.ReadFile(filepath.Join(data, "master.key"))
	if code, out, errs := runIvid(t, "keys", "rotate", "--data", data); code != 0 || !strings.Contains(out, "re-wrapped") {
		t.Fatalf("rotate: %d %s %s", code, out, errs)
	}
	if newKey, _ := os.ReadFile(filepath.Join(data, "master.key")); bytes.Equal(newKey, oldKey) {
		t.Fatal("the key file still holds the old key")
	}
	startChild(t, addr, serve...)
	check("after key rotation")
	// Two servers never share a data folder.
	if code, _, errs := runIvid(t, "keys", "rotate", "--data", data); code == 0 || !strings.Contains(errs, "in use") {
		t.Fatalf("rotation while serving: exit %d %s", code, errs)
	}
}

// TestServerDemo: the README's main command seeds the training server and
// serves it; a trainee signs in with a printed account and sees the
// deconfliction facts; a second run reuses the data.
func TestServerDemo(t *testing.T) {
	dir := t.TempDir()
	for run := range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		addrc := make(chan string, 1)
		var out bytes.Buffer
		errc := make(chan error, 1)
		go func() {
			errc <- runServerDemo(ctx, demoOptions{dir: dir, addr: "127.0.0.1:0"}, &out, io.Discard, func(a string) { addrc <- a })
		}()
		var addr string
		select {
		case addr = <-addrc:
		case err := <-errc:
			t.Fatalf("demo: %v", err)
		case <-time.After(60 * time.Second):
			t.Fatal("demo not ready")
		}
		if seeded := strings.Contains(out.String(), "seeding"); seeded != (run == 0) {
			t.Fatalf("run %d: seeded %v", run, seeded)
		}
		for _, want := range []string{"es.specialist", "industry.api", "ivt_", "training-password", "http://" + addr} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("demo output lacks %q:\n%s", want, out.String())
			}
		}
		// The monitor's token printed reads /metrics.
		var monitor string
		for line := range strings.Lines(out.String()) {
			if f := strings.Fields(line); len(f) > 0 && f[0] == "hub.monitor" {
				monitor = f[len(f)-1]
			}
		}
		req, _ := http.NewRequest("GET", "http://"+addr+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+monitor)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
			t.Fatalf("/metrics with hub.monitor's token %q: %v %v", monitor, resp, err)
		} else {
			resp.Body.Close()
		}
		s := signIn(t, "http://"+addr, "es.specialist", "training-password")
		var series []struct {
			Series struct{ Name, Status string }
			Claims []struct{ Agency string }
		}
		s.call("GET", "/api/v1/series", nil, &series)
		statuses := map[string]bool{}
		for _, x := range series {
			statuses[x.Series.Status] = true
		}
		if len(series) != 3 || !statuses["unidentified"] || !statuses["under_investigation"] || !statuses["victim_identified"] {
			t.Fatalf("series: %+v", series)
		}
		var stats struct {
			Media             int64
			VictimsIdentified int `json:"victims_identified"`
			Agencies          int
		}
		s.call("GET", "/api/v1/stats", nil, &stats)
		if stats.Media != 11 || stats.VictimsIdentified != 1 || stats.Agencies != 4 {
			t.Fatalf("stats %+v", stats)
		}
		cancel()
		if err := <-errc; err != nil {
			t.Fatalf("demo stopped with %v", err)
		}
	}
}

// TestContributeCommand: ivid contribute uploads a folder, prints what is
// known about each file, and resumes from its journal.
func TestContributeCommand(t *testing.T) {
	dir := t.TempDir()
	bs := startTestServer(t, dir)
	files := filepath.Join(dir, "files")
	os.MkdirAll(files, 0o755)
	for i, v := range []demo.Variant{demo.Original, demo.Resized, demo.Mirrored} {
		b, ext, _ := demo.Encode(demo.Apply(demo.Scene(3, 400, 300), v), v)
		os.WriteFile(filepath.Join(files, fmt.Sprintf("f%d%s", i, ext)), b, 0o644)
	}
	os.WriteFile(filepath.Join(files, "notes.txt"), []byte("not an image"), 0o644)
	journal := filepath.Join(dir, "journal.jsonl")
	// The first connection breaks in the middle of the upload: the files
	// are sent again on a new one.
	args := []string{"contribute", "-r", "--server", breakingProxy(t, bs.base, 1, 0), "--token", bs.specialist, "--case", fmt.Sprint(bs.caseID), "--journal", journal, files}
	code, out, errs := runIvid(t, args...)
	if code != exitFailed || !strings.Contains(errs, "notes.txt") || !strings.Contains(errs, "3 sent, 0 already sent, 1 failed") {
		t.Fatalf("first run: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "4 file(s) not acknowledged") || !strings.Contains(errs, "sending them again in 1s") {
		t.Fatalf("first run: no retry after the broken connection:\n%s", errs)
	}
	if !strings.Contains(out, "f0.png: new") || !strings.Contains(out, "near_duplicate") {
		t.Fatalf("comparisons: %s", out)
	}
	code, _, errs = runIvid(t, args...)
	if !strings.Contains(errs, "0 sent, 3 already sent") {
		t.Fatalf("resume: exit %d %s", code, errs)
	}
	// Another folder, whose first answer is lost after the server
	// committed its files: sent again, they add no second submission,
	// and are answered as the first time.
	lost := filepath.Join(dir, "lost")
	os.MkdirAll(lost, 0o755)
	for i := range 3 {
		b, ext, _ := demo.Encode(demo.Scene(20+i, 400, 300), demo.Original)
		os.WriteFile(filepath.Join(lost, fmt.Sprintf("l%d%s", i, ext)), b, 0o644)
	}
	code, out, errs = runIvid(t, "contribute", "-r", "--server", breakingProxy(t, bs.base, 1, 200), "--token", bs.specialist, "--case", fmt.Sprint(bs.caseID),
		"--journal", filepath.Join(dir, "lost.jsonl"), lost)
	if code != 0 || !strings.Contains(errs, "sending them again") || !strings.Contains(errs, "3 sent, 0 already sent, 0 failed") || strings.Count(out, ": new") != 3 {
		t.Fatalf("lost answer: exit %d\n%s\n%s", code, out, errs)
	}
	if n := caseSubmissions(t, bs); n != 6 {
		t.Fatalf("after a lost answer, %d submissions, want 6", n)
	}
	bad := append([]string(nil), args...)
	bad[5] = "ivt_wrong"
	if code, _, errs := runIvid(t, bad...); code == 0 || !strings.Contains(errs, "401") {
		t.Fatalf("wrong token: exit %d %s", code, errs)
	}
}

// breakingProxy forwards loopback connections to the server at base,
// except the first n, which it resets: after reading part of the request
// if keep is 0, else after forwarding the request and keep bytes of the
// answer (the server did the work, and the client lost its answer).
func breakingProxy(t *testing.T, base string, n, keep int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	target := strings.TrimPrefix(base, "http://")
	go func() {
		for i := 0; ; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if i < n && keep == 0 {
				c.Read(make([]byte, 1024))
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
				continue
			}
			go func() {
				defer c.Close()
				s, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer s.Close()
				go func() { io.Copy(s, c); s.(*net.TCPConn).CloseWrite() }()
				if i < n {
					io.CopyN(c, s, int64(keep))
					c.(*net.TCPConn).SetLinger(0)
					return
				}
				io.Copy(c, s)
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// TestContributeHashesCommand: ivid contribute --hashes sends an ICSE
// list in requests of --list-batch entries (the first connection breaks
// and its entries are sent again), records in the journal what the server
// committed, and a second run sends nothing more; a malformed list sends
// nothing.
func TestContributeHashesCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bs := startTestServer(t, dir)
	list := filepath.Join(dir, "icse.csv")
	var b strings.Builder
	b.WriteString(strings.Join(hashset.ICSEHeader, ";") + "\n")
	for i := range 2500 {
		fmt.Fprintf(&b, "%032x;;;IMG-%d;y;n;n;;1;n;Image;n\n", i+1, i)
	}
	os.WriteFile(list, []byte(b.String()), 0o644)
	journal := filepath.Join(dir, "journal.jsonl")
	args := []string{"contribute", "--hashes", "--list-batch", "1000", "--server", breakingProxy(t, bs.base, 1, 0), "--token", bs.specialist,
		"--case", fmt.Sprint(bs.caseID), "--journal", journal, list}
	code, out, errs := runIvid(t, args...)
	if code != 0 || !strings.Contains(errs, "2500 entries committed (2500 new items), 0 already sent, 0 failed") {
		t.Fatalf("first run: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "1000 entries not committed") || !strings.Contains(errs, "sending them again in 1s") {
		t.Fatalf("first run: no retry after the broken connection:\n%s", errs)
	}
	for _, want := range []string{"entries to 1000 of 2500 committed: 1000 new, 0 known", "entries to 2500 of 2500 committed: 500 new"} {
		if !strings.Contains(out, want) {
			t.Fatalf("first run: no %q in\n%s", want, out)
		}
	}
	code, _, errs = runIvid(t, args...)
	if code != 0 || !strings.Contains(errs, "0 entries committed (0 new items), 2500 already sent") {
		t.Fatalf("resume: exit %d %s", code, errs)
	}
	items, err := bs.srv.DB.MediaInCase(ctx, ivid.CaseID(bs.caseID))
	if err != nil || len(items) != 2500 {
		t.Fatalf("the case holds %d items (%v), want 2500", len(items), err)
	}
	// A journal that says 2,000 entries were committed: the last 500 are
	// sent, and answered as the first time (new), adding no submission.
	abs, _ := filepath.Abs(list)
	partial := filepath.Join(dir, "partial.jsonl")
	os.WriteFile(partial, []byte(`{"path":`+strconv.Quote(abs)+`,"status":"list","entries":2000}`+"\n"), 0o600)
	code, out, errs = runIvid(t, "contribute", "--hashes", "--server", bs.base, "--token", bs.specialist, "--case", fmt.Sprint(bs.caseID), "--journal", partial, list)
	if code != 0 || !strings.Contains(errs, "500 entries committed (500 new items), 2000 already sent") || !strings.Contains(out, "entries to 2500 of 2500 committed: 500 new, 0 known") {
		t.Fatalf("resume from 2000: exit %d\n%s\n%s", code, out, errs)
	}
	if n := caseSubmissions(t, bs); n != 2500 {
		t.Fatalf("the list sent again left %d submissions, want 2500", n)
	}

	// The answer to the first request of another list is lost after the
	// server committed it: the request sent again adds nothing twice.
	lost := filepath.Join(dir, "lost.csv")
	b.Reset()
	b.WriteString(strings.Join(hashset.ICSEHeader, ";") + "\n")
	for i := range 1500 {
		fmt.Fprintf(&b, "%032x;;;LOST-%d;y;n;n;;1;n;Image;n\n", 1_000_000+i, i)
	}
	os.WriteFile(lost, []byte(b.String()), 0o644)
	code, out, errs = runIvid(t, "contribute", "--hashes", "--list-batch", "1000", "--server", breakingProxy(t, bs.base, 1, 300), "--token", bs.specialist,
		"--case", fmt.Sprint(bs.caseID), "--journal", filepath.Join(dir, "lost.jsonl"), lost)
	if code != 0 || !strings.Contains(errs, "sending them again") || !strings.Contains(errs, "1500 entries committed (1500 new items), 0 already sent, 0 failed") {
		t.Fatalf("lost answer: exit %d\n%s\n%s", code, out, errs)
	}
	if n := caseSubmissions(t, bs); n != 4000 {
		t.Fatalf("after a lost answer, %d submissions, want 4000", n)
	}

	// A malformed list is refused here, before anything is sent.
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte(b.String()+"nothex;;;IMG-X;y;n;n;;1;n;Image;n\n"), 0o644)
	code, _, errs = runIvid(t, "contribute", "--hashes", "--server", bs.base, "--token", bs.specialist, "--case", fmt.Sprint(bs.caseID),
		"--journal", filepath.Join(dir, "j2.jsonl"), bad)
	if code != exitFailed || !strings.Contains(errs, "bad.csv") || !strings.Contains(errs, "0 entries committed") {
		t.Fatalf("malformed list: exit %d %s", code, errs)
	}
	if items, _ := bs.srv.DB.MediaInCase(ctx, ivid.CaseID(bs.caseID)); len(items) != 4000 {
		t.Fatalf("a malformed list left %d items, want 4000", len(items))
	}
}

// caseSubmissions counts the submissions to the test server's case.
func caseSubmissions(t *testing.T, bs *benchServer) int {
	t.Helper()
	ctx := context.Background()
	items, err := bs.srv.DB.MediaInCase(ctx, ivid.CaseID(bs.caseID))
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]ivid.MediaID, len(items))
	for i, m := range items {
		ids[i] = m.ID
	}
	subs, err := bs.srv.DB.SubmissionsOf(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	return len(subs)
}

// startTestServer starts a server on loopback over dir/server, stopped
// when the test ends.
func startTestServer(t *testing.T, dir string) *benchServer {
	t.Helper()
	bs, err := startBenchServer(context.Background(), filepath.Join(dir, "server"), "", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bs.stop)
	return bs
}
