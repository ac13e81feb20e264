package web

import (
	"fmt"
	"html"
	"html/template"
	"slices"
	"strings"

	"github.com/ivid-project/ivid/internal/ivid"
)

// barChart draws counts as an SVG bar chart, labels sorted (years in
// order, countries alphabetically). Drawn by the server: no script.
func barChart(counts map[string]int, kind string) template.HTML {
	if len(counts) == 0 {
		return ""
	}
	keys := make([]string, 0, len(counts))
	maxv := 0
	for k, v := range counts {
		keys = append(keys, k)
		maxv = max(maxv, v)
	}
	slices.Sort(keys)
	const barW, gap, h = 36, 12, 120
	w := len(keys)*(barW+gap) + gap
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" role="img" aria-label="%s" viewBox="0 0 %d %d" width="%d" height="%d">`, html.EscapeString(kind), w, h+40, w, h+40)
	for i, k := range keys {
		v := counts[k]
		bh := 0
		if maxv > 0 {
			bh = v * h / maxv
		}
		x := gap + i*(barW+gap)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="bar"><title>%s: %d</title></rect>`, x, h-bh+10, barW, bh, html.EscapeString(k), v)
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="val">%d</text>`, x+barW/2, h-bh+6, v)
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="lab">%s</text>`, x+barW/2, h+28, html.EscapeString(k))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// placesMap draws where a series' items were taken on an equirectangular
// world map drawn by the server from vendored Natural Earth land (no tile
// server, nothing fetched).
func placesMap(items []ivid.Media) template.HTML {
	var pts [][2]float64
	for _, m := range items {
		if m.Lat != nil && m.Lon != nil {
			pts = append(pts, [2]float64{*m.Lat, *m.Lon})
		}
	}
	if len(pts) == 0 {
		return ""
	}
	const w, h = 720, 360
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="map" role="img" aria-label="places" viewBox="0 0 %d %d" width="%d" height="%d"><rect width="%d" height="%d" class="sea"/>`, w, h, w, h, w, h)
	fmt.Fprintf(&b, `<path class="land" d="%s"/>`, landPath())
	for lon := -180; lon <= 180; lon += 30 {
		x := (lon + 180) * w / 360
		fmt.Fprintf(&b, `<line x1="%d" y1="0" x2="%d" y2="%d" class="grid"/>`, x, x, h)
	}
	for lat := -90; lat <= 90; lat += 30 {
		y := (90 - lat) * h / 180
		fmt.Fprintf(&b, `<line x1="0" y1="%d" x2="%d" y2="%d" class="grid"/>`, y, w, y)
	}
	for _, p := range pts {
		x := (p[1] + 180) * w / 360
		y := (90 - p[0]) * h / 180
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="5" class="pt"><title>%.5f, %.5f</title></circle>`, x, y, p[0], p[1])
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
