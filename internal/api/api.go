// Package api serves ivid's HTTP JSON API over the domain services: one
// route table that also declares each route's permission, authentication
// and authorization applied in one place, problem-details errors, and the
// OpenAPI document generated from the same table.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ivid-project/ivid/internal/ivid"
)

// Options configure the API.
type Options struct {
	// SpoolDir holds uploads while they are hashed; it should be on the
	// same disk as the blob store.
	SpoolDir string
	// MaxUpload bounds one uploaded file (default 4 GiB).
	MaxUpload int64
	// Hashers is how many contributed files are hashed at once, all
	// requests together (default: the processors).
	Hashers int
	// GroupWait is how long a contribution's answer may wait for more
	// items to commit with the one ready (default 30 ms; see groupItems).
	GroupWait time.Duration
	// InsecureCookies drops the Secure flag, for plain-HTTP tests only.
	InsecureCookies bool
	// IndustryRate is the requests per second allowed per industry token
	// (default 50, burst twice that).
	IndustryRate float64
	Log          *slog.Logger
	// Web, if set, serves every path the API does not (the web UI).
	Web http.Handler
}

// Server is the API's HTTP handler.
type Server struct {
	svc     *ivid.Service
	opts    Options
	mux     *http.ServeMux
	routes  []route
	limits  *rateLimits
	metrics *metrics
	// hashSlots bounds the contributions being hashed at once, all
	// requests together, to the processors: more would only add cache
	// misses, while the uploads waiting their turn keep the pipeline full.
	hashSlots chan struct{}
	// memUsed is what uploads held in memory take (see spool).
	memUsed atomic.Int64
	// Group commits of contributions and the items they committed.
	commits, committed atomic.Int64
}

// New builds the API.
func New(svc *ivid.Service, opts Options) (*Server, error) {
	if opts.MaxUpload <= 0 {
		opts.MaxUpload = 4 << 30
	}
	if opts.Hashers <= 0 {
		opts.Hashers = runtime.GOMAXPROCS(0)
	}
	if opts.IndustryRate <= 0 {
		opts.IndustryRate = 50
	}
	if opts.GroupWait <= 0 {
		opts.GroupWait = 30 * time.Millisecond
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.SpoolDir == "" {
		opts.SpoolDir = os.TempDir()
	}
	if err := os.MkdirAll(opts.SpoolDir, 0o700); err != nil {
		return nil, err
	}
	s := &Server{svc: svc, opts: opts, mux: http.NewServeMux(), limits: newRateLimits(opts.IndustryRate), metrics: newMetrics(),
		hashSlots: make(chan struct{}, opts.Hashers)}
	s.routes = s.table()
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
	}
	if opts.Web != nil {
		s.mux.Handle("/", opts.Web)
	}
	return s, nil
}

// SetIndustryRate changes the per-token request rate (benchmarks).
func (s *Server) SetIndustryRate(perSecond float64) {
	s.limits.mu.Lock()
	defer s.limits.mu.Unlock()
	s.limits.rate = perSecond
}

// Routes lists the method and pattern of every route.
func (s *Server) Routes() [][2]string {
	out := make([][2]string, len(s.routes))
	for i, r := range s.routes {
		out[i] = [2]string{r.method, r.pattern}
	}
	return out
}

// Handler returns the whole API with its middleware.
func (s *Server) Handler() http.Handler {
	var h http.Handler = s.mux
	h = http.NewCrossOriginProtection().Handler(h)
	h = securityHeaders(h)
	h = s.recoverAndLog(h)
	return h
}

type authKind int

const (
	public    authKind = iota // no credentials
	signedIn                  // session cookie or API token
	enrolling                 // signed in, second factor may still be missing
)

type handlerFunc func(w http.ResponseWriter, r *http.Request, a ivid.Actor) error

type route struct {
	method, pattern string
	auth            authKind
	perm            ivid.Permission // required when signed in; "" for any signed-in user
	summary         string
	h               handlerFunc
}

type ctxKey int

const sessionTokenKey ctxKey = iota

// wrap authenticates and authorizes, then calls the handler. This is the
// one place where a request's identity and role permission are decided.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		err := s.serve(rec, r, rt)
		if err != nil {
			s.writeError(rec, r, err)
		}
		s.metrics.observe(rt.method+" "+rt.pattern, rec.status, time.Since(start))
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, rt route) error {
	if rt.auth == public {
		return rt.h(w, r, ivid.Actor{})
	}
	a, mfa, tokenID, err := s.authenticate(r)
	if err != nil {
		return err
	}
	if !mfa && rt.auth != enrolling {
		return fmt.Errorf("%w: enrol a second factor first (POST /api/v1/me/totp)", ivid.ErrForbidden)
	}
	if rt.perm != "" && !a.Can(rt.perm) {
		return fmt.Errorf("%w: your roles do not allow %s", ivid.ErrForbidden, rt.perm)
	}
	if a.User.Roles.Has(ivid.RoleIndustry) && !s.limits.allow(tokenID, time.Now()) {
		return fmt.Errorf("%w: rate limit of this token reached", ivid.ErrTooMany)
	}
	return rt.h(w, r, a)
}

const cookieName = "ivid_session"

// authenticate reads a Bearer API token or the session cookie.
func (s *Server) authenticate(r *http.Request) (a ivid.Actor, mfa bool, tokenID int64, err error) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return a, false, 0, fmt.Errorf("%w: Authorization must be Bearer", ivid.ErrUnauthenticated)
		}
		a, t, err := s.svc.AuthenticateToken(r.Context(), strings.TrimSpace(tok))
		return a, true, t.ID, err
	}
	c, err := r.Cookie(cookieName)
	if err != nil {
		return a, false, 0, fmt.Errorf("%w: sign in first", ivid.ErrUnauthenticated)
	}
	a, sess, err := s.svc.Authenticate(r.Context(), c.Value)
	if err == nil {
		*r = *r.WithContext(context.WithValue(r.Context(), sessionTokenKey, c.Value))
	}
	return a, sess.MFA, 0, err
}

// status maps domain errors to HTTP, in one place.
func status(err error) int {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, ivid.ErrUnauthenticated):
		return http.StatusUnauthorized
	case errors.Is(err, ivid.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ivid.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ivid.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ivid.ErrTooMany):
		return http.StatusTooManyRequests
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ivid.ErrInvalid), errors.Is(err, errBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, context.Canceled):
		return 499
	}
	return http.StatusInternalServerError
}

var errBadRequest = errors.New("bad request")

// problem is an RFC 9457 problem details body.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// problemOf describes err to the client; a server error's details go to
// the log only, under the request ID.
func (s *Server) problemOf(r *http.Request, err error) problem {
	st := status(err)
	p := problem{Type: "about:blank", Title: http.StatusText(st), Status: st, RequestID: requestID(r)}
	if st >= 500 {
		s.opts.Log.Error("request failed", "request_id", p.RequestID, "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		p.Detail = err.Error()
	}
	return p
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	st := status(err)
	if st == 499 {
		return
	}
	p := s.problemOf(r, err)
	if st == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ivid"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(st)
	json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, st int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(st)
	return json.NewEncoder(w).Encode(v)
}

// readJSON decodes a small JSON body (at most 1 MiB) strictly.
func readJSON(r *http.Request, v any) error { return readJSONMax(r, v, 1<<20) }

func readJSONMax(r *http.Request, v any, limit int64) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: JSON body: %v", errBadRequest, err)
	}
	return nil
}

func pathID(r *http.Request, name string) (int64, error) {
	v, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%w: %s must be a positive number", errBadRequest, name)
	}
	return v, nil
}

type statusRecorder struct {
	http.ResponseWriter
	status  int
	written bool
}

func (s *statusRecorder) WriteHeader(c int) {
	if !s.written {
		s.status, s.written = c, true
	}
	s.ResponseWriter.WriteHeader(c)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.written = true
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// rateLimits is a token bucket per API token.
type rateLimits struct {
	rate float64
	mu   sync.Mutex
	b    map[int64]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimits(rate float64) *rateLimits { return &rateLimits{rate: rate, b: map[int64]*bucket{}} }

func (l *rateLimits) allow(id int64, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	burst := 2 * l.rate
	b := l.b[id]
	if b == nil {
		b = &bucket{tokens: burst, last: now}
		l.b[id] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
