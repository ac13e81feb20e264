package ivid

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ivid-project/ivid/internal/audit"
	"github.com/ivid-project/ivid/internal/auth"
)

// Bootstrap creates the hub agency and a first hub-admin account when the
// database has no user. The one-time password is taken from password if
// set, else generated; it is returned to be shown once. The account must
// enrol a second factor at its first sign-in.
func (s *Service) Bootstrap(ctx context.Context, name, password string) (created bool, pw string, err error) {
	n, err := s.store.CountUsers(ctx)
	if err != nil || n > 0 {
		return false, "", err
	}
	if password == "" {
		password = auth.NewPassword()
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return false, "", err
	}
	now := s.now()
	err = s.store.InTx(ctx, func(tx Tx) error {
		hub := Agency{Name: "Hub", Kind: Hub, Created: now}
		if err := tx.CreateAgency(ctx, &hub); err != nil {
			return err
		}
		u := User{AgencyID: hub.ID, Name: name, Roles: Roles{RoleHubAdmin}, PasswordHash: hash, Created: now}
		if err := tx.CreateUser(ctx, &u); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, Actor{User: u, Agency: hub}, "user.bootstrap", obj("user", int64(u.ID)), "first hub-admin")
	})
	return err == nil, password, err
}

// Login checks a password and, when the account has one, its TOTP code,
// and opens a session. Failures are throttled per user name and per client
// and audited; the error never says which part was wrong.
func (s *Service) Login(ctx context.Context, name, password, code, client string) (token string, sess Session, err error) {
	now := s.now()
	keys := []string{"user:" + strings.ToLower(name), "client:" + client}
	for _, k := range keys {
		if !s.throttle.Allowed(k, now) {
			return "", Session{}, fmt.Errorf("%w: too many failed sign-ins, wait 15 minutes", ErrTooMany)
		}
	}
	fail := func(u User, why string) (string, Session, error) {
		for _, k := range keys {
			s.throttle.Fail(k, now)
		}
		s.record(ctx, Actor{User: User{ID: u.ID}, Agency: Agency{ID: u.AgencyID}}, "login.fail", "user/"+name, why+" client="+client)
		return "", Session{}, fmt.Errorf("%w: wrong user name, password or code", ErrUnauthenticated)
	}
	u, err := s.store.UserByName(ctx, name)
	if errors.Is(err, ErrNotFound) {
		auth.CheckMissingUser(password)
		return fail(User{}, "unknown user")
	}
	if err != nil {
		return "", Session{}, err
	}
	if u.Disabled {
		return fail(u, "disabled")
	}
	if err := auth.CheckPassword(u.PasswordHash, password); err != nil {
		return fail(u, "password")
	}
	mfa := !u.Roles.NeedsTOTP() || s.cfg.TOTPOptional
	if u.TOTPEnabled {
		if !s.checkTOTP(u, code, now) {
			return fail(u, "totp")
		}
		mfa = true
	}
	for _, k := range keys {
		s.throttle.Succeed(k)
	}
	token, hash := auth.NewToken("ivs_")
	sess = Session{Hash: hash, UserID: u.ID, Created: now, Expires: now.Add(s.cfg.SessionTTL), MFA: mfa}
	ag, err := s.store.Agency(ctx, u.AgencyID)
	if err != nil {
		return "", Session{}, err
	}
	err = s.change(ctx, Actor{User: u, Agency: ag}, "login", func(tx Tx) (string, string, error) {
		return obj("user", int64(u.ID)), fmt.Sprintf("mfa=%v name=%s client=%s", mfa, u.Name, client), tx.CreateSession(ctx, sess)
	})
	return token, sess, err
}

// Authenticate resolves a session token. A session whose second factor is
// still missing comes back with MFA false: only enrolment is allowed then.
func (s *Service) Authenticate(ctx context.Context, token string) (Actor, Session, error) {
	sess, err := s.store.Session(ctx, auth.HashToken(token))
	if errors.Is(err, ErrNotFound) || err == nil && s.now().After(sess.Expires) {
		return Actor{}, Session{}, fmt.Errorf("%w: session expired or unknown", ErrUnauthenticated)
	}
	if err != nil {
		return Actor{}, Session{}, err
	}
	a, err := s.actor(ctx, sess.UserID)
	return a, sess, err
}

// AuthenticateToken resolves an API token. Resolved tokens are cached for
// a few seconds (tokenCacheTTL), so that a partner's stream of match
// requests does not cost three queries each; a revoked or disabled
// account's token stops working within that delay.
func (s *Service) AuthenticateToken(ctx context.Context, token string) (Actor, Token, error) {
	hash := auth.HashToken(token)
	now := s.now()
	if c, ok := s.tokens.get(hash, now); ok {
		return c.actor, c.token, nil
	}
	a, t, err := s.authenticateToken(ctx, hash)
	if err == nil {
		s.tokens.put(hash, cachedToken{actor: a, token: t, until: now.Add(tokenCacheTTL)})
	}
	return a, t, err
}

func (s *Service) authenticateToken(ctx context.Context, hash string) (Actor, Token, error) {
	t, err := s.store.TokenByHash(ctx, hash)
	if errors.Is(err, ErrNotFound) || err == nil && t.Expires != nil && s.now().After(*t.Expires) {
		return Actor{}, Token{}, fmt.Errorf("%w: API token expired or unknown", ErrUnauthenticated)
	}
	if err != nil {
		return Actor{}, Token{}, err
	}
	a, err := s.actor(ctx, t.UserID)
	return a, t, err
}

func (s *Service) actor(ctx context.Context, id UserID) (Actor, error) {
	u, err := s.store.User(ctx, id)
	if err != nil {
		return Actor{}, err
	}
	if u.Disabled {
		return Actor{}, fmt.Errorf("%w: account disabled", ErrUnauthenticated)
	}
	ag, err := s.store.Agency(ctx, u.AgencyID)
	return Actor{User: u, Agency: ag}, err
}

// Logout ends a session.
func (s *Service) Logout(ctx context.Context, a Actor, token string) error {
	return s.change(ctx, a, "logout", func(tx Tx) (string, string, error) {
		return obj("user", int64(a.User.ID)), "", tx.DeleteSession(ctx, auth.HashToken(token))
	})
}

// TOTPEnrolment is what a user needs to add ivid to an authenticator app.
type TOTPEnrolment struct {
	Secret string `json:"secret"`
	URL    string `json:"otpauth_url"`
	QRPNG  []byte `json:"qr_png"`
}

// StartTOTP creates a new secret for the actor, not yet in force.
func (s *Service) StartTOTP(ctx context.Context, a Actor) (TOTPEnrolment, error) {
	if a.User.TOTPEnabled {
		return TOTPEnrolment{}, fmt.Errorf("%w: a second factor is already enrolled", ErrConflict)
	}
	secret, url, png, err := auth.NewTOTP("ivid", a.User.Name)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	u := a.User
	u.TOTPSecret = s.cfg.Secrets.Seal(secret, totpContext(u.ID))
	err = s.change(ctx, a, "totp.start", func(tx Tx) (string, string, error) { return obj("user", int64(u.ID)), "", tx.UpdateUser(ctx, &u) })
	return TOTPEnrolment{Secret: secret, URL: url, QRPNG: png}, err
}

// ConfirmTOTP puts the secret in force once a code from it is given, and
// completes the current session's second factor.
func (s *Service) ConfirmTOTP(ctx context.Context, a Actor, sessionToken, code string) error {
	u, err := s.store.User(ctx, a.User.ID)
	if err != nil {
		return err
	}
	if u.TOTPSecret == "" || u.TOTPEnabled {
		return fmt.Errorf("%w: no enrolment in progress", ErrConflict)
	}
	if !s.checkTOTP(u, code, s.now()) {
		return fmt.Errorf("%w: wrong code", ErrInvalid)
	}
	u.TOTPEnabled = true
	o := obj("user", int64(u.ID))
	return s.change(ctx, a, "totp.confirm", func(tx Tx) (string, string, error) {
		if err := tx.UpdateUser(ctx, &u); err != nil {
			return o, "", err
		}
		if sessionToken == "" {
			return o, "", nil
		}
		sess, err := tx.Session(ctx, auth.HashToken(sessionToken))
		if err != nil {
			return o, "", err
		}
		sess.MFA = true
		return o, "", tx.UpdateSession(ctx, sess)
	})
}

var countryRE = regexp.MustCompile(`^[A-Z]{2}$`)

// CreateAgency admits a member organisation (hub-admin).
func (s *Service) CreateAgency(ctx context.Context, a Actor, ag Agency) (Agency, error) {
	if err := a.require(PermManageAgencies); err != nil {
		return Agency{}, err
	}
	ag.Name = strings.TrimSpace(ag.Name)
	if ag.Name == "" || (ag.Kind != NationalUnit && ag.Kind != Hub && ag.Kind != Industry) {
		return Agency{}, fmt.Errorf("%w: an agency needs a name and a kind (national, hub or industry)", ErrInvalid)
	}
	if ag.Kind == NationalUnit && !countryRE.MatchString(ag.Country) {
		return Agency{}, fmt.Errorf("%w: a national unit needs an ISO 3166 country code", ErrInvalid)
	}
	ag.Created = s.now()
	err := s.change(ctx, a, "agency.create", func(tx Tx) (string, string, error) {
		err := tx.CreateAgency(ctx, &ag)
		return obj("agency", int64(ag.ID)), "kind=" + string(ag.Kind) + " country=" + ag.Country, err
	})
	return ag, conflict(err)
}

// conflict maps unique-constraint failures to ErrConflict.
func conflict(err error) error {
	if err != nil && (strings.Contains(err.Error(), "UNIQUE") || strings.Contains(err.Error(), "duplicate key")) {
		return fmt.Errorf("%w: already exists", ErrConflict)
	}
	return err
}

// Agencies lists member organisations (every signed-in user sees them:
// claims and identifications name them).
func (s *Service) Agencies(ctx context.Context, a Actor) ([]Agency, error) {
	if err := a.require(PermReadFacts); err != nil && !a.Can(PermAudit) {
		return nil, err
	}
	return s.store.Agencies(ctx)
}

var userNameRE = regexp.MustCompile(`^[a-zA-Z0-9._@-]{2,64}$`)

// CreateUser adds a user with a one-time password, returned to hand over.
// Agency admins add users to their own agency, without hub or industry
// roles; hub admins to any.
func (s *Service) CreateUser(ctx context.Context, a Actor, name string, agency AgencyID, roles Roles, password string) (User, string, error) {
	if err := a.require(PermManageUsers); err != nil {
		return User{}, "", err
	}
	hub := a.User.Roles.Has(RoleHubAdmin)
	if !hub && agency != a.Agency.ID {
		return User{}, "", fmt.Errorf("%w: users of another agency", ErrForbidden)
	}
	if !hub && (roles.Has(RoleHubAdmin) || roles.Has(RoleIndustry) || roles.Has(RoleAuditor) || roles.Has(RoleMonitor)) {
		return User{}, "", fmt.Errorf("%w: only the hub grants hub-admin, auditor, industry and monitor roles", ErrForbidden)
	}
	if !userNameRE.MatchString(name) || len(roles) == 0 {
		return User{}, "", fmt.Errorf("%w: a user needs a name (letters, digits, . _ @ -) and roles", ErrInvalid)
	}
	ag, err := s.store.Agency(ctx, agency)
	if err != nil {
		return User{}, "", err
	}
	if roles.Has(RoleIndustry) != (ag.Kind == Industry) {
		return User{}, "", fmt.Errorf("%w: the industry role is for users of industry agencies, and only it", ErrInvalid)
	}
	if roles.Has(RoleMonitor) && ag.Kind != Hub {
		return User{}, "", fmt.Errorf("%w: monitor users belong to the hub", ErrInvalid)
	}
	if password == "" {
		password = auth.NewPassword()
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return User{}, "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	u := User{AgencyID: agency, Name: name, Roles: roles, PasswordHash: hash, Created: s.now()}
	err = s.change(ctx, a, "user.create", func(tx Tx) (string, string, error) {
		err := tx.CreateUser(ctx, &u)
		return obj("user", int64(u.ID)), fmt.Sprintf("agency=%d roles=%s", agency, roles), err
	})
	return u, password, conflict(err)
}

// Users lists users: one's own agency, or all for the hub.
func (s *Service) Users(ctx context.Context, a Actor) ([]User, error) {
	if err := a.require(PermManageUsers); err != nil {
		return nil, err
	}
	if a.User.Roles.Has(RoleHubAdmin) {
		return s.store.Users(ctx, 0)
	}
	return s.store.Users(ctx, a.Agency.ID)
}

// CreateToken issues an API token for the actor, or (hub-admin) for an
// industry or monitor user (see Roles.HubIssuesTokens). The token is
// returned once; only its hash is kept.
func (s *Service) CreateToken(ctx context.Context, a Actor, forUser UserID, name string, ttl time.Duration) (string, Token, error) {
	if err := a.require(PermAccount); err != nil {
		return "", Token{}, err
	}
	if forUser == 0 {
		forUser = a.User.ID
	}
	if forUser != a.User.ID {
		target, err := s.store.User(ctx, forUser)
		if err != nil {
			return "", Token{}, err
		}
		if !a.Can(PermManageAgencies) || !target.Roles.HubIssuesTokens() {
			return "", Token{}, fmt.Errorf("%w: tokens for others are for the hub to issue to industry and monitors", ErrForbidden)
		}
	}
	token, hash := auth.NewToken("ivt_")
	t := Token{UserID: forUser, Hash: hash, Name: name, Created: s.now()}
	if ttl > 0 {
		exp := t.Created.Add(ttl)
		t.Expires = &exp
	}
	err := s.change(ctx, a, "token.create", func(tx Tx) (string, string, error) {
		err := tx.CreateToken(ctx, &t)
		return obj("token", t.ID), fmt.Sprintf("user=%d", forUser), err
	})
	return token, t, err
}

// BootstrapPasswordEnv names the variable holding the first password.
const BootstrapPasswordEnv = "IVID_ADMIN_PASSWORD"

// BootstrapPassword reads the first admin's password from the environment.
func BootstrapPassword() string { return os.Getenv(BootstrapPasswordEnv) }

const tokenCacheTTL = 10 * time.Second

type cachedToken struct {
	actor Actor
	token Token
	until time.Time
}

type tokenCache struct {
	mu sync.Mutex
	m  map[string]cachedToken
}

func (c *tokenCache) get(hash string, now time.Time) (cachedToken, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[hash]
	if ok && (now.After(v.until) || v.token.Expires != nil && now.After(*v.token.Expires)) {
		delete(c.m, hash)
		return v, false
	}
	return v, ok
}

func (c *tokenCache) put(hash string, v cachedToken) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 10000 {
		c.m = map[string]cachedToken{}
	}
	c.m[hash] = v
}

// totpContext binds a sealed second-factor secret to its user.
func totpContext(id UserID) string { return fmt.Sprintf("totp user/%d", id) }

// checkTOTP checks a code against the user's sealed secret. A secret that
// does not open (a database moved without its blob store's keyring, or a
// tampered row) fails the check and is logged.
func (s *Service) checkTOTP(u User, code string, now time.Time) bool {
	secret, err := s.cfg.Secrets.Open(u.TOTPSecret, totpContext(u.ID))
	if err != nil {
		s.cfg.Log.Error("second-factor secret does not open", "user", u.ID, "err", err)
		return false
	}
	return auth.CheckTOTP(secret, code, now)
}

// sealLegacySecrets seals, once, the second-factor secrets that versions
// before sealing stored in plain, each with an audit record.
func (s *Service) sealLegacySecrets(ctx context.Context) error {
	users, err := s.store.Users(ctx, 0)
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.TOTPSecret == "" || auth.IsSealed(u.TOTPSecret) {
			continue
		}
		u.TOTPSecret = s.cfg.Secrets.Seal(u.TOTPSecret, totpContext(u.ID))
		a := Actor{User: u, Agency: Agency{ID: u.AgencyID}}
		err := s.change(ctx, a, "totp.seal", func(tx Tx) (string, string, error) {
			return obj("user", int64(u.ID)), "second-factor secret sealed at rest", tx.UpdateUser(ctx, &u)
		})
		if err != nil {
			return fmt.Errorf("seal the second-factor secret of user %d: %w", u.ID, err)
		}
	}
	return nil
}

// replayLogins rebuilds the sign-in throttle from the audit trail's recent
// sign-ins and failures, so that restarting the server does not reset it.
func (s *Service) replayLogins(ctx context.Context) error {
	head, _, err := s.store.AuditMark(ctx)
	if err != nil {
		return err
	}
	since := s.now().Add(-s.throttle.Window)
	var recs []audit.Record
	const page = 1000
	for end := head; end >= 1; end -= page {
		from := max(1, end-page+1)
		got, err := s.store.AuditRange(ctx, from, int(end-from+1))
		if err != nil {
			return err
		}
		recs = append(got, recs...)
		if len(got) == 0 || got[0].Time.Before(since) {
			break
		}
	}
	field := func(detail, key string) string {
		for _, f := range strings.Fields(detail) {
			if v, ok := strings.CutPrefix(f, key+"="); ok {
				return v
			}
		}
		return ""
	}
	for _, r := range recs {
		if r.Time.Before(since) {
			continue
		}
		var keys []string
		switch r.Action {
		case "login.fail":
			keys = append(keys, "user:"+strings.ToLower(strings.TrimPrefix(r.Object, "user/")))
		case "login":
			if name := field(r.Detail, "name"); name != "" {
				keys = append(keys, "user:"+strings.ToLower(name))
			}
		default:
			continue
		}
		if c := field(r.Detail, "client"); c != "" {
			keys = append(keys, "client:"+c)
		}
		for _, k := range keys {
			if r.Action == "login" {
				s.throttle.Succeed(k)
			} else {
				s.throttle.Fail(k, r.Time)
			}
		}
	}
	return nil
}
