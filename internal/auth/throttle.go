package auth

import (
	"sync"
	"time"
)

// Throttle limits failed logins per key (user name, or client address):
// after Max failures within Window, further attempts are refused until the
// window has passed since the last failure.
type Throttle struct {
	Max    int
	Window time.Duration

	mu    sync.Mutex
	fails map[string][]time.Time
}

// NewThrottle allows max failures per window.
func NewThrottle(max int, window time.Duration) *Throttle {
	return &Throttle{Max: max, Window: window, fails: map[string][]time.Time{}}
}

func (t *Throttle) recent(key string, now time.Time) []time.Time {
	f := t.fails[key]
	i := 0
	for i < len(f) && now.Sub(f[i]) > t.Window {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(t.fails, key)
	} else {
		t.fails[key] = f
	}
	return f
}

// Allowed reports whether an attempt may be made now.
func (t *Throttle) Allowed(key string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.recent(key, now)) < t.Max
}

// Fail records a failed attempt.
func (t *Throttle) Fail(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fails[key] = append(t.recent(key, now), now)
}

// Succeed clears a key's failures.
func (t *Throttle) Succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.fails, key)
}
