package console

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// palette is Okabe and Ito's colour-blind-safe palette (black left out,
// kept for text); grey is kept for "untagged" and "other".
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"}

const grey = "#8c8c8c"

// series is one stacked segment's values, one per period.
type series struct {
	Label  string
	Color  string
	Values []float64
}

// chart is a stacked bar chart over periods.
type chart struct {
	// Title names the chart for screen readers.
	Title  string
	Labels []string // one per period (x axis)
	Series []series
	// Format formats a value (axis ticks, hover titles).
	Format func(float64) string
	// Lines draws each series as a line of points (for series that do
	// not add up, such as percentiles) instead of stacking bars; a NaN
	// value is a gap.
	Lines bool
	// Small draws for a panel a third of the page wide (larger text for
	// its size).
	Small bool
}

// colorSeries gives each series a palette colour, grey to the labels
// grey names (untagged, other).
func colorSeries(ss []series, greyLabel func(string) bool) {
	n := 0
	for i := range ss {
		if greyLabel(ss[i].Label) {
			ss[i].Color = grey
			continue
		}
		ss[i].Color = palette[n%len(palette)]
		n++
	}
}

// niceStep returns a round tick step covering max in about n ticks.
func niceStep(max float64, n int) float64 {
	if max <= 0 {
		return 1
	}
	raw := max / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// SVG renders the chart: axes with ticks, one bar per period with a
// segment per series (each focusable, with a <title> giving its value),
// and a legend. It is drawn on the server, so it needs no JavaScript.
func (c chart) SVG() template.HTML {
	W, H, left, right, top, bottom := 960, 300, 84, 16, 12, 46
	if c.Small {
		W, H, left = 480, 260, 70
	}
	pw, ph := float64(W-left-right), float64(H-top-bottom)
	n := len(c.Labels)
	var max float64
	for i := 0; i < n; i++ {
		var sum float64
		for _, s := range c.Series {
			if i < len(s.Values) && s.Values[i] > 0 && !math.IsNaN(s.Values[i]) {
				if c.Lines {
					sum = math.Max(sum, s.Values[i])
				} else {
					sum += s.Values[i]
				}
			}
		}
		max = math.Max(max, sum)
	}
	step := niceStep(max, 5)
	top5 := step * math.Ceil(max/step)
	if top5 == 0 {
		top5 = step
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">`, W, H)
	fmt.Fprintf(&b, `<title id="chart-title">%s</title>`, esc(c.Title))
	// Y axis: grid lines and tick labels.
	for v := 0.0; v <= top5+step/2; v += step {
		y := float64(top) + ph - v/top5*ph
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, left, W-right, y, y)
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%.1f" text-anchor="end">%s</text>`, left-8, y+4, esc(c.Format(v)))
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%d" x2="%d" y1="%d" y2="%d"/>`, left, W-right, top+int(ph), top+int(ph))
	if n > 0 {
		slot := pw / float64(n)
		bw := math.Max(1, math.Min(slot*0.7, 64))
		maxLabels := 12.0
		if c.Small {
			maxLabels = 5
		}
		every := int(math.Ceil(float64(n) / maxLabels))
		if c.Lines {
			for _, s := range c.Series {
				var pts []string
				line := func() {
					if len(pts) > 0 {
						fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, s.Color, strings.Join(pts, " "))
					}
					pts = pts[:0]
				}
				for i, v := range s.Values {
					if math.IsNaN(v) {
						line()
						continue
					}
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", float64(left)+slot*(float64(i)+0.5), float64(top)+ph-math.Max(v, 0)/top5*ph))
				}
				line()
				for i, v := range s.Values {
					if v <= 0 || math.IsNaN(v) {
						continue
					}
					fmt.Fprintf(&b, `<circle class="seg" tabindex="0" cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s — %s: %s</title></circle>`,
						float64(left)+slot*(float64(i)+0.5), float64(top)+ph-v/top5*ph, s.Color, esc(c.Labels[i]), esc(s.Label), esc(c.Format(v)))
				}
			}
		}
		for i, label := range c.Labels {
			x := float64(left) + slot*float64(i) + (slot-bw)/2
			y := float64(top) + ph
			for _, s := range c.Series {
				if c.Lines {
					break
				}
				if i >= len(s.Values) || s.Values[i] <= 0 || math.IsNaN(s.Values[i]) {
					continue
				}
				h := s.Values[i] / top5 * ph
				y -= h
				fmt.Fprintf(&b, `<rect class="seg" tabindex="0" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s — %s: %s</title></rect>`,
					x, y, bw, math.Max(h, 0.5), s.Color, esc(label), esc(s.Label), esc(c.Format(s.Values[i])))
			}
			if i%every == 0 {
				fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%d" text-anchor="middle">%s</text>`, x+bw/2, H-bottom+18, esc(label))
			}
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// Legend renders the chart's legend as HTML list items.
func (c chart) Legend() template.HTML {
	var b strings.Builder
	b.WriteString(`<ul class="legend">`)
	for _, s := range c.Series {
		fmt.Fprintf(&b, `<li><svg class="swatch" width="12" height="12" aria-hidden="true"><rect width="12" height="12" fill="%s"/></svg>%s</li>`, s.Color, esc(s.Label))
	}
	b.WriteString(`</ul>`)
	return template.HTML(b.String())
}

// Empty reports whether the chart has nothing to draw.
func (c chart) Empty() bool {
	for _, s := range c.Series {
		for _, v := range s.Values {
			if v != 0 && !math.IsNaN(v) {
				return false
			}
		}
	}
	return true
}
