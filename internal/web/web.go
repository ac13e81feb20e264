// Package web is the investigators' interface: server-rendered pages over
// the same services and sessions as the API, with every asset embedded
// (no CDN, works offline), a strict Content Security Policy, English and
// French, and media blurred and greyscale until the reviewer reveals them.
package web

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/ivid"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure the interface.
type Options struct {
	InsecureCookies bool
	SpoolDir        string
	Log             *slog.Logger
}

// Web serves the interface.
type Web struct {
	svc   *ivid.Service
	opts  Options
	pages map[string]*template.Template
	mux   *http.ServeMux
}

const cookieName = "ivid_session"

// New parses the templates once.
func New(svc *ivid.Service, opts Options) (*Web, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	w := &Web{svc: svc, opts: opts, pages: map[string]*template.Template{}, mux: http.NewServeMux()}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", n, err)
		}
		w.pages[base] = t
	}
	static, _ := fs.Sub(staticFS, "static")
	w.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	for _, rt := range w.routes() {
		w.mux.Handle(rt.pattern, w.wrap(rt))
	}
	return w, nil
}

// Handler serves the pages with the interface's CSP.
func (w *Web) Handler() http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		h := rw.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		w.mux.ServeHTTP(rw, r)
	})
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age=300")
		h.ServeHTTP(w, r)
	})
}

type page struct {
	pattern string
	public  bool // no session needed
	mfaFree bool // reachable before the second factor
	h       func(w http.ResponseWriter, r *http.Request, v *view) error
}

// view is what every page template gets.
type view struct {
	Lang   string
	Actor  ivid.Actor
	Signed bool
	// Enrolling hides the navigation until the second factor is given.
	Enrolling bool
	Prefs     prefs
	Title     string
	Nav       string
	Data      map[string]any
	Flash     string
	Error     string
	Terms     []struct{ Avoid, Use string }
	w         *Web
}

// T translates a key in the view's language.
func (v *view) T(key string) string { return translate(v.Lang, key) }

// Can reports whether the signed-in user has a permission (for links).
func (v *view) Can(p string) bool { return v.Actor.Can(ivid.Permission(p)) }

type prefs struct {
	Blur  bool
	Grey  bool
	Size  int
	Class string
}

// thumbSizes are the thumbnail sizes offered (CSS classes thumb-N: the
// CSP allows no inline style).
var thumbSizes = []int{80, 120, 160, 240, 320, 400}

func readPrefs(r *http.Request) prefs {
	p := prefs{Blur: true, Grey: true, Size: 160}
	if c, err := r.Cookie("ivid_prefs"); err == nil {
		parts := strings.Split(c.Value, ".")
		if len(parts) == 3 {
			p.Blur, p.Grey = parts[0] != "0", parts[1] != "0"
			if n, err := strconv.Atoi(parts[2]); err == nil && slices.Contains(thumbSizes, n) {
				p.Size = n
			}
		}
	}
	var cls []string
	if p.Blur {
		cls = append(cls, "blur")
	}
	if p.Grey {
		cls = append(cls, "grey")
	}
	p.Class = strings.Join(cls, " ")
	return p
}

func (w *Web) wrap(pg page) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		v := &view{Lang: lang(r), Prefs: readPrefs(r), Data: map[string]any{}, Terms: terms, w: w}
		if !pg.public {
			c, err := r.Cookie(cookieName)
			if err != nil {
				http.Redirect(rw, r, "/login", http.StatusSeeOther)
				return
			}
			a, sess, err := w.svc.Authenticate(r.Context(), c.Value)
			if err != nil {
				http.Redirect(rw, r, "/login", http.StatusSeeOther)
				return
			}
			if !sess.MFA && !pg.mfaFree {
				http.Redirect(rw, r, "/account/totp", http.StatusSeeOther)
				return
			}
			v.Actor, v.Signed, v.Enrolling = a, true, !sess.MFA
		}
		if err := pg.h(rw, r, v); err != nil {
			w.fail(rw, r, v, err)
		}
	})
}

func (w *Web) fail(rw http.ResponseWriter, r *http.Request, v *view, err error) {
	st := http.StatusInternalServerError
	msg := v.T("err.title")
	switch {
	case errors.Is(err, ivid.ErrForbidden):
		st, msg = http.StatusForbidden, v.T("err.forbidden")
	case errors.Is(err, ivid.ErrNotFound):
		st, msg = http.StatusNotFound, v.T("err.notfound")
	case errors.Is(err, ivid.ErrInvalid), errors.Is(err, ivid.ErrConflict), errors.Is(err, ivid.ErrTooMany):
		st, msg = http.StatusBadRequest, err.Error()
	case errors.Is(err, ivid.ErrUnauthenticated):
		http.Redirect(rw, r, "/login", http.StatusSeeOther)
		return
	default:
		w.opts.Log.Error("page failed", "path", r.URL.Path, "err", err)
	}
	v.Error, v.Title = msg, v.T("err.title")
	rw.WriteHeader(st)
	w.render(rw, v, "error")
}

func (w *Web) render(rw http.ResponseWriter, v *view, name string) error {
	t, ok := w.pages[name]
	if !ok {
		return fmt.Errorf("no template %s", name)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		return err
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, err := rw.Write(buf.Bytes())
	return err
}

var funcs = template.FuncMap{
	"cat":    func(c hashset.Category) string { return "cat." + strconv.Itoa(int(c)) },
	"status": func(s ivid.SeriesStatus) string { return "status." + string(s) },
	"date": func(t any) string {
		switch x := t.(type) {
		case interface{ Format(string) string }:
			return x.Format("2006-01-02")
		}
		return ""
	},
	"percent": func(f float64) string { return strconv.FormatFloat(f, 'f', 0, 64) + " %" },
	"add":     func(a, b int) int { return a + b },
	"list":    func() []int { return thumbSizes },
}

func formID(r *http.Request, name string) int64 {
	v, _ := strconv.ParseInt(r.FormValue(name), 10, 64)
	return v
}

func pathID(r *http.Request) (int64, error) {
	v, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%w: bad id", ivid.ErrNotFound)
	}
	return v, nil
}
