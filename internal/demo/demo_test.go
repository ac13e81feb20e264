package demo

import (
	"bytes"
	"image"
	"testing"

	"github.com/ivid-project/ivid/internal/media"
	"github.com/ivid-project/ivid/internal/pdq"
)

// TestVariantsAreNearDuplicates: every variant except the mirror stays
// within PDQ's match threshold of its original, the mirror is caught by a
// dihedral hash, and different scenes are far apart.
func TestVariantsAreNearDuplicates(t *testing.T) {
	var h pdq.Hasher
	hashOf := func(img image.Image, v Variant) (pdq.Result, *pdq.Dihedral) {
		data, _, err := Encode(img, v)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := media.Decode(data, media.Sniff(data), 0)
		if err != nil {
			t.Fatal(err)
		}
		return h.HashImage(dec, pdq.Full, true)
	}
	var originals []pdq.Hash
	for s := 1; s <= 4; s++ {
		src := Scene(s, 480, 320)
		orig, _ := hashOf(src, Original)
		if orig.Quality < pdq.MinQuality {
			t.Errorf("scene %d: quality %d", s, orig.Quality)
		}
		for _, v := range Variants[1:] {
			r, dih := hashOf(Apply(src, v), v)
			d := pdq.Distance(orig.Hash, r.Hash)
			if v == Mirrored {
				best := 256
				for _, x := range dih {
					best = min(best, pdq.Distance(orig.Hash, x))
				}
				d = best
			}
			if d > pdq.MatchThreshold {
				t.Errorf("scene %d %s: distance %d > %d", s, v, d, pdq.MatchThreshold)
			}
		}
		originals = append(originals, orig.Hash)
	}
	for i := range originals {
		for j := i + 1; j < len(originals); j++ {
			if d := pdq.Distance(originals[i], originals[j]); d < 64 {
				t.Errorf("scenes %d and %d only %d apart", i+1, j+1, d)
			}
		}
	}
}

func TestSceneDeterministic(t *testing.T) {
	a, b := Scene(7, 64, 48), Scene(7, 64, 48)
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Error("same scene number gave different pixels")
	}
}
