package ivid

import (
	"context"
	"time"

	"github.com/ivid-project/ivid/internal/audit"
	"github.com/ivid-project/ivid/internal/hashset"
)

// Session is a signed-in browser or CLI session; only the token's hash is
// stored.
type Session struct {
	Hash    string
	UserID  UserID
	Created time.Time
	Expires time.Time
	// MFA is true once the second factor was given (or is not needed).
	MFA bool
}

// Token is an API token; only its hash is stored.
type Token struct {
	ID       int64      `json:"id"`
	UserID   UserID     `json:"user_id"`
	Hash     string     `json:"-"`
	Name     string     `json:"name"`
	Created  time.Time  `json:"created"`
	Expires  *time.Time `json:"expires,omitempty"`
	LastUsed *time.Time `json:"last_used,omitempty"`
}

// Store is what the services need from a database. Every write of a
// service happens inside InTx together with its audit record.
type Store interface {
	Tx
	InTx(ctx context.Context, fn func(Tx) error) error
	Ping(ctx context.Context) error
	// Analyze refreshes the query planner's statistics after a bulk
	// change, where the database needs them.
	Analyze(ctx context.Context) error
	Close() error
}

// Tx is the set of queries and statements; a Store runs them outside a
// transaction, InTx inside one. Lookups of missing rows return ErrNotFound.
type Tx interface {
	CreateAgency(ctx context.Context, a *Agency) error
	Agency(ctx context.Context, id AgencyID) (Agency, error)
	Agencies(ctx context.Context) ([]Agency, error)

	CreateUser(ctx context.Context, u *User) error
	UpdateUser(ctx context.Context, u *User) error
	User(ctx context.Context, id UserID) (User, error)
	UserByName(ctx context.Context, name string) (User, error)
	Users(ctx context.Context, agency AgencyID) ([]User, error) // 0: all
	CountUsers(ctx context.Context) (int, error)

	CreateSession(ctx context.Context, s Session) error
	Session(ctx context.Context, hash string) (Session, error)
	UpdateSession(ctx context.Context, s Session) error
	DeleteSession(ctx context.Context, hash string) error

	CreateToken(ctx context.Context, t *Token) error
	TokenByHash(ctx context.Context, hash string) (Token, error)
	Tokens(ctx context.Context, user UserID) ([]Token, error) // 0: all
	DeleteToken(ctx context.Context, id int64) error
	TouchToken(ctx context.Context, id int64, at time.Time) error

	CreateCase(ctx context.Context, c *Case) error
	Case(ctx context.Context, id CaseID) (Case, error)
	Cases(ctx context.Context, agency AgencyID) ([]Case, error)

	CreateMedia(ctx context.Context, m *Media) error
	// CreateMediaItems creates items, which must differ in their SHA-256,
	// MD5 and SHA-1 together, and sets their IDs.
	CreateMediaItems(ctx context.Context, ms []*Media) error
	UpdateMedia(ctx context.Context, m *Media) error
	Media(ctx context.Context, id MediaID) (Media, error)
	MediaBySHA256(ctx context.Context, sha256 string) (Media, error)
	MediaByDigest(ctx context.Context, md5, sha1 string) ([]Media, error)
	// MediaByDigests returns, by ID, every item whose SHA-256, MD5 or SHA-1
	// is one of those given (empty strings are ignored).
	MediaByDigests(ctx context.Context, sha256s, md5s, sha1s []string) ([]Media, error)
	MediaBySerial(ctx context.Context, serial string) ([]Media, error)
	MediaInBox(ctx context.Context, minLat, maxLat, minLon, maxLon float64) ([]Media, error)
	MediaInSeries(ctx context.Context, s SeriesID) ([]Media, error)
	MediaInCase(ctx context.Context, c CaseID) ([]Media, error)
	Uncategorised(ctx context.Context, agency AgencyID, limit int) ([]Media, error)
	CountMedia(ctx context.Context) (map[hashset.Category]int64, error)
	// EachMedia streams every item (with hashes), for building the index.
	EachMedia(ctx context.Context, fn func(Media) error) error

	AddSubmission(ctx context.Context, s *Submission) error
	// AddSubmissions records submissions without reading their IDs back.
	AddSubmissions(ctx context.Context, subs []Submission) error
	Submissions(ctx context.Context, m MediaID) ([]Submission, error)
	// SubmissionsOf returns the submissions of every item ids names, by ID.
	SubmissionsOf(ctx context.Context, ids []MediaID) ([]Submission, error)
	RecentSubmissions(ctx context.Context, agency AgencyID, limit int) ([]Submission, error)
	// SubmittedKeys returns, by key, the items of the case's submissions
	// whose keys are among those given.
	SubmittedKeys(ctx context.Context, c CaseID, keys []string) (map[string]MediaID, error)

	CreateSeries(ctx context.Context, s *Series) error
	UpdateSeries(ctx context.Context, s *Series) error
	Series(ctx context.Context, id SeriesID) (Series, error)
	AllSeries(ctx context.Context) ([]Series, error)

	CreateClaim(ctx context.Context, c *Claim) error
	ReleaseClaim(ctx context.Context, id int64, at time.Time) error
	Claims(ctx context.Context, s SeriesID) ([]Claim, error) // active ones; 0: all series

	CreateVictim(ctx context.Context, v *Victim) error
	UpdateVictim(ctx context.Context, v *Victim) error
	Victims(ctx context.Context, s SeriesID) ([]Victim, error) // 0: all
	CreateOffender(ctx context.Context, o *Offender) error
	UpdateOffender(ctx context.Context, o *Offender) error
	Offenders(ctx context.Context, s SeriesID) ([]Offender, error) // 0: all

	CreateClue(ctx context.Context, c *Clue) error
	Clues(ctx context.Context, m MediaID) ([]Clue, error)

	// AddBaselineVote records an agency's Baseline vote once.
	AddBaselineVote(ctx context.Context, m MediaID, a AgencyID, u UserID, at time.Time) error
	BaselineVotes(ctx context.Context, m MediaID) ([]AgencyID, error)
	// ClearBaselineVotes removes an item's Baseline votes.
	ClearBaselineVotes(ctx context.Context, m MediaID) error
	EachBaseline(ctx context.Context, fn func(Media) error) error
	MediaByBaseline(ctx context.Context, state BaselineState, limit int) ([]Media, error)

	// AddIndexChanges records changes of items' indexed state; inside a
	// transaction, after its audit records, so that their order is the
	// order of the commits (the audit head is locked until commit).
	AddIndexChanges(ctx context.Context, cs []IndexChange) error
	// IndexChangesSince returns up to limit changes after seq, in order.
	IndexChangesSince(ctx context.Context, seq int64, limit int) ([]IndexChange, error)
	// LastIndexChange returns the last change's seq, 0 if none.
	LastIndexChange(ctx context.Context) (int64, error)
	// PruneIndexChanges removes the changes recorded before t.
	PruneIndexChanges(ctx context.Context, t time.Time) error
	// MediaByIDs returns the items ids names that exist, by ID.
	MediaByIDs(ctx context.Context, ids []MediaID) ([]Media, error)

	// AuditHead returns the last record (nil if none) and, inside a
	// transaction, locks the trail until commit.
	AuditHead(ctx context.Context) (*audit.Record, error)
	// AppendAudit appends records linked in order after the head.
	AppendAudit(ctx context.Context, rs ...audit.Record) error
	// AuditMark is the head recorded apart from the trail: the last
	// record's number and hash.
	AuditMark(ctx context.Context) (seq int64, hash string, err error)
	EachAudit(ctx context.Context, fn func(audit.Record) error) error
	// AuditRange returns up to limit records from seq on.
	AuditRange(ctx context.Context, from int64, limit int) ([]audit.Record, error)
}
