package api

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/ivid-project/ivid/internal/ivid"
)

// metrics counts requests per route and status and their duration, and
// writes them in Prometheus' text exposition format.
type metrics struct {
	mu    sync.Mutex
	count map[[2]string]int64 // route, status
	secs  map[string]float64  // route
	n     map[string]int64
}

func newMetrics() *metrics {
	return &metrics{count: map[[2]string]int64{}, secs: map[string]float64{}, n: map[string]int64{}}
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count[[2]string{route, fmt.Sprint(status)}]++
	m.secs[route] += d.Seconds()
	m.n[route]++
}

func (m *metrics) write(w io.Writer, counters, gauges map[string]float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP ivid_http_requests_total HTTP requests by route and status.")
	fmt.Fprintln(w, "# TYPE ivid_http_requests_total counter")
	keys := make([][2]string, 0, len(m.count))
	for k := range m.count {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int {
		if a[0] != b[0] {
			return cmpStr(a[0], b[0])
		}
		return cmpStr(a[1], b[1])
	})
	for _, k := range keys {
		fmt.Fprintf(w, "ivid_http_requests_total{route=%q,status=%q} %d\n", k[0], k[1], m.count[k])
	}
	fmt.Fprintln(w, "# HELP ivid_http_request_seconds Time spent serving requests by route.")
	fmt.Fprintln(w, "# TYPE ivid_http_request_seconds summary")
	routes := make([]string, 0, len(m.n))
	for r := range m.n {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	for _, r := range routes {
		fmt.Fprintf(w, "ivid_http_request_seconds_sum{route=%q} %g\n", r, m.secs[r])
		fmt.Fprintf(w, "ivid_http_request_seconds_count{route=%q} %d\n", r, m.n[r])
	}
	for _, kind := range []struct {
		name   string
		values map[string]float64
	}{{"counter", counters}, {"gauge", gauges}} {
		for _, n := range slices.Sorted(maps.Keys(kind.values)) {
			fmt.Fprintf(w, "# TYPE %s %s\n%s %g\n", n, kind.name, n, kind.values[n])
		}
	}
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, _ ivid.Actor) error {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	replayed, lag := s.svc.Replayed()
	s.metrics.write(w, map[string]float64{
		// Items whose changes by other servers over the database this one
		// replayed (ivid serve --follow).
		"ivid_index_changes_replayed_total": float64(replayed),
		// Their ratio is the items a sync serves: see groupItems.
		"ivid_contribution_commits_total":         float64(s.commits.Load()),
		"ivid_contribution_items_committed_total": float64(s.committed.Load()),
		// Abandoned since the start; the gauge below, those still running,
		// each holding a processor: see filehash.ErrDecodeLimit and livez.
		"ivid_image_decodings_abandoned_total": float64(s.svc.DecodingsAbandoned()),
	}, map[string]float64{
		"ivid_index_items":           float64(s.svc.IndexSize()),
		"ivid_baseline_items":        float64(s.svc.BaselineSize()),
		"ivid_image_decodings_stuck": float64(s.svc.DecodingsStuck()),
		// From the commit of the last change replayed to its replay.
		"ivid_index_replay_lag_seconds": lag.Seconds(),
	})
	return nil
}
