package storage

import (
	"context"
	"database/sql"
	"time"

	"github.com/ivid-project/ivid/internal/ivid"
)

func (s *queries) CreateAgency(ctx context.Context, a *ivid.Agency) error {
	id, err := s.insert(ctx, `INSERT INTO agencies (name, country, kind, created) VALUES (?, ?, ?, ?)`, a.Name, a.Country, string(a.Kind), ts(a.Created))
	a.ID = ivid.AgencyID(id)
	return err
}

func scanAgency(r interface{ Scan(...any) error }) (ivid.Agency, error) {
	var a ivid.Agency
	var kind string
	var created int64
	err := r.Scan(&a.ID, &a.Name, &a.Country, &kind, &created)
	a.Kind, a.Created = ivid.AgencyKind(kind), fromTS(created)
	return a, err
}

const agencyCols = `id, name, country, kind, created`

func (s *queries) Agency(ctx context.Context, id ivid.AgencyID) (ivid.Agency, error) {
	a, err := scanAgency(s.row(ctx, `SELECT `+agencyCols+` FROM agencies WHERE id = ?`, id))
	return a, notFound(err, "agency")
}

func (s *queries) Agencies(ctx context.Context) ([]ivid.Agency, error) {
	rows, err := s.query(ctx, `SELECT `+agencyCols+` FROM agencies ORDER BY id`)
	return all(rows, err, func(r *sql.Rows) (ivid.Agency, error) { return scanAgency(r) })
}

const userCols = `id, agency_id, name, roles, password_hash, totp_secret, totp_enabled, disabled, created`

func scanUser(r interface{ Scan(...any) error }) (ivid.User, error) {
	var u ivid.User
	var roles string
	var totp, disabled int
	var created int64
	err := r.Scan(&u.ID, &u.AgencyID, &u.Name, &roles, &u.PasswordHash, &u.TOTPSecret, &totp, &disabled, &created)
	if err != nil {
		return u, err
	}
	u.Roles, err = ivid.ParseRoles(roles)
	u.TOTPEnabled, u.Disabled, u.Created = totp == 1, disabled == 1, fromTS(created)
	return u, err
}

func (s *queries) CreateUser(ctx context.Context, u *ivid.User) error {
	id, err := s.insert(ctx, `INSERT INTO users (agency_id, name, roles, password_hash, totp_secret, totp_enabled, disabled, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		u.AgencyID, u.Name, u.Roles.String(), u.PasswordHash, u.TOTPSecret, b2i(u.TOTPEnabled), b2i(u.Disabled), ts(u.Created))
	u.ID = ivid.UserID(id)
	return err
}

func (s *queries) UpdateUser(ctx context.Context, u *ivid.User) error {
	_, err := s.exec(ctx, `UPDATE users SET roles = ?, password_hash = ?, totp_secret = ?, totp_enabled = ?, disabled = ? WHERE id = ?`,
		u.Roles.String(), u.PasswordHash, u.TOTPSecret, b2i(u.TOTPEnabled), b2i(u.Disabled), u.ID)
	return err
}

func (s *queries) User(ctx context.Context, id ivid.UserID) (ivid.User, error) {
	u, err := scanUser(s.row(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	return u, notFound(err, "user")
}

func (s *queries) UserByName(ctx context.Context, name string) (ivid.User, error) {
	u, err := scanUser(s.row(ctx, `SELECT `+userCols+` FROM users WHERE name = ?`, name))
	return u, notFound(err, "user")
}

func (s *queries) Users(ctx context.Context, agency ivid.AgencyID) ([]ivid.User, error) {
	rows, err := s.query(ctx, `SELECT `+userCols+` FROM users WHERE ? = 0 OR agency_id = ? ORDER BY id`, agency, agency)
	return all(rows, err, func(r *sql.Rows) (ivid.User, error) { return scanUser(r) })
}

func (s *queries) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.row(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

func (s *queries) CreateSession(ctx context.Context, ss ivid.Session) error {
	_, err := s.exec(ctx, `INSERT INTO sessions (hash, user_id, created, expires, mfa) VALUES (?, ?, ?, ?, ?)`,
		ss.Hash, ss.UserID, ts(ss.Created), ts(ss.Expires), b2i(ss.MFA))
	return err
}

func (s *queries) Session(ctx context.Context, hash string) (ivid.Session, error) {
	var ss ivid.Session
	var created, expires int64
	var mfa int
	err := s.row(ctx, `SELECT hash, user_id, created, expires, mfa FROM sessions WHERE hash = ?`, hash).Scan(&ss.Hash, &ss.UserID, &created, &expires, &mfa)
	ss.Created, ss.Expires, ss.MFA = fromTS(created), fromTS(expires), mfa == 1
	return ss, notFound(err, "session")
}

func (s *queries) UpdateSession(ctx context.Context, ss ivid.Session) error {
	_, err := s.exec(ctx, `UPDATE sessions SET expires = ?, mfa = ? WHERE hash = ?`, ts(ss.Expires), b2i(ss.MFA), ss.Hash)
	return err
}

func (s *queries) DeleteSession(ctx context.Context, hash string) error {
	_, err := s.exec(ctx, `DELETE FROM sessions WHERE hash = ?`, hash)
	return err
}

const tokenCols = `id, user_id, hash, name, created, expires, last_used`

func scanToken(r interface{ Scan(...any) error }) (ivid.Token, error) {
	var t ivid.Token
	var created int64
	var expires, last sql.NullInt64
	err := r.Scan(&t.ID, &t.UserID, &t.Hash, &t.Name, &created, &expires, &last)
	t.Created, t.Expires, t.LastUsed = fromTS(created), fromNullTS(expires), fromNullTS(last)
	return t, err
}

func (s *queries) CreateToken(ctx context.Context, t *ivid.Token) error {
	id, err := s.insert(ctx, `INSERT INTO tokens (user_id, hash, name, created, expires) VALUES (?, ?, ?, ?, ?)`,
		t.UserID, t.Hash, t.Name, ts(t.Created), nullTS(t.Expires))
	t.ID = id
	return err
}

func (s *queries) TokenByHash(ctx context.Context, hash string) (ivid.Token, error) {
	t, err := scanToken(s.row(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = ?`, hash))
	return t, notFound(err, "token")
}

func (s *queries) Tokens(ctx context.Context, user ivid.UserID) ([]ivid.Token, error) {
	rows, err := s.query(ctx, `SELECT `+tokenCols+` FROM tokens WHERE ? = 0 OR user_id = ? ORDER BY id`, user, user)
	return all(rows, err, func(r *sql.Rows) (ivid.Token, error) { return scanToken(r) })
}

func (s *queries) DeleteToken(ctx context.Context, id int64) error {
	_, err := s.exec(ctx, `DELETE FROM tokens WHERE id = ?`, id)
	return err
}

func (s *queries) TouchToken(ctx context.Context, id int64, at time.Time) error {
	_, err := s.exec(ctx, `UPDATE tokens SET last_used = ? WHERE id = ?`, ts(at), id)
	return err
}

func (s *queries) CreateCase(ctx context.Context, c *ivid.Case) error {
	id, err := s.insert(ctx, `INSERT INTO cases (agency_id, reference, title, sharing, created_by, created) VALUES (?, ?, ?, ?, ?, ?)`,
		c.AgencyID, c.Reference, c.Title, string(c.Sharing), c.CreatedBy, ts(c.Created))
	c.ID = ivid.CaseID(id)
	return err
}

const caseCols = `id, agency_id, reference, title, sharing, created_by, created`

func scanCase(r interface{ Scan(...any) error }) (ivid.Case, error) {
	var c ivid.Case
	var sharing string
	var created int64
	err := r.Scan(&c.ID, &c.AgencyID, &c.Reference, &c.Title, &sharing, &c.CreatedBy, &created)
	c.Sharing, c.Created = ivid.Sharing(sharing), fromTS(created)
	return c, err
}

func (s *queries) Case(ctx context.Context, id ivid.CaseID) (ivid.Case, error) {
	c, err := scanCase(s.row(ctx, `SELECT `+caseCols+` FROM cases WHERE id = ?`, id))
	return c, notFound(err, "case")
}

func (s *queries) Cases(ctx context.Context, agency ivid.AgencyID) ([]ivid.Case, error) {
	rows, err := s.query(ctx, `SELECT `+caseCols+` FROM cases WHERE agency_id = ? ORDER BY id`, agency)
	return all(rows, err, func(r *sql.Rows) (ivid.Case, error) { return scanCase(r) })
}
