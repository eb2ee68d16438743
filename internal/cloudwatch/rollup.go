package cloudwatch

import (
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
)

// RollUp merges points into points of the coarser period to (a multiple
// of theirs), one per series and aligned period: sums and sample counts
// add, minimum and maximum widen. The statistics of the coarser points
// are exactly those of the samples the finer ones held.
func RollUp(points []metadata.Datapoint, to int) []metadata.Datapoint {
	type key struct {
		scope                   metadata.Scope
		namespace, metric, dims string
		start                   int64
	}
	var (
		order []key
		byKey = map[key]*metadata.Datapoint{}
	)
	for _, p := range points {
		start := p.Start.Unix() - mod(p.Start.Unix(), int64(to))
		k := key{p.Scope, p.Namespace, p.Metric, p.Dimensions, start}
		if agg, ok := byKey[k]; ok {
			merge(agg, p)
			continue
		}
		q := p
		q.Period, q.Start = to, time.Unix(start, 0).UTC()
		byKey[k] = &q
		order = append(order, k)
	}
	out := make([]metadata.Datapoint, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	return out
}

// merge adds p's samples to agg.
func merge(agg *metadata.Datapoint, p metadata.Datapoint) {
	agg.Sum += p.Sum
	agg.Count += p.Count
	agg.Min = min(agg.Min, p.Min)
	agg.Max = max(agg.Max, p.Max)
}

// mod is the non-negative remainder of a by b.
func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
