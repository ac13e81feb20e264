// Package ivid is the domain core of the ivid database: agencies, users,
// cases, media items, series, identification and deconfliction, and the
// services that enforce who may do what and audit it. It knows no SQL and
// no HTTP; storage and transport adapters implement and call it.
package ivid

import (
	"errors"
	"time"

	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/pdq"
	"github.com/ivid-project/ivid/internal/vpdq"
)

// Sentinel errors; adapters map them to their own codes in one place.
var (
	ErrNotFound        = errors.New("not found")
	ErrForbidden       = errors.New("forbidden")
	ErrInvalid         = errors.New("invalid request")
	ErrConflict        = errors.New("conflict")
	ErrUnauthenticated = errors.New("not signed in")
	ErrTooMany         = errors.New("too many requests")
)

type (
	AgencyID   int64
	UserID     int64
	CaseID     int64
	MediaID    int64
	SeriesID   int64
	VictimID   int64
	OffenderID int64
	ClueID     int64
)

// AgencyKind says what a member organisation is.
type AgencyKind string

const (
	NationalUnit AgencyKind = "national"
	Hub          AgencyKind = "hub"
	Industry     AgencyKind = "industry"
)

// Agency is a member organisation.
type Agency struct {
	ID      AgencyID   `json:"id"`
	Name    string     `json:"name"`
	Country string     `json:"country,omitempty"` // ISO 3166-1 alpha-2
	Kind    AgencyKind `json:"kind"`
	Created time.Time  `json:"created"`
}

// User belongs to one agency and holds roles.
type User struct {
	ID           UserID    `json:"id"`
	AgencyID     AgencyID  `json:"agency_id"`
	Name         string    `json:"name"`
	Roles        Roles     `json:"roles"`
	PasswordHash string    `json:"-"`
	TOTPSecret   string    `json:"-"`
	TOTPEnabled  bool      `json:"totp_enabled"`
	Disabled     bool      `json:"disabled"`
	Created      time.Time `json:"created"`
}

// Sharing says who sees a case's pixels. Hashes and series facts are always
// shared with the network: that is the point of the database.
type Sharing string

const (
	SharingAgency  Sharing = "agency"  // only the contributing agency sees the pixels
	SharingNetwork Sharing = "network" // every national unit does
)

// Case is an agency's investigation.
type Case struct {
	ID        CaseID    `json:"id"`
	AgencyID  AgencyID  `json:"agency_id"`
	Reference string    `json:"reference"`
	Title     string    `json:"title,omitempty"`
	Sharing   Sharing   `json:"sharing"`
	CreatedBy UserID    `json:"created_by"`
	Created   time.Time `json:"created"`
}

// Kind of media item.
type Kind string

const (
	Image Kind = "image"
	Video Kind = "video"
)

// BaselineState tracks the Baseline flag: proposed by one agency,
// confirmed when a second, distinct agency agrees.
type BaselineState string

const (
	BaselineNone      BaselineState = ""
	BaselineProposed  BaselineState = "proposed"
	BaselineConfirmed BaselineState = "confirmed"
)

// Media is one unique content, keyed by SHA-256.
type Media struct {
	ID       MediaID      `json:"id"`
	SHA256   string       `json:"sha256"`
	MD5      string       `json:"md5"`
	SHA1     string       `json:"sha1"`
	Kind     Kind         `json:"kind"`
	MIME     string       `json:"mime"`
	Size     int64        `json:"size"`
	Width    int          `json:"width,omitempty"`
	Height   int          `json:"height,omitempty"`
	Duration float64      `json:"duration,omitempty"`
	PDQ      *pdq.Hash    `json:"pdq,omitempty"`
	Quality  int          `json:"pdq_quality,omitempty"`
	VPDQ     []vpdq.Frame `json:"vpdq,omitempty"`
	// VPDQCropped is the vPDQ of the picture inside a video's black bars,
	// when it has some: matched too, never exported (not the reference's).
	VPDQCropped []vpdq.Frame `json:"vpdq_cropped,omitempty"`
	// Stored is false for hashes-only contributions: no pixels are held.
	Stored       bool             `json:"stored"`
	CameraMake   string           `json:"camera_make,omitempty"`
	CameraModel  string           `json:"camera_model,omitempty"`
	CameraSerial string           `json:"camera_serial,omitempty"`
	CaptureTime  *time.Time       `json:"capture_time,omitempty"`
	Lat          *float64         `json:"gps_latitude,omitempty"`
	Lon          *float64         `json:"gps_longitude,omitempty"`
	Category     hashset.Category `json:"category"`
	SeriesID     SeriesID         `json:"series_id,omitempty"`
	Baseline     BaselineState    `json:"baseline,omitempty"`
	// PhotoDNA is carried from hash-only contributions, never computed.
	PhotoDNA string    `json:"photodna,omitempty"`
	Created  time.Time `json:"created"`
}

// Submission records that an agency contributed a media item in a case.
type Submission struct {
	ID       int64     `json:"id"`
	MediaID  MediaID   `json:"media_id"`
	CaseID   CaseID    `json:"case_id"`
	AgencyID AgencyID  `json:"agency_id"`
	UserID   UserID    `json:"user_id"`
	FileName string    `json:"file_name,omitempty"`
	Created  time.Time `json:"created"`
	// Key is what the contributor's request named this submission, so
	// that the request sent again adds no second one; unique in a case.
	Key string `json:"-"`
}

// SeriesStatus follows a series from unidentified to victim identified.
type SeriesStatus string

const (
	Unidentified       SeriesStatus = "unidentified"
	UnderInvestigation SeriesStatus = "under_investigation"
	VictimIdentified   SeriesStatus = "victim_identified"
)

// Series groups media of the same abuse sequence or the same child.
type Series struct {
	ID       SeriesID     `json:"id"`
	Name     string       `json:"name"`
	Status   SeriesStatus `json:"status"`
	AgencyID AgencyID     `json:"agency_id"` // that created it
	Created  time.Time    `json:"created"`
}

// Claim is the deconfliction record: agency X investigates series S.
type Claim struct {
	ID       int64      `json:"id"`
	SeriesID SeriesID   `json:"series_id"`
	AgencyID AgencyID   `json:"agency_id"`
	UserID   UserID     `json:"user_id"`
	Since    time.Time  `json:"since"`
	Released *time.Time `json:"released,omitempty"`
}

// Victim is a child depicted in a series. No name or identity data is
// stored: that stays with the national unit.
type Victim struct {
	ID           VictimID   `json:"id"`
	SeriesID     SeriesID   `json:"series_id"`
	Identified   bool       `json:"identified"`
	AgencyID     AgencyID   `json:"agency_id,omitempty"` // that identified
	IdentifiedAt *time.Time `json:"identified_at,omitempty"`
	AgeGroup     string     `json:"age_group,omitempty"` // infant, toddler, prepubescent, pubescent
	Sex          string     `json:"sex,omitempty"`       // female, male, unknown
}

// NoticeType is an INTERPOL notice colour.
type NoticeType string

const (
	GreenNotice NoticeType = "green"
	BlueNotice  NoticeType = "blue"
)

// Offender is a person depicted in or producing material.
type Offender struct {
	ID           OffenderID `json:"id"`
	SeriesID     SeriesID   `json:"series_id"`
	Identified   bool       `json:"identified"`
	AgencyID     AgencyID   `json:"agency_id,omitempty"`
	IdentifiedAt *time.Time `json:"identified_at,omitempty"`
	Notice       NoticeType `json:"notice,omitempty"`
	NoticeRef    string     `json:"notice_ref,omitempty"`
}

// Rect is a region of an image, in pixels.
type Rect struct {
	X, Y, W, H int
}

// Clue is a note on a media item, optionally on a region of it.
type Clue struct {
	ID       ClueID    `json:"id"`
	MediaID  MediaID   `json:"media_id"`
	AgencyID AgencyID  `json:"agency_id"`
	UserID   UserID    `json:"user_id"`
	Text     string    `json:"text"`
	Tags     []string  `json:"tags,omitempty"`
	Rect     *Rect     `json:"rect,omitempty"`
	Created  time.Time `json:"created"`
}

// LinkKind says why two media items are linked.
type LinkKind string

const (
	LinkExact      LinkKind = "exact"
	LinkNear       LinkKind = "near_duplicate"
	LinkSameCamera LinkKind = "same_camera"
	LinkSamePlace  LinkKind = "same_place"
	LinkAnalyst    LinkKind = "analyst"
)

// Link joins two media items.
type Link struct {
	Kind     LinkKind `json:"kind"`
	MediaID  MediaID  `json:"media_id"`
	Distance float64  `json:"distance"` // bits (PDQ), best frame bits (vPDQ), metres (place)
	// QueryPercent is set for video links.
	QueryPercent float64 `json:"query_percent,omitempty"`
}
