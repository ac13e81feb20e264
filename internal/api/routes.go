package api

import (
	"net/http"

	"github.com/ivid-project/ivid/internal/ivid"
)

// table is every route of the API: method, pattern, who may call it, and
// the handler. Authorization by role is read from here by wrap; the
// services then scope by agency and sharing level.
func (s *Server) table() []route {
	return []route{
		{"GET", "/livez", public, "", "Liveness: fails while stuck image decodings could hold every hashing processor", s.livez},
		{"GET", "/readyz", public, "", "Readiness: database reachable, index loaded", s.readyz},
		{"GET", "/metrics", signedIn, ivid.PermMetrics, "Prometheus metrics (roles monitor, auditor, hub-admin)", s.handleMetrics},
		{"GET", "/api/openapi.json", public, "", "This API's OpenAPI 3 document", s.openAPI},

		{"POST", "/api/v1/login", public, "", "Sign in with name, password and TOTP code; sets the session cookie", s.login},
		{"POST", "/api/v1/logout", enrolling, "", "Sign out", s.logout},
		{"GET", "/api/v1/me", enrolling, "", "The signed-in user, agency and permissions", s.me},
		{"POST", "/api/v1/me/totp", enrolling, ivid.PermAccount, "Start TOTP enrolment: secret, otpauth URL, QR code", s.totpStart},
		{"POST", "/api/v1/me/totp/confirm", enrolling, ivid.PermAccount, "Confirm TOTP enrolment with a code", s.totpConfirm},
		{"POST", "/api/v1/me/tokens", signedIn, ivid.PermAccount, "Create an API token for oneself", s.createOwnToken},

		{"GET", "/api/v1/agencies", signedIn, ivid.PermReadFacts, "List member agencies", s.listAgencies},
		{"POST", "/api/v1/agencies", signedIn, ivid.PermManageAgencies, "Admit an agency", s.createAgency},
		{"GET", "/api/v1/users", signedIn, ivid.PermManageUsers, "List users (own agency; hub: all)", s.listUsers},
		{"POST", "/api/v1/users", signedIn, ivid.PermManageUsers, "Create a user with a one-time password", s.createUser},
		{"POST", "/api/v1/users/{id}/tokens", signedIn, ivid.PermManageAgencies, "Issue an API token to an industry or monitor user", s.createUserToken},

		{"GET", "/api/v1/cases", signedIn, ivid.PermReadCases, "List my agency's cases", s.listCases},
		{"POST", "/api/v1/cases", signedIn, ivid.PermContribute, "Open a case", s.createCase},
		{"GET", "/api/v1/cases/{id}", signedIn, ivid.PermReadCases, "A case of my agency", s.getCase},
		{"GET", "/api/v1/cases/{id}/media", signedIn, ivid.PermReadCases, "Items submitted in a case", s.caseMedia},
		{"POST", "/api/v1/cases/{id}/media", signedIn, ivid.PermContribute, "Contribute files (multipart, streamed); one JSON line back per file (part, file, comparison or error, status), in the order they are committed. A part may carry an Idempotency-Key header: the file sent again to the case under it adds no second submission", s.contribute},
		{"POST", "/api/v1/cases/{id}/hashes", signedIn, ivid.PermContribute, "Contribute hashes only (VICS JSON, ICSE CSV, CSV or ivid hash list body). With an Idempotency-Key header, and first=N where the body is part of a list from its entry N, a request sent again adds no submission for the entries already committed", s.contributeHashes},
		{"GET", "/api/v1/cases/{id}/export", signedIn, ivid.PermReadCases, "Export a case's items as VICS JSON, ICSE CSV, CSV or ivid JSON Lines (audited; hashes and facts, no pixels)", s.exportCase},

		{"GET", "/api/v1/media/{id}", signedIn, ivid.PermReadFacts, "An item's facts: hashes, metadata, series, links", s.getMedia},
		{"GET", "/api/v1/media/{id}/content", signedIn, ivid.PermReadPixels, "An item's pixels (audited; own agency or network-shared only)", s.mediaContent},
		{"GET", "/api/v1/media/{id}/sheet", signedIn, ivid.PermReadPixels, "A video's contact sheet: a JPEG grid of frames (audited like pixels)", s.mediaSheet},
		{"POST", "/api/v1/media/categorise", signedIn, ivid.PermCategorise, "Categorise one or many items", s.categorise},
		{"POST", "/api/v1/media/{id}/clues", signedIn, ivid.PermClue, "Add a clue, optionally on a rectangle", s.addClue},
		{"POST", "/api/v1/media/{id}/baseline", signedIn, "", "Propose an item for Baseline, or confirm it from a second agency", s.voteBaseline},
		{"GET", "/api/v1/review", signedIn, ivid.PermCategorise, "My agency's uncategorised items", s.reviewQueue},

		{"GET", "/api/v1/series", signedIn, ivid.PermReadFacts, "Every series with claims and identifications (deconfliction)", s.listSeries},
		{"POST", "/api/v1/series", signedIn, ivid.PermEditSeries, "Create a series", s.createSeries},
		{"GET", "/api/v1/series/{id}", signedIn, ivid.PermReadFacts, "A series, its items, claims, victims and offenders", s.getSeries},
		{"POST", "/api/v1/series/{id}/media", signedIn, ivid.PermCategorise, "Put items into a series", s.assignSeries},
		{"POST", "/api/v1/series/{id}/merge", signedIn, ivid.PermEditSeries, "Merge another series into this one", s.mergeSeries},
		{"POST", "/api/v1/series/{id}/claim", signedIn, ivid.PermClaim, "Claim a series for my agency", s.claim},
		{"POST", "/api/v1/series/{id}/release", signedIn, ivid.PermClaim, "Release my agency's claim", s.release},
		{"POST", "/api/v1/series/{id}/victims", signedIn, ivid.PermIdentify, "Record a victim (identified or not)", s.recordVictim},
		{"POST", "/api/v1/series/{id}/offenders", signedIn, ivid.PermIdentify, "Record an offender, with a notice reference", s.recordOffender},

		{"GET", "/api/v1/stats", signedIn, ivid.PermStats, "Network statistics", s.stats},
		{"GET", "/api/v1/audit", signedIn, ivid.PermAudit, "Audit records", s.auditList},
		{"POST", "/api/v1/audit/verify", signedIn, ivid.PermAudit, "Verify the audit trail's chain", s.auditVerify},

		{"POST", "/api/v1/match", signedIn, ivid.PermMatch, "Industry: match hashes against the Baseline list", s.match},
		{"GET", "/api/v1/baseline", signedIn, ivid.PermBaselineList, "Industry: the Baseline list (csv or vics), streamed", s.baselineList},
	}
}

// livez fails once image decodings abandoned at the time limit, and still
// running, could hold every hashing processor: Go cannot stop them, a
// restart can (an orchestrator restarts a server whose liveness fails).
func (s *Server) livez(w http.ResponseWriter, r *http.Request, _ ivid.Actor) error {
	if s.svc.DecodingsStuck() >= int64(cap(s.hashSlots)) {
		return writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "image decodings stuck: restart"})
	}
	return writeJSON(w, 200, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ ivid.Actor) error {
	if err := s.svc.Ready(r.Context()); err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, err := w.Write([]byte(`{"status":"database unreachable"}` + "\n"))
		return err
	}
	// Public, for load balancers: the index's size is for /metrics.
	return writeJSON(w, 200, map[string]any{"status": "ready"})
}
