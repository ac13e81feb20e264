package web_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ivid-project/ivid/internal/auth"
	"github.com/ivid-project/ivid/internal/demo"
	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/ivid"
	"github.com/ivid-project/ivid/internal/server"
	"github.com/ivid-project/ivid/internal/training"
)

// chromium finds the browser; under CI=true (where .ci/run installs it) a
// missing one fails the test, elsewhere it skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium missing under CI=true")
	}
	t.Skip("chromium not installed")
	return ""
}

// site is a training server on loopback.
type site struct {
	base string
	srv  *server.Server
	root ivid.Actor
}

func startSite(t *testing.T, totpOptional bool) *site {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	srv, err := server.Open(ctx, server.Config{DataDir: filepath.Join(dir, "data"), TOTPOptional: totpOptional, AdminPassword: training.Password})
	if err != nil {
		t.Fatal(err)
	}
	root, _ := srv.DB.UserByName(ctx, "admin")
	hub, _ := srv.DB.Agency(ctx, root.AgencyID)
	ra := ivid.Actor{User: root, Agency: hub}
	if _, err := training.Seed(ctx, srv.Svc, ra, filepath.Join(dir, "images")); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	addr := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		srv.ServeListener(sctx, mustListen(t), func(a string) { addr <- a })
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	return &site{base: "http://" + <-addr, srv: srv, root: ra}
}

// browser is one user's headless Chromium.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func newBrowser(t *testing.T, name string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	b := &browser{t: t, ctx: ctx}
	t.Cleanup(func() {
		if t.Failed() {
			b.screenshot(name)
		}
		cancelT()
		cancelB()
		cancelA()
	})
	return b
}

// screenshot saves the page for a failed test.
func (b *browser) screenshot(name string) {
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return
	}
	dir := filepath.Join(os.TempDir(), "ivid-browser-failures")
	os.MkdirAll(dir, 0o755)
	p := filepath.Join(dir, strings.ReplaceAll(b.t.Name(), "/", "_")+"-"+name+".png")
	os.WriteFile(p, png, 0o644)
	b.t.Logf("screenshot of %s: %s", name, p)
}

// shot saves a screenshot of the page when IVID_SCREENSHOTS names a folder
// (for looking at the interface; the tests do not depend on it).
func (b *browser) shot(name string) {
	dir := os.Getenv("IVID_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err == nil {
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func eval[T any](b *browser, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("%s: %v", js, err)
	}
	return v
}

func (b *browser) signIn(base, name, code string) {
	b.t.Helper()
	b.do(chromedp.Navigate(base+"/login"),
		chromedp.SendKeys(chromedp.CSS("#name"), name),
		chromedp.SendKeys(chromedp.CSS("#password"), training.Password))
	if code != "" {
		b.do(chromedp.SendKeys(chromedp.CSS("#code"), code))
	}
	b.do(chromedp.Click(chromedp.CSS("button[type=submit]")))
	b.waitPage(`location.pathname !== "/login" || document.querySelector(".error") !== null`)
}

// waitPage polls a condition across navigations (errors while the next
// page loads are expected).
func (b *browser) waitPage(cond string) {
	b.t.Helper()
	for range 200 {
		if ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](cond)); err == nil && ok {
			if err := chromedp.Do(b.ctx, chromedp.WaitReady(chromedp.CSS("body"))); err == nil {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.t.Fatalf("page never met %s", cond)
}

// TestBrowserTOTPSignIn: without training mode a specialist must enrol a
// second factor: the page shows a QR code rendered by the server and the
// key; the code from it completes the sign-in.
func TestBrowserTOTPSignIn(t *testing.T) {
	s := startSite(t, false)
	b := newBrowser(t, "fr")
	b.signIn(s.base, "fr.specialist", "")
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	if !strings.HasSuffix(loc, "/account/totp") {
		t.Fatalf("after password: %s, want the enrolment page", loc)
	}
	if w := eval[int](b, `document.getElementById("qr").naturalWidth`); w != 200 {
		t.Fatalf("QR code width %d", w)
	}
	secret := b.text("#secret")
	code, _ := auth.TOTPCode(secret, time.Now())
	b.shot("totp-enrolment")
	b.do(chromedp.SendKeys(chromedp.CSS("#code"), code), chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#fig-victims")))
	b.shot("dashboard")
	if got := b.text("#fig-victims"); got != "1" {
		t.Fatalf("dashboard victims identified: %q", got)
	}
	// Signing in again needs the code now.
	b.do(chromedp.Click(chromedp.CSS(".signout button")), chromedp.WaitVisible(chromedp.CSS("#name")))
	b.signIn(s.base, "fr.specialist", "000000")
	if !strings.Contains(b.text("main"), "Wrong user name, password or code") {
		t.Fatal("a wrong code was accepted")
	}
	code, _ = auth.TOTPCode(secret, time.Now())
	b.signIn(s.base, "fr.specialist", code)
	b.do(chromedp.WaitVisible(chromedp.CSS("#fig-items")))
}

// TestBrowserReviewFlow covers upload and comparison, media protection,
// keyboard review, claims seen by another agency at once, pixel scoping
// and the terminology warning, in two users' browsers.
func TestBrowserReviewFlow(t *testing.T) {
	s := startSite(t, true)
	ctx := context.Background()
	fr := newBrowser(t, "fr")
	de := newBrowser(t, "de")
	fr.signIn(s.base, "fr.specialist", "")
	de.signIn(s.base, "de.specialist", "")

	// Upload: Germany contributes a brighter copy of France's scene 2 (in
	// series Lighthouse, victim identified by France).
	// With it go another photo and a text file: one request carries them
	// all, and each gets its own answer.
	dir := t.TempDir()
	img := filepath.Join(dir, "copy.jpg")
	b, _, _ := demo.Encode(demo.Apply(demo.Scene(2, 640, 426), demo.Brighter), demo.Brighter)
	os.WriteFile(img, b, 0o600)
	other := filepath.Join(dir, "other.jpg")
	b, _, _ = demo.Encode(demo.Scene(40, 640, 426), demo.Original)
	os.WriteFile(other, b, 0o600)
	notes := filepath.Join(dir, "notes.txt")
	os.WriteFile(notes, []byte("not an image"), 0o600)
	var deCase int64
	de.do(chromedp.Navigate(s.base+"/cases"), chromedp.SendKeys(chromedp.CSS("#reference"), "DE-BROWSER-1"),
		chromedp.Click(chromedp.CSS("form.card button")), chromedp.WaitVisible(chromedp.CSS("#upload")))
	deCase = int64(eval[float64](de, `+document.getElementById("upload").dataset.case`))
	de.do(chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{img, other, notes}), chromedp.WaitVisible(chromedp.CSS("#results li:nth-child(3)")))
	de.shot("case-upload-result")
	res := de.text("#results")
	if n := eval[float64](de, `document.querySelectorAll("#results li").length`); n != 3 {
		t.Errorf("%v results for 3 files: %s", n, res)
	}
	if !strings.Contains(res, "other.jpg") || !strings.Contains(res, "notes.txt") {
		t.Errorf("results lack other.jpg or notes.txt: %s", res)
	}
	for _, want := range []string{"copy.jpg", "New", "Near-duplicate of", "Lighthouse", "OCRVP (France)", "Victim identified by"} {
		if !strings.Contains(res, want) {
			t.Errorf("comparison result lacks %q: %s", want, res)
		}
	}
	if deCase == 0 {
		t.Fatal("no case id")
	}
	// The same files chosen again (as after a network error): answered
	// as before, submitted once.
	de.do(chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{img, other, notes}), chromedp.WaitVisible(chromedp.CSS("#results li:nth-child(6)")))
	if again := de.text("#results"); strings.Count(again, "copy.jpg: New · Near-duplicate of #2") != 2 {
		t.Errorf("the files sent again: %s", again)
	}
	items, err := s.srv.DB.MediaInCase(ctx, ivid.CaseID(deCase))
	if err != nil || len(items) != 2 {
		t.Fatalf("case items %d %v, want 2", len(items), err)
	}
	if subs, err := s.srv.DB.SubmissionsOf(ctx, []ivid.MediaID{items[0].ID, items[1].ID}); err != nil || len(subs) != 2 {
		t.Errorf("the files sent again: %d submissions (%v), want 2", len(subs), err)
	}

	// Media are blurred and greyscale by default.
	de.do(chromedp.Navigate(fmt.Sprintf("%s/cases/%d", s.base, deCase)), chromedp.WaitVisible(chromedp.CSS(".tile img.media")))
	filter := eval[string](de, `getComputedStyle(document.querySelector(".tile img.media")).filter`)
	if !strings.Contains(filter, "blur(") || !strings.Contains(filter, "grayscale(1)") {
		t.Fatalf("default filter %q, want blur and greyscale", filter)
	}
	// The case page's ICSE export link gives the case's hashes.
	icse, err := chromedp.Run(de.ctx, chromedp.Evaluate[string](`fetch(document.querySelector('a[href$="format=icse"]').href).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil || !strings.HasPrefix(icse, "MD5;SHA1;") || strings.Count(strings.TrimSpace(icse), "\n") != 2 {
		t.Errorf("ICSE export from the case page: %v %q", err, icse)
	}

	// Review by keyboard: France's queue holds scenes 7 and 8; "1" on the
	// first categorises it.
	queue, _ := s.srv.Svc.ReviewQueue(ctx, actor(t, s, "fr.specialist"), 10)
	if len(queue) == 0 {
		t.Fatal("empty review queue")
	}
	first := queue[0].ID
	fr.do(chromedp.Navigate(s.base+"/review"), chromedp.WaitVisible(chromedp.CSS("#review .tile")),
		chromedp.Focus(chromedp.CSS("#review .tile")), chromedp.KeyEvent("1"))
	waitFor(t, func() bool {
		m, _ := s.srv.DB.Media(ctx, first)
		return m.Category == hashset.CSAM
	})
	fr.waitPage(`document.getElementById("review-status").textContent !== ""`)
	fr.shot("review")
	if st := fr.text("#review-status"); !strings.Contains(st, "1") {
		t.Errorf("review status %q", st)
	}
	// Several by mouse: a click, then a Shift-click, selects the range;
	// Ctrl-click takes one out and puts it back; "3" categorises them all.
	if len(queue) < 2 {
		t.Fatalf("review queue of %d, want 2 for the range", len(queue))
	}
	click := func(i int, mods ...chromedp.Modifier) {
		t.Helper()
		c := eval[[]float64](fr, fmt.Sprintf(`(() => { const b = document.querySelectorAll("#review .tile")[%d].getBoundingClientRect(); return [b.left + b.width / 2, b.top + b.height / 2]; })()`, i))
		fr.do(chromedp.MouseClickXY(c[0], c[1], chromedp.ButtonModifiers(mods...)))
	}
	selected := func() int { return eval[int](fr, `document.querySelectorAll("#review .tile.selected").length`) }
	click(0)
	click(1, chromedp.ModifierShift)
	if n := selected(); n != 2 {
		t.Fatalf("%d tiles selected after Shift-click, want 2", n)
	}
	click(1, chromedp.ModifierCtrl)
	if n := selected(); n != 1 {
		t.Fatalf("%d tiles selected after Ctrl-click, want 1", n)
	}
	click(1, chromedp.ModifierCtrl)
	fr.do(chromedp.KeyEvent("3"))
	waitFor(t, func() bool {
		for _, m := range queue[:2] {
			if got, _ := s.srv.DB.Media(ctx, m.ID); got.Category != hashset.Category(3) {
				return false
			}
		}
		return true
	})

	// A claim by France is on Germany's deconfliction page at once.
	orchard := seriesID(t, s, "Orchard")
	fr.do(chromedp.Navigate(fmt.Sprintf("%s/series/%d", s.base, orchard)), chromedp.Click(chromedp.CSS("#claim")),
		chromedp.WaitVisible(chromedp.CSS("#release")))
	de.do(chromedp.Navigate(s.base+"/series?q=orchard"), chromedp.WaitVisible(chromedp.CSS("#series-table")))
	de.shot("deconfliction")
	if claims := de.text("#series-table .claims"); !strings.Contains(claims, "OCRVP (France)") {
		t.Fatalf("Germany sees claims %q", claims)
	}

	// The series page maps its items' places offline.
	fr.do(chromedp.Navigate(fmt.Sprintf("%s/series/%d", s.base, seriesID(t, s, "Lighthouse"))), chromedp.WaitVisible(chromedp.CSS("svg.map")))
	fr.shot("series")
	if n := eval[int](fr, `document.querySelectorAll("svg.map circle.pt").length`); n != 3 || eval[int](fr, `document.querySelector("svg.map path.land").getAttribute("d").length`) < 10000 {
		t.Fatalf("map: %d points", n)
	}

	// Germany cannot open the pixels of France's agency-level case.
	frItem := seriesItems(t, s, "Lighthouse")[0]
	de.do(chromedp.Navigate(fmt.Sprintf("%s/media/%d", s.base, frItem)), chromedp.WaitVisible(chromedp.CSS("#nopixels")))
	de.shot("media-other-agency")
	st, err := chromedp.Run(de.ctx, chromedp.Evaluate[float64](fmt.Sprintf(`fetch("/media/%d/image").then(r => r.status)`, frItem), chromedp.EvalAwaitPromise))
	if err != nil || st != 403 {
		t.Fatalf("Germany fetching France's pixels: %v %v, want 403", st, err)
	}

	// The terminology warning appears as a discouraged term is typed.
	// The discouraged term is taken from the page's own table rather than
	// written here.
	fr.do(chromedp.Navigate(fmt.Sprintf("%s/media/%d", s.base, frItem)), chromedp.WaitVisible(chromedp.CSS("#clue-text")))
	avoid := eval[string](fr, `JSON.parse(document.getElementById("terms").textContent)[0].avoid`)
	fr.do(chromedp.SendKeys(chromedp.CSS("#clue-text"), "Possible "+avoid+" collection"),
		chromedp.WaitVisible(chromedp.CSS(".term-warning")))
	fr.shot("media-terminology")
	if w := fr.text(".term-warning"); !strings.Contains(w, "child sexual abuse material") {
		t.Fatalf("warning %q", w)
	}
	// France does see its own pixels, blurred, and can reveal them.
	fr.do(chromedp.WaitVisible(chromedp.CSS("#main-media")), chromedp.Click(chromedp.CSS("button.reveal")))
	if f := eval[string](fr, `getComputedStyle(document.getElementById("main-media")).filter`); f != "none" {
		t.Fatalf("revealed filter %q", f)
	}
	// A clue's rectangle is drawn with the mouse: dragging from a tenth to
	// a half of the image fills x, y, w, h in the image's pixels.
	if _, err := chromedp.Run(fr.ctx, chromedp.Poll[bool](`document.getElementById("main-media").complete`)); err != nil {
		t.Fatal(err)
	}
	r := eval[[]float64](fr, `(() => { const i = document.getElementById("main-media"); i.scrollIntoView(); const b = i.getBoundingClientRect(); return [b.left, b.top, b.width, b.height, +i.dataset.iw, +i.dataset.ih]; })()`)
	from, to := [2]float64{r[0] + r[2]*0.1, r[1] + r[3]*0.1}, [2]float64{r[0] + r[2]*0.5, r[1] + r[3]*0.5}
	fr.do(
		chromedp.MouseEvent(chromedp.MousePressed, from[0], from[1], chromedp.ButtonLeft, chromedp.ClickCount(1)),
		chromedp.MouseEvent(chromedp.MouseMoved, (from[0]+to[0])/2, (from[1]+to[1])/2, chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseMoved, to[0], to[1], chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseReleased, to[0], to[1], chromedp.ButtonLeft, chromedp.ClickCount(1)),
	)
	fr.shot("media-clue-drawn")
	got := eval[[]float64](fr, `["x", "y", "w", "h"].map((n) => +document.querySelector('#clue-rect input[name="' + n + '"]').value)`)
	want := []float64{r[4] * 0.1, r[5] * 0.1, r[4] * 0.4, r[5] * 0.4}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 2+r[4]/r[2] {
			t.Errorf("drawn rectangle %v, want about %v", got, want)
			break
		}
	}
}

func actor(t *testing.T, s *site, name string) ivid.Actor {
	u, err := s.srv.DB.UserByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	ag, _ := s.srv.DB.Agency(context.Background(), u.AgencyID)
	return ivid.Actor{User: u, Agency: ag}
}

func seriesID(t *testing.T, s *site, name string) ivid.SeriesID {
	all, _ := s.srv.DB.AllSeries(context.Background())
	for _, x := range all {
		if x.Name == name {
			return x.ID
		}
	}
	t.Fatalf("no series %s", name)
	return 0
}

func seriesItems(t *testing.T, s *site, name string) []ivid.MediaID {
	ms, _ := s.srv.DB.MediaInSeries(context.Background(), seriesID(t, s, name))
	var out []ivid.MediaID
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for range 100 {
		if ok() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("condition not met in 5 s")
}
