package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

import "math"

// fit is a least-squares line through a series: its slope in bytes per second, and how many
// standard errors the slope lies above zero (+Inf for an exact rising line).
type fit struct {
	slope  float64
	sigmas float64
}

// slopes fits a line through the working set and through each cause of the window. Times
// are taken relative to the window's mean so that nanosecond timestamps keep their
// precision.
func (w *window) slopes() (ws fit, causes [numCauses]fit) {
	n := float64(w.len())
	var tMean float64
	t0 := w.at(0).t
	for i := range w.len() {
		tMean += float64(w.at(i).t-t0) / 1e9
	}
	tMean /= n
	var sxx, sxy, syy, yMean float64
	var cMean, cxy, cyy [numCauses]float64
	for i := range w.len() {
		p := w.at(i)
		yMean += p.ws
		for c := range numCauses {
			cMean[c] += float64(p.causes[c])
		}
	}
	yMean /= n
	for c := range numCauses {
		cMean[c] /= n
	}
	for i := range w.len() {
		p := w.at(i)
		dt := float64(p.t-t0)/1e9 - tMean
		dy := p.ws - yMean
		sxx += dt * dt
		sxy += dt * dy
		syy += dy * dy
		for c := range numCauses {
			dc := float64(p.causes[c]) - cMean[c]
			cxy[c] += dt * dc
			cyy[c] += dc * dc
		}
	}
	if sxx == 0 {
		return fit{}, causes
	}
	for c := range numCauses {
		causes[c] = lineFit(sxx, cxy[c], cyy[c], n)
	}
	return lineFit(sxx, sxy, syy, n), causes
}

// lineFit turns the centred sums of a regression into its slope and t-statistic.
func lineFit(sxx, sxy, syy, n float64) fit {
	slope := sxy / sxx
	ssr := max(syy-slope*sxy, 0) // residual sum of squares
	se := math.Sqrt(ssr / (n - 2) / sxx)
	switch {
	case se > 0:
		return fit{slope: slope, sigmas: slope / se}
	case slope > 0:
		return fit{slope: slope, sigmas: math.Inf(1)}
	case slope < 0:
		return fit{slope: slope, sigmas: math.Inf(-1)}
	default:
		return fit{}
	}
}
