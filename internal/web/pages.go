package web

import (
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ivid-project/ivid/internal/ivid"
)

// routes is every page; a page's own service calls decide who may see it.
func (w *Web) routes() []page {
	return []page{
		{"GET /login", true, false, w.loginPage},
		{"POST /login", true, false, w.loginPost},
		{"GET /account/totp", false, true, w.totpPage},
		{"POST /account/totp", false, true, w.totpPost},
		{"POST /logout", false, true, w.logout},
		{"GET /{$}", false, false, w.dashboard},
		{"GET /cases", false, false, w.casesPage},
		{"POST /cases", false, false, w.casesPost},
		{"GET /cases/{id}", false, false, w.casePage},
		{"GET /review", false, false, w.reviewPage},
		{"GET /series", false, false, w.seriesList},
		{"POST /series", false, false, w.seriesCreate},
		{"GET /series/{id}", false, false, w.seriesPage},
		{"POST /series/{id}/claim", false, false, seriesAction(w.seriesClaim)},
		{"POST /series/{id}/release", false, false, seriesAction(w.seriesRelease)},
		{"POST /series/{id}/victims", false, false, seriesAction(w.seriesVictim)},
		{"POST /series/{id}/offenders", false, false, seriesAction(w.seriesOffender)},
		{"GET /media/{id}", false, false, w.mediaPage},
		{"GET /media/{id}/image", false, false, w.mediaImage},
		{"GET /media/{id}/sheet", false, false, w.mediaSheet},
		{"POST /media/{id}/clues", false, false, w.mediaClue},
		{"GET /lookup", false, false, w.lookupPage},
		{"POST /lookup", false, false, w.lookupPost},
		{"GET /admin", false, false, w.adminPage},
		{"POST /admin/agencies", false, false, w.adminAgency},
		{"POST /admin/users", false, false, w.adminUser},
		{"POST /admin/tokens", false, false, w.adminToken},
		{"POST /admin/baseline/{id}", false, false, w.adminBaseline},
		{"POST /admin/audit/verify", false, false, w.adminVerify},
		{"GET /settings", false, false, w.settingsPage},
		{"POST /settings", false, false, w.settingsPost},
	}
}

func (w *Web) setSession(rw http.ResponseWriter, token string, sess ivid.Session) {
	http.SetCookie(rw, &http.Cookie{Name: cookieName, Value: token, Path: "/", Expires: sess.Expires, HttpOnly: true,
		Secure: !w.opts.InsecureCookies, SameSite: http.SameSiteStrictMode})
}

func (w *Web) loginPage(rw http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = v.T("login.title")
	return w.render(rw, v, "login")
}

func (w *Web) loginPost(rw http.ResponseWriter, r *http.Request, v *view) error {
	client, _, _ := net.SplitHostPort(r.RemoteAddr)
	token, sess, err := w.svc.Login(r.Context(), r.FormValue("name"), r.FormValue("password"), r.FormValue("code"), client)
	if err != nil {
		v.Title, v.Error = v.T("login.title"), v.T("login.failed")
		if strings.Contains(err.Error(), "too many") {
			v.Error = err.Error()
		}
		rw.WriteHeader(http.StatusUnauthorized)
		return w.render(rw, v, "login")
	}
	w.setSession(rw, token, sess)
	if !sess.MFA {
		http.Redirect(rw, r, "/account/totp", http.StatusSeeOther)
		return nil
	}
	http.Redirect(rw, r, "/", http.StatusSeeOther)
	return nil
}

func (w *Web) totpPage(rw http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = v.T("totp.title")
	if v.Actor.User.TOTPEnabled {
		http.Redirect(rw, r, "/", http.StatusSeeOther)
		return nil
	}
	e, err := w.svc.StartTOTP(r.Context(), v.Actor)
	if err != nil {
		return err
	}
	v.Data["Secret"] = e.Secret
	// A PNG the server rendered itself: safe as a data: URL.
	v.Data["QR"] = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QRPNG))
	return w.render(rw, v, "totp")
}

func (w *Web) totpPost(rw http.ResponseWriter, r *http.Request, v *view) error {
	c, _ := r.Cookie(cookieName)
	if err := w.svc.ConfirmTOTP(r.Context(), v.Actor, c.Value, strings.TrimSpace(r.FormValue("code"))); err != nil {
		return err
	}
	http.Redirect(rw, r, "/", http.StatusSeeOther)
	return nil
}

func (w *Web) logout(rw http.ResponseWriter, r *http.Request, v *view) error {
	if c, err := r.Cookie(cookieName); err == nil {
		w.svc.Logout(r.Context(), v.Actor, c.Value)
	}
	http.SetCookie(rw, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: !w.opts.InsecureCookies, SameSite: http.SameSiteStrictMode})
	http.Redirect(rw, r, "/login", http.StatusSeeOther)
	return nil
}

func (w *Web) dashboard(rw http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = v.T("dash.title"), "dashboard"
	if !v.Actor.Can(ivid.PermStats) {
		if v.Actor.User.Roles.HubIssuesTokens() {
			return fmt.Errorf("%w: industry and monitor accounts use the API", ivid.ErrForbidden)
		}
	}
	st, err := w.svc.Stats(r.Context(), v.Actor)
	if err != nil {
		return err
	}
	v.Data["Stats"] = st
	v.Data["ByCountry"] = barChart(st.VictimsByCountry, "country")
	years := map[string]int{}
	for y, n := range st.VictimsByYear {
		years[strconv.Itoa(y)] = n
	}
	v.Data["ByYear"] = barChart(years, "year")
	if v.Actor.Can(ivid.PermReadFacts) {
		all, err := w.svc.Deconfliction(r.Context(), v.Actor)
		if err != nil {
			return err
		}
		var mine []ivid.SeriesFacts
		for _, s := range all {
			for _, c := range s.Claims {
				if c.AgencyID == v.Actor.Agency.ID {
					mine = append(mine, s)
					break
				}
			}
		}
		v.Data["Mine"] = mine
	}
	if v.Actor.Can(ivid.PermReadCases) {
		recent, err := w.svc.RecentActivity(r.Context(), v.Actor, 8)
		if err != nil {
			return err
		}
		cases, err := w.svc.Cases(r.Context(), v.Actor)
		if err != nil {
			return err
		}
		refs := map[ivid.CaseID]string{}
		for _, c := range cases {
			refs[c.ID] = c.Reference
		}
		v.Data["Recent"], v.Data["CaseRefs"] = recent, refs
	}
	return w.render(rw, v, "dashboard")
}

func (w *Web) casesPage(rw http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = v.T("cases.title"), "cases"
	cs, err := w.svc.Cases(r.Context(), v.Actor)
	if err != nil {
		return err
	}
	v.Data["Cases"] = cs
	return w.render(rw, v, "cases")
}

func (w *Web) casesPost(rw http.ResponseWriter, r *http.Request, v *view) error {
	c, err := w.svc.CreateCase(r.Context(), v.Actor, ivid.Case{Reference: r.FormValue("reference"), Title: r.FormValue("title"), Sharing: ivid.Sharing(r.FormValue("sharing"))})
	if err != nil {
		return err
	}
	http.Redirect(rw, r, fmt.Sprintf("/cases/%d", c.ID), http.StatusSeeOther)
	return nil
}

func (w *Web) casePage(rw http.ResponseWriter, r *http.Request, v *view) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	c, err := w.svc.Case(r.Context(), v.Actor, ivid.CaseID(id))
	if err != nil {
		return err
	}
	items, err := w.svc.CaseMedia(r.Context(), v.Actor, c.ID)
	if err != nil {
		return err
	}
	v.Title, v.Nav = c.Reference, "cases"
	v.Data["Case"], v.Data["Items"] = c, items
	return w.render(rw, v, "case")
}

func (w *Web) reviewPage(rw http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = v.T("review.title"), "review"
	items, err := w.svc.ReviewQueue(r.Context(), v.Actor, 200)
	if err != nil {
		return err
	}
	series, err := w.svc.Deconfliction(r.Context(), v.Actor)
	if err != nil {
		return err
	}
	v.Data["Items"], v.Data["Series"] = items, series
	return w.render(rw, v, "review")
}

func (w *Web) seriesList(rw http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = v.T("series.title"), "series"
	all, err := w.svc.Deconfliction(r.Context(), v.Actor)
	if err != nil {
		return err
	}
	q := strings.ToLower(strings.TrimSpace(r.FormValue("q")))
	var out []ivid.SeriesFacts
	for _, s := range all {
		hay := strings.ToLower(s.Series.Name + " " + string(s.Series.Status))
		for _, c := range s.Claims {
			hay += " " + strings.ToLower(c.Agency+" "+c.Country)
		}
		if q == "" || strings.Contains(hay, q) {
			out = append(out, s)
		}
	}
	v.Data["Series"], v.Data["Q"] = out, r.FormValue("q")
	return w.render(rw, v, "series_list")
}

func (w *Web) seriesCreate(rw http.ResponseWriter, r *http.Request, v *view) error {
	x, err := w.svc.CreateSeries(r.Context(), v.Actor, r.FormValue("name"))
	if err != nil {
		return err
	}
	http.Redirect(rw, r, fmt.Sprintf("/series/%d", x.ID), http.StatusSeeOther)
	return nil
}

func (w *Web) seriesPage(rw http.ResponseWriter, r *http.Request, v *view) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	f, items, err := w.svc.Series(r.Context(), v.Actor, ivid.SeriesID(id))
	if err != nil {
		return err
	}
	mine := false
	for _, c := range f.Claims {
		mine = mine || c.AgencyID == v.Actor.Agency.ID
	}
	var links []ivid.LinkFacts
	var clues []ivid.Clue
	pix := map[ivid.MediaID]bool{}
	seen := map[ivid.MediaID]bool{}
	for _, m := range items {
		seen[m.ID] = true
	}
	for _, m := range items {
		mf, err := w.svc.Media(r.Context(), v.Actor, m.ID)
		if err != nil {
			return err
		}
		pix[m.ID] = mf.CanPixels && m.Kind == ivid.Image
		clues = append(clues, mf.Clues...)
		for _, l := range mf.Links {
			if !seen[l.MediaID] {
				seen[l.MediaID] = true
				links = append(links, l)
			}
		}
	}
	v.Title, v.Nav = f.Series.Name, "series"
	v.Data["F"], v.Data["Items"], v.Data["Mine"], v.Data["Links"] = f, items, mine, links
	v.Data["Pix"], v.Data["Clues"] = pix, clues
	v.Data["Map"] = placesMap(items)
	return w.render(rw, v, "series")
}

// seriesAction is a form post on a series: do acts on it, then the
// series page is shown again.
func seriesAction(do func(r *http.Request, a ivid.Actor, id ivid.SeriesID) error) func(http.ResponseWriter, *http.Request, *view) error {
	return func(rw http.ResponseWriter, r *http.Request, v *view) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		if err := do(r, v.Actor, ivid.SeriesID(id)); err != nil {
			return err
		}
		http.Redirect(rw, r, fmt.Sprintf("/series/%d", id), http.StatusSeeOther)
		return nil
	}
}

func (w *Web) seriesClaim(r *http.Request, a ivid.Actor, id ivid.SeriesID) error {
	_, err := w.svc.Claim(r.Context(), a, id)
	return err
}

func (w *Web) seriesRelease(r *http.Request, a ivid.Actor, id ivid.SeriesID) error {
	return w.svc.Release(r.Context(), a, id)
}

func (w *Web) seriesVictim(r *http.Request, a ivid.Actor, id ivid.SeriesID) error {
	_, err := w.svc.RecordVictim(r.Context(), a, ivid.Victim{SeriesID: id, Identified: r.FormValue("identified") == "on",
		AgeGroup: r.FormValue("age_group"), Sex: r.FormValue("sex")})
	return err
}

func (w *Web) seriesOffender(r *http.Request, a ivid.Actor, id ivid.SeriesID) error {
	_, err := w.svc.RecordOffender(r.Context(), a, ivid.Offender{SeriesID: id, Identified: r.FormValue("identified") == "on",
		Notice: ivid.NoticeType(r.FormValue("notice")), NoticeRef: r.FormValue("notice_ref")})
	return err
}

func (w *Web) mediaPage(rw http.ResponseWriter, r *http.Request, v *view) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	mf, err := w.svc.Media(r.Context(), v.Actor, ivid.MediaID(id))
	if err != nil {
		return err
	}
	v.Title, v.Nav = fmt.Sprintf("%s %d", v.T("media.title"), id), ""
	v.Data["M"] = mf
	return w.render(rw, v, "media")
}

func (w *Web) mediaImage(rw http.ResponseWriter, r *http.Request, v *view) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	rc, m, err := w.svc.Pixels(r.Context(), v.Actor, ivid.MediaID(id))
	if err != nil {
		return err
	}
	defer rc.Close()
	rw.Header().Set("Content-Type", m.MIME)
	rw.Header().Set("Cache-Control", "private, no-store")
	io.Copy(rw, rc)
	return nil
}

func (w *Web) mediaSheet(rw http.ResponseWriter, r *http.Request, v *view) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	tmp := w.opts.SpoolDir
	if tmp == "" {
		tmp = os.TempDir()
	}
	rw.Header().Set("Content-Type", "image/jpeg")
	return w.svc.ContactSheet(r.Context(), v.Actor, ivid.MediaID(id), tmp, rw)
}

func (w *Web) mediaClue(rw http.ResponseWriter, r *http.Request, v *view) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	c := ivid.Clue{MediaID: ivid.MediaID(id), Text: r.FormValue("text")}
	for _, t := range strings.Split(r.FormValue("tags"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			c.Tags = append(c.Tags, t)
		}
	}
	if r.FormValue("w") != "" && r.FormValue("w") != "0" {
		c.Rect = &ivid.Rect{X: int(formID(r, "x")), Y: int(formID(r, "y")), W: int(formID(r, "w")), H: int(formID(r, "h"))}
	}
	if _, err := w.svc.AddClue(r.Context(), v.Actor, c); err != nil {
		return err
	}
	http.Redirect(rw, r, fmt.Sprintf("/media/%d", id), http.StatusSeeOther)
	return nil
}

func (w *Web) lookupPage(rw http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = v.T("lookup.title"), "lookup"
	if q := r.FormValue("q"); q != "" {
		res, err := w.svc.LookupHash(r.Context(), v.Actor, q)
		if err != nil {
			return err
		}
		v.Data["Result"] = res
	}
	return w.render(rw, v, "lookup")
}

func (w *Web) lookupPost(rw http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = v.T("lookup.title"), "lookup"
	r.Body = http.MaxBytesReader(rw, r.Body, 512<<20)
	f, hdr, err := r.FormFile("file")
	if err != nil {
		return fmt.Errorf("%w: choose a file", ivid.ErrInvalid)
	}
	defer f.Close()
	tmp, err := os.CreateTemp(w.opts.SpoolDir, "lookup-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, f)
	tmp.Close()
	if err != nil {
		return err
	}
	res, err := w.svc.LookupFile(r.Context(), v.Actor, filepath.Base(hdr.Filename), tmp.Name())
	if err != nil {
		return err
	}
	v.Data["Result"] = res
	return w.render(rw, v, "lookup")
}

func (w *Web) adminPage(rw http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = v.T("admin.title"), "admin"
	a := v.Actor
	if !a.Can(ivid.PermManageUsers) && !a.Can(ivid.PermManageAgencies) && !a.Can(ivid.PermAudit) && !a.Can(ivid.PermBaselineConfirm) {
		return ivid.ErrForbidden
	}
	ctx := r.Context()
	if a.Can(ivid.PermReadFacts) || a.Can(ivid.PermAudit) {
		ags, err := w.svc.Agencies(ctx, a)
		if err != nil {
			return err
		}
		v.Data["Agencies"] = ags
	}
	if a.Can(ivid.PermManageUsers) {
		us, err := w.svc.Users(ctx, a)
		if err != nil {
			return err
		}
		v.Data["Users"] = us
	}
	if a.Can(ivid.PermBaselineConfirm) {
		ms, err := w.svc.ProposedBaseline(ctx, a)
		if err != nil {
			return err
		}
		v.Data["Proposed"] = ms
	}
	if a.Can(ivid.PermAudit) {
		recs, err := w.svc.AuditRecords(ctx, a, -50, 50)
		if err != nil {
			return err
		}
		slices.Reverse(recs)
		v.Data["Audit"] = recs
	}
	v.Data["Roles"] = ivid.AllRoles
	v.Flash = r.FormValue("flash")
	return w.render(rw, v, "admin")
}

func (w *Web) adminAgency(rw http.ResponseWriter, r *http.Request, v *view) error {
	_, err := w.svc.CreateAgency(r.Context(), v.Actor, ivid.Agency{Name: r.FormValue("name"), Country: strings.ToUpper(r.FormValue("country")), Kind: ivid.AgencyKind(r.FormValue("kind"))})
	if err != nil {
		return err
	}
	http.Redirect(rw, r, "/admin", http.StatusSeeOther)
	return nil
}

func (w *Web) adminUser(rw http.ResponseWriter, r *http.Request, v *view) error {
	roles, err := ivid.ParseRoles(strings.Join(r.Form["roles"], ","))
	if err != nil {
		return err
	}
	agency := ivid.AgencyID(formID(r, "agency"))
	if agency == 0 {
		agency = v.Actor.Agency.ID
	}
	u, pw, err := w.svc.CreateUser(r.Context(), v.Actor, r.FormValue("name"), agency, roles, "")
	if err != nil {
		return err
	}
	v.Flash = fmt.Sprintf("%s %s: %s", v.T("admin.onetime"), u.Name, pw)
	return w.adminPage(rw, r, v)
}

func (w *Web) adminToken(rw http.ResponseWriter, r *http.Request, v *view) error {
	tok, _, err := w.svc.CreateToken(r.Context(), v.Actor, ivid.UserID(formID(r, "user")), r.FormValue("name"), 0)
	if err != nil {
		return err
	}
	v.Flash = v.T("admin.token") + " " + tok
	return w.adminPage(rw, r, v)
}

func (w *Web) adminBaseline(rw http.ResponseWriter, r *http.Request, v *view) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if _, err := w.svc.VoteBaseline(r.Context(), v.Actor, ivid.MediaID(id)); err != nil {
		return err
	}
	http.Redirect(rw, r, "/admin", http.StatusSeeOther)
	return nil
}

func (w *Web) adminVerify(rw http.ResponseWriter, r *http.Request, v *view) error {
	n, err := w.svc.VerifyAudit(r.Context(), v.Actor)
	if err != nil {
		v.Flash = fmt.Sprintf("BROKEN after %d records: %v", n, err)
	} else {
		v.Flash = fmt.Sprintf("%d records, chain intact", n)
	}
	return w.adminPage(rw, r, v)
}

func (w *Web) settingsPage(rw http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = v.T("settings.title"), "settings"
	return w.render(rw, v, "settings")
}

func (w *Web) settingsPost(rw http.ResponseWriter, r *http.Request, v *view) error {
	b := func(name string) string {
		if r.FormValue(name) == "on" {
			return "1"
		}
		return "0"
	}
	size, _ := strconv.Atoi(r.FormValue("size"))
	if !slices.Contains(thumbSizes, size) {
		size = 160
	}
	http.SetCookie(rw, &http.Cookie{Name: "ivid_prefs", Value: b("blur") + "." + b("grey") + "." + strconv.Itoa(size), Path: "/", MaxAge: 365 * 86400,
		HttpOnly: true, Secure: !w.opts.InsecureCookies, SameSite: http.SameSiteStrictMode})
	if l := r.FormValue("lang"); l == "en" || l == "fr" {
		http.SetCookie(rw, &http.Cookie{Name: "ivid_lang", Value: l, Path: "/", MaxAge: 365 * 86400, HttpOnly: true, Secure: !w.opts.InsecureCookies, SameSite: http.SameSiteStrictMode})
	}
	http.Redirect(rw, r, "/settings", http.StatusSeeOther)
	return nil
}
