package cloudwatch

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Service answers CloudWatch's read API for one caller's registry.
type Service struct {
	meta metadata.Reader
	ids  *identity.Service
	now  func() time.Time
}

// NewService returns the API core over meta, authorizing with ids.
func NewService(meta metadata.Reader, ids *identity.Service, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{meta: meta, ids: ids, now: now}
}

// authorize asks whether the caller may take action in the account's
// CloudWatch: the root always may, an IAM principal as its policies say.
func (s *Service) authorize(ctx context.Context, action, account string) error {
	d, req, err := s.ids.Authorize(ctx, identity.Check{Action: "cloudwatch:" + action, Resource: "*", ResourceAccount: account})
	if err != nil {
		return err
	}
	if !d.Allowed {
		return errorf(CodeAccessDenied, "%s", s.ids.DenialMessage(d, req))
	}
	return nil
}

// Limits CloudWatch sets.
const (
	maxDimensions       = 30
	maxStatDatapoints   = 1440
	maxDataDatapoints   = 100_800
	maxDataQueries      = 500
	listPage            = 500
	listWindow          = 14 * 24 * time.Hour
	recentlyActiveRange = 3 * time.Hour
)

func validateMetric(m Metric, prefix string) error {
	if m.Namespace == "" {
		return missing(prefix + "Namespace")
	}
	if m.MetricName == "" {
		return missing(prefix + "MetricName")
	}
	if len(m.Namespace) > 255 {
		return errorf(CodeInvalidParameterValue, "The parameter %sNamespace must be at most 255 characters.", prefix)
	}
	if len(m.MetricName) > 255 {
		return errorf(CodeInvalidParameterValue, "The parameter %sMetricName must be at most 255 characters.", prefix)
	}
	if len(m.Dimensions) > maxDimensions {
		return errorf(CodeInvalidParameterValue, "The collection %sDimensions must not have a size greater than %d.", prefix, maxDimensions)
	}
	seen := map[string]bool{}
	for i, d := range m.Dimensions {
		if d.Name == "" {
			return missing(prefix + "Dimensions.member." + itoa(i+1) + ".Name")
		}
		if d.Value == "" {
			return missing(prefix + "Dimensions.member." + itoa(i+1) + ".Value")
		}
		if seen[d.Name] {
			return errorf(CodeInvalidParameterCombination, "No Metric may specify the same dimension twice.")
		}
		seen[d.Name] = true
	}
	return nil
}

func validatePeriod(period int, name string) error {
	if period <= 0 {
		return errorf(CodeInvalidParameterValue, "The parameter %s must be greater than 0.", name)
	}
	if period%60 != 0 {
		return errorf(CodeInvalidParameterValue, "The parameter %s must be a multiple of 60.", name)
	}
	return nil
}

// GetMetricStatistics answers the statistics of one metric of the
// caller's registry per period.
func (s *Service) GetMetricStatistics(ctx context.Context, scope metadata.Scope, in StatisticsInput) ([]Datapoint, error) {
	if err := validateMetric(in.Metric, ""); err != nil {
		return nil, err
	}
	switch {
	case in.StartTime.IsZero():
		return nil, missing("StartTime")
	case in.EndTime.IsZero():
		return nil, missing("EndTime")
	case in.Period == 0:
		return nil, missing("Period")
	}
	if err := validatePeriod(in.Period, "Period"); err != nil {
		return nil, err
	}
	if len(in.Statistics) == 0 && len(in.ExtendedStatistics) == 0 {
		return nil, errorf(CodeInvalidParameterCombination, "Must specify either Statistics or ExtendedStatistics, but not both.")
	}
	if len(in.Statistics) > 0 && len(in.ExtendedStatistics) > 0 {
		return nil, errorf(CodeInvalidParameterCombination, "Must specify either Statistics or ExtendedStatistics, but not both.")
	}
	for i, st := range in.Statistics {
		if !slices.Contains(statistics, st) {
			return nil, errorf(CodeInvalidParameterValue, "The parameter Statistics.member.%d must be a value in the set [ Minimum, Maximum, Sum, SampleCount, Average ].", i+1)
		}
	}
	if len(in.ExtendedStatistics) > 0 {
		// Percentiles need the samples' distribution, which is not kept.
		return nil, errorf(CodeInvalidParameterValue, "The parameter ExtendedStatistics is not supported: this server keeps SampleCount, Average, Sum, Minimum and Maximum only.")
	}
	if !in.StartTime.Before(in.EndTime) {
		return nil, errorf(CodeInvalidParameterValue, "The parameter StartTime must be less than the parameter EndTime.")
	}
	start, end := align(in.StartTime, in.EndTime)
	if n := (end.Unix() - start.Unix() + int64(in.Period) - 1) / int64(in.Period); n > maxStatDatapoints {
		return nil, errorf(CodeInvalidParameterCombination, "You have requested up to %d datapoints, which exceeds the limit of %d. You may reduce the datapoints requested by increasing Period, or decreasing the time range.", n, maxStatDatapoints)
	}
	if err := s.authorize(ctx, "GetMetricStatistics", scope.Account); err != nil {
		return nil, err
	}
	if in.Unit != "" && in.Unit != unitOf(in.MetricName) {
		return []Datapoint{}, nil // points are kept in one unit: none in another
	}
	buckets, err := s.buckets(ctx, scope, in.Metric, start, end, in.Period)
	if err != nil {
		return nil, err
	}
	out := make([]Datapoint, 0, len(buckets))
	for _, b := range buckets {
		dp := Datapoint{Timestamp: b.Start, Unit: unitOf(in.MetricName)}
		for _, st := range in.Statistics {
			v := stat(b, st)
			switch st {
			case "SampleCount":
				dp.SampleCount = &v
			case "Average":
				dp.Average = &v
			case "Sum":
				dp.Sum = &v
			case "Minimum":
				dp.Minimum = &v
			case "Maximum":
				dp.Maximum = &v
			}
		}
		out = append(out, dp)
	}
	return out, nil
}

// align truncates a time range to whole minutes, the finest points kept.
func align(start, end time.Time) (time.Time, time.Time) {
	start = start.UTC().Truncate(time.Minute)
	end = end.UTC()
	if t := end.Truncate(time.Minute); !t.Equal(end) {
		end = t.Add(time.Minute)
	}
	return start, end
}

// stat computes a statistic of a period's point.
func stat(p metadata.Datapoint, name string) float64 {
	switch name {
	case "SampleCount":
		return p.Count
	case "Average":
		if p.Count == 0 {
			return 0
		}
		return p.Sum / p.Count
	case "Sum":
		return p.Sum
	case "Minimum":
		return p.Min
	case "Maximum":
		return p.Max
	}
	return 0
}

// buckets reads a series' points in [start, end) at every resolution
// that divides period, and merges them into periods that start at start,
// oldest first; periods without samples are left out.
func (s *Service) buckets(ctx context.Context, scope metadata.Scope, m Metric, start, end time.Time, period int) ([]metadata.Datapoint, error) {
	dims := Canonical(m.Dimensions)
	var points []metadata.Datapoint
	for _, res := range []int{Minute, FiveMinute, Hour} {
		if period%res != 0 {
			continue
		}
		got, err := s.meta.Datapoints(ctx, metadata.DatapointQuery{Scope: scope, Namespace: m.Namespace, Metric: m.MetricName,
			Dimensions: dims, Period: res, From: start, To: end})
		if err != nil {
			return nil, err
		}
		points = append(points, got...)
	}
	byStart := map[int64]*metadata.Datapoint{}
	for _, p := range points {
		i := (p.Start.Unix() - start.Unix()) / int64(period)
		b := start.Unix() + i*int64(period)
		if agg, ok := byStart[b]; ok {
			merge(agg, p)
			continue
		}
		q := p
		q.Start, q.Period = time.Unix(b, 0).UTC(), period
		byStart[b] = &q
	}
	out := make([]metadata.Datapoint, 0, len(byStart))
	for _, p := range byStart {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, nil
}

var queryID = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

// GetMetricData answers metric queries (no math) over a time range.
func (s *Service) GetMetricData(ctx context.Context, scope metadata.Scope, in DataInput) ([]DataResult, error) {
	switch {
	case len(in.Queries) == 0:
		return nil, missing("MetricDataQueries")
	case in.StartTime.IsZero():
		return nil, missing("StartTime")
	case in.EndTime.IsZero():
		return nil, missing("EndTime")
	}
	if len(in.Queries) > maxDataQueries {
		return nil, errorf(CodeInvalidParameterValue, "The collection MetricDataQueries must not have a size greater than %d.", maxDataQueries)
	}
	if !in.StartTime.Before(in.EndTime) {
		return nil, errorf(CodeInvalidParameterValue, "The parameter StartTime must be less than the parameter EndTime.")
	}
	scanBy := in.ScanBy
	if scanBy == "" {
		scanBy = "TimestampDescending"
	}
	if scanBy != "TimestampDescending" && scanBy != "TimestampAscending" {
		return nil, errorf(CodeInvalidParameterValue, "The parameter ScanBy must be a value in the set [ TimestampDescending, TimestampAscending ].")
	}
	if in.NextToken != "" {
		return nil, errorf(CodeInvalidNextToken, "The service returned an invalid next token.")
	}
	ids := map[string]bool{}
	start, end := align(in.StartTime, in.EndTime)
	total := int64(0)
	for i, q := range in.Queries {
		prefix := "MetricDataQueries.member." + itoa(i+1) + "."
		if q.ID == "" {
			return nil, missing(prefix + "Id")
		}
		if !queryID.MatchString(q.ID) || len(q.ID) > 255 {
			return nil, errorf(CodeInvalidParameterValue, "The value %s for parameter %sId is not valid: it must start with a lowercase letter and hold only letters, digits and underscores.", q.ID, prefix)
		}
		if ids[q.ID] {
			return nil, errorf(CodeInvalidParameterValue, "The value %s for parameter %sId is not unique.", q.ID, prefix)
		}
		ids[q.ID] = true
		if q.Expression != "" {
			return nil, errorf(CodeInvalidParameterValue, "The parameter %sExpression is not supported: this server answers MetricStat queries only, without metric math.", prefix)
		}
		if q.MetricStat == nil {
			return nil, errorf(CodeInvalidParameterCombination, "Exactly one of the parameters %sMetricStat and %sExpression must be specified.", prefix, prefix)
		}
		ms := q.MetricStat
		if err := validateMetric(ms.Metric, prefix+"MetricStat.Metric."); err != nil {
			return nil, err
		}
		if ms.Period == 0 {
			return nil, missing(prefix + "MetricStat.Period")
		}
		if err := validatePeriod(ms.Period, prefix+"MetricStat.Period"); err != nil {
			return nil, err
		}
		if ms.Stat == "" {
			return nil, missing(prefix + "MetricStat.Stat")
		}
		if !slices.Contains(statistics, ms.Stat) {
			return nil, errorf(CodeInvalidParameterValue, "The parameter %sMetricStat.Stat must be a value in the set [ Minimum, Maximum, Sum, SampleCount, Average ].", prefix)
		}
		total += (end.Unix() - start.Unix() + int64(ms.Period) - 1) / int64(ms.Period)
	}
	if total > maxDataDatapoints {
		return nil, errorf(CodeInvalidParameterCombination, "You have requested up to %d datapoints, which exceeds the limit of %d.", total, maxDataDatapoints)
	}
	if err := s.authorize(ctx, "GetMetricData", scope.Account); err != nil {
		return nil, err
	}
	out := []DataResult{}
	for _, q := range in.Queries {
		if q.ReturnData != nil && !*q.ReturnData {
			continue
		}
		ms := q.MetricStat
		label := q.Label
		if label == "" {
			label = ms.Metric.MetricName
		}
		r := DataResult{ID: q.ID, Label: label, StatusCode: "Complete", Timestamps: []time.Time{}, Values: []float64{}}
		if ms.Unit == "" || ms.Unit == unitOf(ms.Metric.MetricName) {
			buckets, err := s.buckets(ctx, scope, ms.Metric, start, end, ms.Period)
			if err != nil {
				return nil, err
			}
			if scanBy == "TimestampDescending" {
				slices.Reverse(buckets)
			}
			for _, b := range buckets {
				r.Timestamps = append(r.Timestamps, b.Start)
				r.Values = append(r.Values, stat(b, ms.Stat))
			}
		}
		if in.MaxDatapoints > 0 && len(r.Values) > in.MaxDatapoints {
			r.Timestamps, r.Values, r.StatusCode = r.Timestamps[:in.MaxDatapoints], r.Values[:in.MaxDatapoints], "PartialData"
		}
		out = append(out, r)
	}
	return out, nil
}

// listToken is ListMetrics's NextToken: the last series answered.
type listToken struct {
	N string `json:"n"`
	M string `json:"m"`
	D string `json:"d"`
}

// ListMetrics lists the caller's registry's metrics that have points in
// the last two weeks (or three hours, for RecentlyActive PT3H).
func (s *Service) ListMetrics(ctx context.Context, scope metadata.Scope, in ListInput) ([]Metric, string, error) {
	if len(in.Dimensions) > 10 {
		return nil, "", errorf(CodeInvalidParameterValue, "The collection Dimensions must not have a size greater than 10.")
	}
	for i, f := range in.Dimensions {
		if f.Name == "" {
			return nil, "", missing("Dimensions.member." + itoa(i+1) + ".Name")
		}
	}
	since := s.now().Add(-listWindow)
	switch in.RecentlyActive {
	case "":
	case "PT3H":
		since = s.now().Add(-recentlyActiveRange)
	default:
		return nil, "", errorf(CodeInvalidParameterValue, "The parameter RecentlyActive must be a value in the set [ PT3H ].")
	}
	var after metadata.MetricSeries
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		var t listToken
		if err != nil || json.Unmarshal(b, &t) != nil {
			return nil, "", errorf(CodeInvalidNextToken, "The service returned an invalid next token.")
		}
		after = metadata.MetricSeries{Namespace: t.N, Metric: t.M, Dimensions: t.D}
	}
	if err := s.authorize(ctx, "ListMetrics", scope.Account); err != nil {
		return nil, "", err
	}
	var out []Metric
	for {
		series, err := s.meta.MetricSeries(ctx, scope, in.Namespace, in.MetricName, since, after, listPage)
		if err != nil {
			return nil, "", err
		}
		for _, sr := range series {
			after = sr
			dims, err := ParseCanonical(sr.Dimensions)
			if err != nil {
				return nil, "", err
			}
			if !matches(dims, in.Dimensions) {
				continue
			}
			out = append(out, Metric{Namespace: sr.Namespace, MetricName: sr.Metric, Dimensions: dims})
			if len(out) == listPage {
				b, _ := json.Marshal(listToken{sr.Namespace, sr.Metric, sr.Dimensions})
				return out, base64.RawURLEncoding.EncodeToString(b), nil
			}
		}
		if len(series) < listPage {
			return out, "", nil
		}
	}
}

// matches reports whether dims pass every filter.
func matches(dims []Dimension, filters []DimensionFilter) bool {
	for _, f := range filters {
		ok := false
		for _, d := range dims {
			if d.Name == f.Name && (f.Value == nil || *f.Value == d.Value) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func itoa(i int) string { return strconv.Itoa(i) }
