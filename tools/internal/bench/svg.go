package bench

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
)

// bar is one bar of the chart.
type bar struct {
	label    string
	value    float64
	redcache bool
}

// SVG renders the main comparison, the hit path with 64 goroutines, as a
// horizontal bar chart of operations per second, one bar per subject,
// fastest first. Reads from Redis and reads from process memory (near
// caches) are drawn in two panels with their own scales, since the second
// are an order of magnitude faster. It is written by hand: no chart
// library.
func (r *Report) SVG() []byte {
	var redis, local []bar
	if t := r.Table("hit64"); t != nil {
		for _, row := range t.Rows {
			if !usable(&row) {
				continue
			}
			b := bar{row.Subject, row.OpsPerSec, row.Redcache}
			if strings.Contains(row.Subject, "TinyLFU") || strings.Contains(row.Subject, "near cache") {
				local = append(local, b)
			} else {
				redis = append(redis, b)
			}
		}
	}

	const (
		width = 860
		left  = 250 // labels
		right = 110 // values
	)
	var body bytes.Buffer
	y := 64
	y = panel(&body, y, width, left, right, "Reads from Redis", redis)
	if len(local) > 0 {
		y = panel(&body, y+16, width, left, right, "Reads from process memory (near caches), on their own scale", local)
	}
	height := y + 34

	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="13">`+"\n", width, height, width, height)
	p(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	p(`<text x="12" y="24" font-size="16" font-weight="bold" fill="#222">Cache hits, 64 goroutines: operations per second (higher is better)</text>` + "\n")
	p(`<text x="12" y="44" fill="#555">%s</text>`+"\n", esc(fmt.Sprintf("%s, %d cores (shared), Redis %s on loopback, %s, %s mode",
		r.Machine.CPU, r.Machine.Cores, r.RedisVersion, r.Date.Format("2006-01-02"), r.Mode)))
	b.Write(body.Bytes())
	p(`<text x="12" y="%d" fill="#666" font-size="11">%s</text>`+"\n", height-12,
		esc("Red: redcache. Every subject measured side by side in one run against one Redis; see performance.md for the method and the other workloads."))
	p("</svg>\n")
	return b.Bytes()
}

// panel draws a titled group of bars from y down, on a linear scale from
// zero to a round number above the largest, and returns the y below it.
func panel(w *bytes.Buffer, y, width, left, right int, title string, bars []bar) int {
	const (
		barH = 24
		gap  = 8
	)
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	slices.SortStableFunc(bars, func(a, b bar) int {
		switch {
		case a.value > b.value:
			return -1
		case a.value < b.value:
			return 1
		}
		return 0
	})
	p(`<text x="12" y="%d" font-weight="bold" fill="#333">%s</text>`+"\n", y+4, esc(title))
	top := y + 18
	plotW := float64(width - left - right)
	maxV := 1.0
	for _, b := range bars {
		maxV = math.Max(maxV, b.value)
	}
	step := niceStep(maxV / 5)
	axisMax := math.Ceil(maxV/step) * step
	x := func(v float64) float64 { return float64(left) + v/axisMax*plotW }
	bottom := top + len(bars)*(barH+gap)
	for v := 0.0; v <= axisMax+step/2; v += step {
		xv := x(v)
		p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e3e3e3"/>`+"\n", xv, top-4, xv, bottom)
		p(`<text x="%.1f" y="%d" text-anchor="middle" fill="#666" font-size="11">%s</text>`+"\n", xv, bottom+14, esc(compact(v)))
	}
	for i, br := range bars {
		by := top + i*(barH+gap)
		fill, weight := "#9aa5b1", "normal"
		if br.redcache {
			fill, weight = "#c0392b", "bold"
		}
		p(`<text x="%d" y="%d" text-anchor="end" fill="#222" font-weight="%s">%s</text>`+"\n", left-8, by+barH/2+5, weight, esc(br.label))
		p(`<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, by, math.Max(x(br.value)-float64(left), 1), barH, fill)
		p(`<text x="%.1f" y="%d" fill="#222">%s</text>`+"\n", x(br.value)+6, by+barH/2+5, esc(thousands(br.value)))
	}
	return bottom + 18
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	pow := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*pow >= x {
			return m * pow
		}
	}
	return 10 * pow
}

// compact formats an axis value: 250k, 1.5M.
func compact(v float64) string {
	switch {
	case v >= 1e6:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v/1e6), ".0") + "M"
	case v >= 1e3:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v/1e3), ".0") + "k"
	}
	return fmt.Sprintf("%.0f", v)
}

func esc(s string) string { return html.EscapeString(s) }
