package ivid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/ivid-project/ivid/internal/pdq"
)

// IndexChange records that a node changed an item's indexed hashes or its
// Baseline state, so that the other nodes over the same database replay
// it in their in-memory indexes (Service.CatchUp).
type IndexChange struct {
	Seq   int64
	Node  string
	Media MediaID
	// Before is the item's indexed state before the change (an
	// indexedState in JSON); "" for a new item.
	Before  string
	Created time.Time
}

// indexedState is what the indexes may hold for an item, beyond its video
// entries (removed by its ID): a node replaying a change removes it, then
// indexes the item as it is now.
type indexedState struct {
	PDQ    string `json:"pdq,omitempty"` // in the match and Baseline indexes
	MD5    string `json:"md5,omitempty"` // the digests, in the Baseline index
	SHA1   string `json:"sha1,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

func stateOf(m Media) indexedState {
	st := indexedState{MD5: m.MD5, SHA1: m.SHA1, SHA256: m.SHA256}
	if m.PDQ != nil {
		st.PDQ = m.PDQ.String()
	}
	return st
}

// changeOf records a change of the item id; before is nil for a new item.
func (s *Service) changeOf(id MediaID, before *Media) IndexChange {
	c := IndexChange{Node: s.node, Media: id, Created: s.now()}
	if before != nil {
		b, _ := json.Marshal(stateOf(*before))
		c.Before = string(b)
	}
	return c
}

// noteChanges records cs in tx, after its audit records.
func (s *Service) noteChanges(ctx context.Context, tx Tx, cs []IndexChange) error {
	if len(cs) == 0 {
		return nil
	}
	return tx.AddIndexChanges(ctx, cs)
}

// newNodeID names this process in the changes it records.
func newNodeID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// changeBatch bounds the changes CatchUp reads at once.
const changeBatch = 1000

// CatchUp replays in the indexes the changes that other nodes committed
// since the last one seen, and returns how many it replayed. Replaying is
// idempotent: a change already reflected (read at start) is harmless.
func (s *Service) CatchUp(ctx context.Context) (int, error) {
	s.followMu.Lock()
	defer s.followMu.Unlock()
	n := 0
	for {
		cs, err := s.store.IndexChangesSince(ctx, s.followed, changeBatch)
		if err != nil || len(cs) == 0 {
			return n, err
		}
		// The items as they are now, once each; a change's before is
		// what the indexes held, the first change of a batch's for an
		// item that changed twice.
		before := map[MediaID][]indexedState{}
		var ids []MediaID
		for _, c := range cs {
			if c.Node == s.node {
				continue // applied when made
			}
			var st indexedState
			if c.Before != "" {
				if err := json.Unmarshal([]byte(c.Before), &st); err != nil {
					// The item is still indexed as it is now; only what
					// it was before may linger. Stopping here would stop
					// every later replay.
					s.cfg.Log.Warn("index change unreadable", "seq", c.Seq, "media", c.Media, "err", err)
					st = indexedState{}
				}
			}
			if _, ok := before[c.Media]; !ok {
				ids = append(ids, c.Media)
			}
			before[c.Media] = append(before[c.Media], st)
		}
		if len(ids) == 0 { // only this server's own changes
			s.followed = cs[len(cs)-1].Seq
			continue
		}
		// Taken only when there is something to replay: while this
		// waits, new local changes wait too.
		s.replaying.Lock()
		ms, err := s.store.MediaByIDs(ctx, ids)
		for _, m := range ms {
			s.replay(before[m.ID], m)
			n++
		}
		s.replaying.Unlock()
		if err != nil {
			return n, err
		}
		last := cs[len(cs)-1]
		s.followed = last.Seq
		s.replayed.Add(int64(len(ms)))
		if len(ms) > 0 {
			s.lag.Store(s.now().Sub(last.Created).Microseconds())
		}
	}
}

// replay makes the indexes hold item m as it is now, whatever they held
// for it before: the states olds, or m itself.
func (s *Service) replay(olds []indexedState, m Media) {
	olds = append(olds, stateOf(m))
	var hashes []pdq.Hash
	for _, st := range olds {
		if h, err := pdq.ParseHex(st.PDQ); err == nil {
			hashes = append(hashes, h)
		}
	}
	s.index.set(m, hashes)
	s.baseline.set(m, olds, hashes)
}

// Replayed returns how many items CatchUp replayed since the start, and
// the time from the last replayed change's commit to its replay.
func (s *Service) Replayed() (int64, time.Duration) {
	return s.replayed.Load(), time.Duration(s.lag.Load()) * time.Microsecond
}

// changesKept is how long index changes are kept: a server stopped longer
// than that reads everything again when it starts anyway.
const changesKept = 24 * time.Hour

// Follow calls CatchUp every interval until ctx ends, and once an hour
// removes the changes older than changesKept.
func (s *Service) Follow(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var pruned time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := s.CatchUp(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Log.Warn("replaying other nodes' index changes", "err", err)
		} else if n > 0 {
			s.cfg.Log.Info("index changes replayed", "items", n)
		}
		if now := s.now(); now.Sub(pruned) > time.Hour {
			if err := s.store.PruneIndexChanges(ctx, now.Add(-changesKept)); err != nil && ctx.Err() == nil {
				s.cfg.Log.Warn("pruning index changes", "err", err)
			}
			pruned = now
		}
	}
}
