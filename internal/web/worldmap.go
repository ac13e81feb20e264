package web

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

// landPath is the SVG path of the world's land for a 720×360
// equirectangular map, built once from the vendored world-atlas TopoJSON.
var landPath = sync.OnceValue(func() string {
	b, err := staticFS.ReadFile("static/vendor/world-atlas/land-110m.json")
	if err != nil {
		return ""
	}
	p, err := topoPath(b, func(lon, lat float64) (float64, float64) { return (lon + 180) * 2, (90 - lat) * 2 })
	if err != nil {
		return ""
	}
	return p
})

type topology struct {
	Transform struct {
		Scale     [2]float64 `json:"scale"`
		Translate [2]float64 `json:"translate"`
	} `json:"transform"`
	Objects map[string]struct {
		Geometries []struct {
			Type string          `json:"type"`
			Arcs json.RawMessage `json:"arcs"`
		} `json:"geometries"`
	} `json:"objects"`
	Arcs [][][2]float64 `json:"arcs"`
}

// topoPath turns a quantized TopoJSON topology's polygons into one SVG path
// under the projection proj.
func topoPath(data []byte, proj func(lon, lat float64) (float64, float64)) (string, error) {
	var t topology
	if err := json.Unmarshal(data, &t); err != nil {
		return "", err
	}
	// Decode the delta-encoded, quantized arcs into longitude/latitude.
	arcs := make([][][2]float64, len(t.Arcs))
	for i, a := range t.Arcs {
		var x, y float64
		pts := make([][2]float64, len(a))
		for j, d := range a {
			x += d[0]
			y += d[1]
			pts[j] = [2]float64{x*t.Transform.Scale[0] + t.Transform.Translate[0], y*t.Transform.Scale[1] + t.Transform.Translate[1]}
		}
		arcs[i] = pts
	}
	ring := func(idx []int) [][2]float64 {
		var out [][2]float64
		for k, i := range idx {
			var pts [][2]float64
			if i >= 0 {
				pts = arcs[i]
			} else {
				src := arcs[^i]
				pts = make([][2]float64, len(src))
				for j := range src {
					pts[j] = src[len(src)-1-j]
				}
			}
			if k > 0 && len(pts) > 0 {
				pts = pts[1:] // shared with the previous arc's end
			}
			out = append(out, pts...)
		}
		return out
	}
	var b strings.Builder
	for _, obj := range t.Objects {
		for _, g := range obj.Geometries {
			var polys [][][]int
			switch g.Type {
			case "Polygon":
				var p [][]int
				if err := json.Unmarshal(g.Arcs, &p); err != nil {
					return "", err
				}
				polys = [][][]int{p}
			case "MultiPolygon":
				if err := json.Unmarshal(g.Arcs, &polys); err != nil {
					return "", err
				}
			}
			for _, poly := range polys {
				for _, r := range poly {
					var px float64
					for k, pt := range ring(r) {
						x, y := proj(pt[0], pt[1])
						// A ring that crosses the antimeridian would draw a line
						// across the map: start a new subpath there instead.
						if k == 0 || x-px > 180 || px-x > 180 {
							fmt.Fprintf(&b, "M%.1f,%.1f", x, y)
						} else {
							fmt.Fprintf(&b, "L%.1f,%.1f", x, y)
						}
						px = x
					}
					b.WriteString("Z")
				}
			}
		}
	}
	return b.String(), nil
}
