package hamming

import "testing"

// TestReadCost checks that the walks run and give plausible times: more
// reads in flight never take longer per read than one at a time (by a
// margin for a noisy machine).
func TestReadCost(t *testing.T) {
	lat, par := ReadCost(16<<20, 200_000, 16)
	if lat <= 0 || par <= 0 {
		t.Fatalf("ReadCost = %v, %v; want positive times", lat, par)
	}
	if par > lat*2 {
		t.Errorf("16 chains %v a read, one chain %v: reads in flight should not be slower", par, lat)
	}
	t.Logf("16 MiB: %v a dependent read, %v with 16 in flight", lat, par)
}
