package anomaly

import (
	"math"
	"slices"
)

// median returns the median of xs, reordering xs; NaN when xs is empty.
func median(xs []float64) float64 {
	n := len(xs)
	if n == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// quantile returns the q-quantile (0 <= q <= 1) of sorted xs by linear
// interpolation; NaN when xs is empty.
func quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	pos := q * float64(n-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, n-1)
	return sorted[lo] + (pos-float64(lo))*(sorted[hi]-sorted[lo])
}

// robustScale returns the centre (median) of xs and a scale estimate that
// matches the standard deviation for normal data: the larger of the
// normalised median absolute deviation and the normalised 80th percentile
// of the absolute deviations. The second guards series whose typical hour
// sits exactly on the baseline (sparse spend) and whose MAD is therefore
// near zero although their bursts are not rare. It reorders xs and uses
// buf (of at least len(xs)) as scratch.
func robustScale(xs, buf []float64) (centre, scale float64) {
	centre = median(xs)
	dev := buf[:len(xs)]
	for i, x := range xs {
		dev[i] = math.Abs(x - centre)
	}
	slices.Sort(dev)
	mad := quantile(dev, 0.5) * 1.4826
	q80 := quantile(dev, 0.8) / 1.2816
	return centre, max(mad, q80)
}

// normalQuantile returns the p-quantile of the standard normal
// distribution (Acklam's rational approximation, relative error < 1.2e-9).
func normalQuantile(p float64) float64 {
	switch {
	case p <= 0:
		return math.Inf(-1)
	case p >= 1:
		return math.Inf(1)
	}
	a := [...]float64{-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00}
	b := [...]float64{-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01}
	c := [...]float64{-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00}
	d := [...]float64{7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00}
	const low = 0.02425
	switch {
	case p < low:
		q := math.Sqrt(-2 * math.Log(p))
		return (((((c[0]*q+c[1])*q+c[2])*q+c[3])*q+c[4])*q + c[5]) / ((((d[0]*q+d[1])*q+d[2])*q+d[3])*q + 1)
	case p > 1-low:
		q := math.Sqrt(-2 * math.Log(1-p))
		return -(((((c[0]*q+c[1])*q+c[2])*q+c[3])*q+c[4])*q + c[5]) / ((((d[0]*q+d[1])*q+d[2])*q+d[3])*q + 1)
	}
	q := p - 0.5
	r := q * q
	return (((((a[0]*r+a[1])*r+a[2])*r+a[3])*r+a[4])*r + a[5]) * q / (((((b[0]*r+b[1])*r+b[2])*r+b[3])*r+b[4])*r + 1)
}

// studentQuantile returns the p-quantile of Student's t distribution with
// nu degrees of freedom from the normal quantile by the Cornish-Fisher
// expansion (Abramowitz and Stegun 26.7.5), accurate to a few parts in a
// thousand for nu >= 5 and the tail probabilities the detector uses.
func studentQuantile(p, nu float64) float64 {
	z := normalQuantile(p)
	z2 := z * z
	g1 := (z2 + 1) * z / 4
	g2 := ((5*z2+16)*z2 + 3) * z / 96
	g3 := (((3*z2+19)*z2+17)*z2 - 15) * z / 384
	g4 := ((((79*z2+776)*z2+1482)*z2-1920)*z2 - 945) * z / 92160
	return z + g1/nu + g2/(nu*nu) + g3/(nu*nu*nu) + g4/(nu*nu*nu*nu)
}
