package api

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/ivid"
)

func (s *Server) login(w http.ResponseWriter, r *http.Request, _ ivid.Actor) error {
	var in struct {
		Name     string `json:"name"`
		Password string `json:"password"`
		Code     string `json:"code"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	client, _, _ := net.SplitHostPort(r.RemoteAddr)
	token, sess, err := s.svc.Login(r.Context(), in.Name, in.Password, in.Code, client)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: "/", Expires: sess.Expires, HttpOnly: true,
		Secure: !s.opts.InsecureCookies, SameSite: http.SameSiteStrictMode})
	a, _, err := s.svc.Authenticate(r.Context(), token)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, map[string]any{"user": a.User, "agency": a.Agency, "mfa": sess.MFA,
		"totp_enrolment_required": !sess.MFA, "expires": sess.Expires})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	if tok, ok := r.Context().Value(sessionTokenKey).(string); ok {
		if err := s.svc.Logout(r.Context(), a, tok); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: !s.opts.InsecureCookies, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	var perms []ivid.Permission
	for _, p := range allPermissions {
		if a.Can(p) {
			perms = append(perms, p)
		}
	}
	return writeJSON(w, 200, map[string]any{"user": a.User, "agency": a.Agency, "permissions": perms})
}

var allPermissions = []ivid.Permission{ivid.PermReadFacts, ivid.PermReadPixels, ivid.PermReadCases, ivid.PermContribute, ivid.PermCategorise,
	ivid.PermEditSeries, ivid.PermClue, ivid.PermClaim, ivid.PermIdentify, ivid.PermBaselinePropose, ivid.PermBaselineConfirm,
	ivid.PermManageUsers, ivid.PermManageAgencies, ivid.PermAudit, ivid.PermStats, ivid.PermExport, ivid.PermMatch, ivid.PermBaselineList, ivid.PermAccount}

func (s *Server) totpStart(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	e, err := s.svc.StartTOTP(r.Context(), a)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, map[string]string{"secret": e.Secret, "otpauth_url": e.URL, "qr_png_base64": base64.StdEncoding.EncodeToString(e.QRPNG)})
}

func (s *Server) totpConfirm(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	var in struct {
		Code string `json:"code"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	tok, _ := r.Context().Value(sessionTokenKey).(string)
	if err := s.svc.ConfirmTOTP(r.Context(), a, tok, in.Code); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type tokenIn struct {
	Name     string `json:"name"`
	TTLHours int    `json:"ttl_hours"`
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request, a ivid.Actor, user ivid.UserID) error {
	var in tokenIn
	if err := readJSON(r, &in); err != nil {
		return err
	}
	tok, t, err := s.svc.CreateToken(r.Context(), a, user, in.Name, time.Duration(in.TTLHours)*time.Hour)
	if err != nil {
		return err
	}
	return writeJSON(w, 201, map[string]any{"token": tok, "info": t})
}

func (s *Server) createOwnToken(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	return s.issueToken(w, r, a, 0)
}

func (s *Server) createUserToken(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	return s.issueToken(w, r, a, ivid.UserID(id))
}

func (s *Server) listAgencies(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	as, err := s.svc.Agencies(r.Context(), a)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, as)
}

func (s *Server) createAgency(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	var in struct {
		Name    string          `json:"name"`
		Country string          `json:"country"`
		Kind    ivid.AgencyKind `json:"kind"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	ag, err := s.svc.CreateAgency(r.Context(), a, ivid.Agency{Name: in.Name, Country: in.Country, Kind: in.Kind})
	if err != nil {
		return err
	}
	return writeJSON(w, 201, ag)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	us, err := s.svc.Users(r.Context(), a)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, us)
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	var in struct {
		Name     string        `json:"name"`
		AgencyID ivid.AgencyID `json:"agency_id"`
		Roles    string        `json:"roles"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	roles, err := ivid.ParseRoles(in.Roles)
	if err != nil {
		return err
	}
	if in.AgencyID == 0 {
		in.AgencyID = a.Agency.ID
	}
	u, pw, err := s.svc.CreateUser(r.Context(), a, in.Name, in.AgencyID, roles, "")
	if err != nil {
		return err
	}
	return writeJSON(w, 201, map[string]any{"user": u, "one_time_password": pw})
}

func (s *Server) listCases(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	cs, err := s.svc.Cases(r.Context(), a)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, cs)
}

func (s *Server) createCase(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	var in struct {
		Reference string       `json:"reference"`
		Title     string       `json:"title"`
		Sharing   ivid.Sharing `json:"sharing"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	c, err := s.svc.CreateCase(r.Context(), a, ivid.Case{Reference: in.Reference, Title: in.Title, Sharing: in.Sharing})
	if err != nil {
		return err
	}
	return writeJSON(w, 201, c)
}

func (s *Server) getCase(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	c, err := s.svc.Case(r.Context(), a, ivid.CaseID(id))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, c)
}

func (s *Server) caseMedia(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ms, err := s.svc.CaseMedia(r.Context(), a, ivid.CaseID(id))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, ms)
}

func (s *Server) getMedia(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	m, err := s.svc.Media(r.Context(), a, ivid.MediaID(id))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, m)
}

func (s *Server) mediaContent(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	rc, m, err := s.svc.Pixels(r.Context(), a, ivid.MediaID(id))
	if err != nil {
		return err
	}
	defer rc.Close()
	w.Header().Set("Content-Type", m.MIME)
	w.Header().Set("Content-Length", strconv.FormatInt(m.Size, 10))
	w.Header().Set("Content-Disposition", "inline")
	if _, err := io.Copy(w, rc); err != nil {
		// Headers are gone; the log keeps the cause (an integrity failure
		// stops the stream short of Content-Length).
		s.opts.Log.Error("media content", "request_id", requestID(r), "media_id", id, "err", err)
	}
	return nil
}

func (s *Server) categorise(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	var in struct {
		IDs      []ivid.MediaID   `json:"ids"`
		Category hashset.Category `json:"category"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	if err := s.svc.Categorise(r.Context(), a, in.IDs, in.Category); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) addClue(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in struct {
		Text string     `json:"text"`
		Tags []string   `json:"tags"`
		Rect *ivid.Rect `json:"rect"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	c, err := s.svc.AddClue(r.Context(), a, ivid.Clue{MediaID: ivid.MediaID(id), Text: in.Text, Tags: in.Tags, Rect: in.Rect})
	if err != nil {
		return err
	}
	return writeJSON(w, 201, c)
}

func (s *Server) voteBaseline(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	st, err := s.svc.VoteBaseline(r.Context(), a, ivid.MediaID(id))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, map[string]string{"baseline": string(st)})
}

func (s *Server) reviewQueue(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	ms, err := s.svc.ReviewQueue(r.Context(), a, limit)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, ms)
}

func (s *Server) listSeries(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	fs, err := s.svc.Deconfliction(r.Context(), a)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, fs)
}

func (s *Server) createSeries(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	x, err := s.svc.CreateSeries(r.Context(), a, in.Name)
	if err != nil {
		return err
	}
	return writeJSON(w, 201, x)
}

func (s *Server) getSeries(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	f, items, err := s.svc.Series(r.Context(), a, ivid.SeriesID(id))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, map[string]any{"facts": f, "items": items})
}

func (s *Server) assignSeries(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in struct {
		IDs []ivid.MediaID `json:"ids"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	if err := s.svc.AssignSeries(r.Context(), a, in.IDs, ivid.SeriesID(id)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) mergeSeries(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in struct {
		From ivid.SeriesID `json:"from"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	if err := s.svc.MergeSeries(r.Context(), a, ivid.SeriesID(id), in.From); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) claim(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	c, err := s.svc.Claim(r.Context(), a, ivid.SeriesID(id))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, c)
}

func (s *Server) release(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.svc.Release(r.Context(), a, ivid.SeriesID(id)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) recordVictim(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in struct {
		Identified bool   `json:"identified"`
		AgeGroup   string `json:"age_group"`
		Sex        string `json:"sex"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	v, err := s.svc.RecordVictim(r.Context(), a, ivid.Victim{SeriesID: ivid.SeriesID(id), Identified: in.Identified, AgeGroup: in.AgeGroup, Sex: in.Sex})
	if err != nil {
		return err
	}
	return writeJSON(w, 201, v)
}

func (s *Server) recordOffender(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in struct {
		Identified bool            `json:"identified"`
		Notice     ivid.NoticeType `json:"notice"`
		NoticeRef  string          `json:"notice_ref"`
	}
	if err := readJSON(r, &in); err != nil {
		return err
	}
	o, err := s.svc.RecordOffender(r.Context(), a, ivid.Offender{SeriesID: ivid.SeriesID(id), Identified: in.Identified, Notice: in.Notice, NoticeRef: in.NoticeRef})
	if err != nil {
		return err
	}
	return writeJSON(w, 201, o)
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	st, err := s.svc.Stats(r.Context(), a)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, st)
}

func (s *Server) auditList(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	from, _ := strconv.ParseInt(r.URL.Query().Get("from"), 10, 64)
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rs, err := s.svc.AuditRecords(r.Context(), a, from, limit)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, rs)
}

func (s *Server) auditVerify(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	n, err := s.svc.VerifyAudit(r.Context(), a)
	if err != nil && n >= 0 && !isBreak(err) {
		return err
	}
	out := map[string]any{"records": n, "intact": err == nil}
	if err != nil {
		out["break"] = err.Error()
	}
	return writeJSON(w, 200, out)
}

func (s *Server) match(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	var in struct {
		Hashes []ivid.MatchQuery `json:"hashes"`
	}
	// Up to MaxMatchBatch hashes of about 90 bytes each.
	if err := readJSONMax(r, &in, 4<<20); err != nil {
		return err
	}
	res, err := s.svc.Match(r.Context(), a, in.Hashes)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, map[string]any{"results": res})
}

func (s *Server) baselineList(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	hw, format, err := hashSetWriter(w, r, "ivid-baseline", "csv", "vics")
	if err != nil {
		return err
	}
	if err := s.svc.BaselineList(r.Context(), a, format, hw.Write); err != nil {
		return err
	}
	return hw.Close()
}

func (s *Server) exportCase(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	// Check access before anything is written: an error must still be
	// able to change the status.
	if _, err := s.svc.Case(r.Context(), a, ivid.CaseID(id)); err != nil {
		return err
	}
	hw, format, err := hashSetWriter(w, r, fmt.Sprintf("ivid-case-%d", id), "vics", "icse", "csv", "ivid")
	if err != nil {
		return err
	}
	if err := s.svc.ExportCase(r.Context(), a, ivid.CaseID(id), format, hw.Write); err != nil {
		return err
	}
	return hw.Close()
}

// hashSetWriter starts a hash-set download in the format the query asks
// for (the first of formats by default), setting its headers.
func hashSetWriter(w http.ResponseWriter, r *http.Request, name string, formats ...string) (hashset.Writer, string, error) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = formats[0]
	}
	if !slices.Contains(formats, format) {
		return nil, "", fmt.Errorf("%w: format is one of %s", errBadRequest, strings.Join(formats, ", "))
	}
	ext, ctype := "csv", "text/csv"
	switch hashset.Format(format) {
	case hashset.FormatVICS:
		ext, ctype = "json", "application/json"
	case hashset.FormatNative:
		ext, ctype = "jsonl", "application/x-ndjson"
	}
	// Headers first: a writer may start the body at once.
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+"."+ext+`"`)
	hw, err := hashset.NewWriter(w, hashset.Format(format), hashset.Header{Name: name, Kind: hashset.Known})
	return hw, format, err
}

func (s *Server) mediaSheet(w http.ResponseWriter, r *http.Request, a ivid.Actor) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := s.svc.ContactSheet(r.Context(), a, ivid.MediaID(id), s.opts.SpoolDir, &buf); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/jpeg")
	_, err = w.Write(buf.Bytes())
	return err
}
