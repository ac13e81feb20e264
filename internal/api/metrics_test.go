package api

import (
	"io"
	"strings"
	"testing"

	"github.com/ivid-project/ivid/internal/ivid"
	"github.com/ivid-project/ivid/internal/storage"
	"github.com/ivid-project/ivid/internal/storage/storagetest"
)

// TestMonitorAccount: /metrics is for a scraper's token, which the hub
// issues to a monitor user of its own; that token reads nothing else,
// nobody else grants the role, and the public probes tell no figures.
func TestMonitorAccount(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db, Options{})
		hub, fr := f.agency["Hub"].ID, f.agency["FR"].ID
		for _, c := range []struct {
			user   string
			agency ivid.AgencyID
			roles  string
			want   int
		}{
			{"fr-admin", fr, "monitor", 403},          // only the hub grants it
			{"hub-admin", fr, "monitor", 400},         // a hub account
			{"hub-admin", hub, "monitor,viewer", 400}, // alone: the hub issues its tokens
		} {
			if st := f.json(c.user, "POST", "/api/v1/users", map[string]any{"name": "scraper", "agency_id": c.agency, "roles": c.roles}, nil); st != c.want {
				t.Errorf("%s creating a %s user in agency %d: %d, want %d", c.user, c.roles, c.agency, st, c.want)
			}
		}
		var created struct{ User ivid.User }
		if st := f.json("hub-admin", "POST", "/api/v1/users", map[string]any{"name": "scraper", "agency_id": hub, "roles": "monitor"}, &created); st != 201 {
			t.Fatalf("hub-admin creating a monitor: %d", st)
		}
		var tok struct{ Token string }
		if st := f.json("hub-admin", "POST", "/api/v1/users/"+itoa(int64(created.User.ID))+"/tokens", map[string]any{"name": "prometheus"}, &tok); st != 201 || tok.Token == "" {
			t.Fatalf("token for the monitor: %d", st)
		}
		f.token["scraper"] = tok.Token

		resp := f.do("scraper", "GET", "/metrics", nil, "")
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(body), "# TYPE ivid_index_items gauge\n") ||
			!strings.Contains(string(body), "ivid_index_changes_replayed_total 0\n") || !strings.Contains(string(body), "# TYPE ivid_index_replay_lag_seconds gauge\n") {
			t.Fatalf("/metrics with the monitor's token: %d\n%s", resp.StatusCode, body)
		}
		for _, path := range []string{"/api/v1/stats", "/api/v1/series", "/api/v1/audit", "/api/v1/baseline"} {
			if resp := f.do("scraper", "GET", path, nil, ""); resp.StatusCode != 403 {
				t.Errorf("GET %s with the monitor's token: %d, want 403", path, resp.StatusCode)
			}
		}
		if resp := f.do("", "GET", "/metrics", nil, ""); resp.StatusCode != 401 {
			t.Errorf("anonymous /metrics: %d, want 401", resp.StatusCode)
		}
		// The public readiness probe says ready, not how large the index is.
		resp = f.do("", "GET", "/readyz", nil, "")
		if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"status":"ready"}` {
			t.Errorf("/readyz: %d %s", resp.StatusCode, body)
		}
	})
}
