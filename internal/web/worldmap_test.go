package web

import (
	"strings"
	"testing"

	"github.com/ivid-project/ivid/internal/ivid"
)

func TestLandPath(t *testing.T) {
	p := landPath()
	if len(p) < 10000 || strings.Count(p, "M") < 100 || !strings.HasPrefix(p, "M") {
		t.Fatalf("land path: %d bytes, %d rings", len(p), strings.Count(p, "M"))
	}
	lat, lon := 48.38, -4.49 // Brest
	svg := string(placesMap([]ivid.Media{{Lat: &lat, Lon: &lon}}))
	if !strings.Contains(svg, `class="land"`) || !strings.Contains(svg, `cx="351.0" cy="83.2"`) {
		t.Fatalf("map: %.200s", svg)
	}
}
