package api

import (
	"strings"
	"testing"

	"github.com/ivid-project/ivid/internal/demo"
	"github.com/ivid-project/ivid/internal/ivid"
	"github.com/ivid-project/ivid/internal/storage"
	"github.com/ivid-project/ivid/internal/storage/storagetest"
)

// authzMatrix says, for every route, which fixture users the role table
// lets through: v viewer, i investigator, s specialist (fr and de), a
// agency-admin, h hub-admin, u auditor, x industry, m monitor; "*" public. It is
// written by hand, apart from the grants it checks.
var authzMatrix = map[string]string{
	"GET /livez":            "*",
	"GET /readyz":           "*",
	"GET /metrics":          "hum",
	"GET /api/openapi.json": "*",
	"POST /api/v1/login":    "*",

	"POST /api/v1/logout":                "visahuxm",
	"GET /api/v1/me":                     "visahuxm",
	"POST /api/v1/me/totp":               "visahu",
	"POST /api/v1/me/totp/confirm":       "visahu",
	"POST /api/v1/me/tokens":             "visahu",
	"GET /api/v1/agencies":               "visah",
	"POST /api/v1/agencies":              "h",
	"GET /api/v1/users":                  "ah",
	"POST /api/v1/users":                 "ah",
	"POST /api/v1/users/{id}/tokens":     "h",
	"GET /api/v1/cases":                  "visa",
	"POST /api/v1/cases":                 "is",
	"GET /api/v1/cases/{id}":             "visa",
	"GET /api/v1/cases/{id}/media":       "visa",
	"POST /api/v1/cases/{id}/media":      "is",
	"POST /api/v1/cases/{id}/hashes":     "is",
	"GET /api/v1/cases/{id}/export":      "visa",
	"GET /api/v1/media/{id}":             "visah",
	"GET /api/v1/media/{id}/content":     "is",
	"GET /api/v1/media/{id}/sheet":       "is",
	"POST /api/v1/media/categorise":      "s",
	"POST /api/v1/media/{id}/clues":      "is",
	"POST /api/v1/media/{id}/baseline":   "sh",
	"GET /api/v1/review":                 "s",
	"GET /api/v1/series":                 "visah",
	"POST /api/v1/series":                "s",
	"GET /api/v1/series/{id}":            "visah",
	"POST /api/v1/series/{id}/media":     "s",
	"POST /api/v1/series/{id}/merge":     "s",
	"POST /api/v1/series/{id}/claim":     "is",
	"POST /api/v1/series/{id}/release":   "is",
	"POST /api/v1/series/{id}/victims":   "s",
	"POST /api/v1/series/{id}/offenders": "s",
	"GET /api/v1/stats":                  "visahu",
	"GET /api/v1/audit":                  "hu",
	"POST /api/v1/audit/verify":          "hu",
	"POST /api/v1/match":                 "x",
	"GET /api/v1/baseline":               "hx",
}

var roleLetter = map[string]byte{"fr-viewer": 'v', "fr-investigator": 'i', "fr-specialist": 's', "de-specialist": 's',
	"fr-admin": 'a', "hub-admin": 'h', "auditor": 'u', "industry": 'x', "monitor": 'm'}

// TestAuthorizationMatrix sends every route as every user and as nobody:
// a user the matrix excludes gets 403, nobody gets 401, and an allowed
// user never gets either. A route missing from the matrix fails the test.
func TestAuthorizationMatrix(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db, Options{})
		// Objects for the {id} of each route, owned by FR.
		// Network-shared, so that only roles decide here; agency scoping has
		// its own test.
		c := f.newCase("fr-specialist", "2026/authz", ivid.SharingNetwork)
		_, res := f.upload("fr-specialist", c.ID, map[string][]byte{"a.png": scene(t, 1, demo.Original)})
		if len(res) != 1 || res[0].Comparison == nil {
			t.Fatalf("upload: %+v", res)
		}
		var x ivid.Series
		f.json("fr-specialist", "POST", "/api/v1/series", map[string]any{"name": "S"}, &x)
		ids := map[string]int64{
			"cases": int64(c.ID), "media": int64(res[0].Comparison.Media.ID), "series": int64(x.ID), "users": int64(f.user["industry"].ID),
		}
		for _, r := range f.srv.Routes() {
			key := r[0] + " " + r[1]
			allowed, ok := authzMatrix[key]
			if !ok {
				t.Errorf("route %s has no row in the authorization matrix", key)
				continue
			}
			path := r[1]
			for kind, id := range ids {
				path = strings.Replace(path, "/"+kind+"/{id}", "/"+kind+"/"+itoa(id), 1)
			}
			for _, u := range append([]string{""}, userNames()...) {
				// Signing out would end nothing for a token, but keep
				// the calls harmless: no body, so writes fail validation.
				st := f.json(u, r[0], path, nil, nil)
				switch {
				case allowed == "*":
					if st == 401 || st == 403 {
						t.Errorf("%s as %q: %d on a public route", key, u, st)
					}
				case u == "":
					if st != 401 {
						t.Errorf("%s anonymous: %d, want 401", key, st)
					}
				case strings.IndexByte(allowed, roleLetter[u]) >= 0:
					if st == 401 || st == 403 {
						t.Errorf("%s as %s: %d, want to be let through", key, u, st)
					}
				default:
					if st != 403 {
						t.Errorf("%s as %s: %d, want 403", key, u, st)
					}
				}
			}
		}
		for key := range authzMatrix {
			found := false
			for _, r := range f.srv.Routes() {
				found = found || r[0]+" "+r[1] == key
			}
			if !found {
				t.Errorf("matrix row %s names no route", key)
			}
		}
	})
}

func userNames() []string {
	var out []string
	for _, u := range fixtureUsers {
		out = append(out, u.name)
	}
	return out
}
