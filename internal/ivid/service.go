package ivid

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ivid-project/ivid/internal/audit"
	"github.com/ivid-project/ivid/internal/auth"
	"github.com/ivid-project/ivid/internal/blob"
	"github.com/ivid-project/ivid/internal/filehash"
	"github.com/ivid-project/ivid/internal/media"
	"github.com/ivid-project/ivid/internal/pdq"
	"github.com/ivid-project/ivid/internal/vpdq"
)

// BlobStore keeps media content; the blob package's encrypted Store is one.
type BlobStore interface {
	Put(ctx context.Context, id blob.ID, r io.Reader) (bool, error)
	// Batch puts a contribution group's content with one disk sync.
	Batch() *blob.Batch
	Get(ctx context.Context, id blob.ID) (io.ReadCloser, error)
}

// Config tunes the services.
type Config struct {
	// NearThreshold is the PDQ distance for near-duplicates (default 31).
	NearThreshold int
	// PlaceRadius is the GPS distance in metres for "same place" (default 50).
	PlaceRadius float64
	// Dihedral also compares rotated and flipped copies of images.
	Dihedral bool
	// TOTPOptional lets specialists and admins sign in without a second
	// factor; by default they must enrol one.
	TOTPOptional bool
	SessionTTL   time.Duration // default 12 h
	MaxPixels    int64         // default media.DefaultMaxPixels
	// DecodeLimit is filehash.Options.DecodeLimit for contributed images
	// (0: filehash.DefaultDecodeLimit; negative: none).
	DecodeLimit time.Duration
	// Decoders is filehash.Options.Decoders: if set, images are decoded
	// in worker processes, stopped at DecodeLimit.
	Decoders *filehash.Decoders
	// Video hashes uploaded videos with vPDQ, at every frame whatever
	// SecondsPerHash says (each is a known video for later queries, which
	// compare their frames at one a second); nil gives videos digests only.
	Video *vpdq.Options
	// Secrets seals second-factor secrets in the database (required).
	Secrets *auth.SecretBox
	Log     *slog.Logger
	// Now is the clock; tests set it.
	Now func() time.Time
}

// Service is ivid's application core: every operation checks the actor's
// permissions and agency, and writes its audit record in the same
// transaction as its change.
type Service struct {
	store    Store
	blobs    BlobStore
	cfg      Config
	index    *matchIndex
	baseline *baselineIndex
	throttle *auth.Throttle
	tokens   tokenCache
	hashers  chan *filehash.Hasher // idle ones, for contributions
	// abandoned counts image decodings left running at the time limit;
	// stuck, those of them still running.
	abandoned, stuck atomic.Int64
	// node names this process in the index changes it records; followed
	// is the last change replayed (under followMu).
	node     string
	followMu sync.Mutex
	followed int64
	// replaying is held by a local change that touches the indexes, for
	// reading, from its commit to its indexes' update; by CatchUp, for
	// writing, from reading the changed items to indexing them. A replay
	// then never indexes an item as it was before a local change that
	// the indexes already show.
	replaying sync.RWMutex
	// replayed counts the items CatchUp replayed; lag is the time, in
	// microseconds, from the last replayed change's commit to its replay.
	replayed, lag atomic.Int64
}

// NewService loads the match indexes from the store.
func NewService(ctx context.Context, store Store, blobs BlobStore, cfg Config) (*Service, error) {
	if cfg.NearThreshold <= 0 {
		cfg.NearThreshold = pdq.MatchThreshold
	}
	if cfg.PlaceRadius <= 0 {
		cfg.PlaceRadius = 50
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.MaxPixels <= 0 {
		cfg.MaxPixels = media.DefaultMaxPixels
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Secrets == nil {
		return nil, errors.New("ivid: Config.Secrets is required")
	}
	s := &Service{store: store, blobs: blobs, cfg: cfg, index: newMatchIndex(), baseline: newBaselineIndex(),
		throttle: auth.NewThrottle(5, 15*time.Minute), hashers: make(chan *filehash.Hasher, runtime.GOMAXPROCS(0))}
	// Changes recorded from now on are replayed: those made during the
	// load may be in it already, which replaying allows.
	var err error
	s.node = newNodeID()
	if s.followed, err = store.LastIndexChange(ctx); err != nil {
		return nil, fmt.Errorf("load index: %w", err)
	}
	// Servers that do not follow prune too, so the changes never pile up.
	if err := store.PruneIndexChanges(ctx, cfg.Now().Add(-changesKept)); err != nil {
		return nil, fmt.Errorf("prune index changes: %w", err)
	}
	start := time.Now()
	n := 0
	err = store.EachMedia(ctx, func(m Media) error {
		s.index.add(m)
		if m.Baseline == BaselineConfirmed {
			s.baseline.add(m)
		}
		n++
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load index: %w", err)
	}
	s.index.compact()
	cfg.Log.Info("index loaded", "media", n, "seconds", time.Since(start).Seconds())
	if err := s.sealLegacySecrets(ctx); err != nil {
		return nil, err
	}
	if err := s.replayLogins(ctx); err != nil {
		return nil, fmt.Errorf("sign-in throttle: %w", err)
	}
	return s, nil
}

// IndexSize is the number of media items in the match index.
func (s *Service) IndexSize() int { return s.index.size() }

// DecodingsAbandoned is how many contributed images' decodings were left
// running at the time limit since the start (each may still hold a
// processor).
func (s *Service) DecodingsAbandoned() int64 { return s.abandoned.Load() }

// DecodingsStuck is how many of the abandoned decodings are still running,
// each holding a processor.
func (s *Service) DecodingsStuck() int64 { return s.stuck.Load() }

// Ready reports whether the database answers.
func (s *Service) Ready(ctx context.Context) error { return s.store.Ping(ctx) }

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// appendAudit writes one audit record inside tx, after the trail's head.
func (s *Service) appendAudit(ctx context.Context, tx Tx, a Actor, action, object, detail string) error {
	return s.appendAudits(ctx, tx, a, []auditEntry{{action, object, detail}})
}

// auditEntry is one of a's actions to record.
type auditEntry struct{ action, object, detail string }

// appendAudits records es in order, chained after the trail's head, read
// once: a group of contributions writes its records together.
func (s *Service) appendAudits(ctx context.Context, tx Tx, a Actor, es []auditEntry) error {
	if len(es) == 0 {
		return nil
	}
	head, err := tx.AuditHead(ctx)
	if err != nil {
		return err
	}
	rs := make([]audit.Record, len(es))
	for i, e := range es {
		rs[i] = audit.Link(head, audit.Record{Time: s.now(), UserID: int64(a.User.ID), AgencyID: int64(a.Agency.ID), Action: e.action, Object: e.object, Detail: e.detail})
		head = &rs[i]
	}
	return tx.AppendAudit(ctx, rs...)
}

// change runs fn and its audit record in one transaction: if the record
// cannot be written, the change does not happen (audit fails closed).
// fn returns the object changed (kind/id) and a detail for the record.
func (s *Service) change(ctx context.Context, a Actor, action string, fn func(tx Tx) (object, detail string, err error)) error {
	return s.store.InTx(ctx, func(tx Tx) error {
		object, detail, err := fn(tx)
		if err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, a, action, object, detail)
	})
}

// record appends an audit record on its own (reads, exports, logins).
func (s *Service) record(ctx context.Context, a Actor, action, object, detail string) error {
	return s.store.InTx(ctx, func(tx Tx) error { return s.appendAudit(ctx, tx, a, action, object, detail) })
}

func obj(kind string, id int64) string { return fmt.Sprintf("%s/%d", kind, id) }
