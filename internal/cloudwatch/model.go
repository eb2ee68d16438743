package cloudwatch

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Namespaces and metrics ecrd publishes.
const (
	NamespaceECR   = "AWS/ECR"
	NamespaceUsage = "AWS/Usage"
	NamespaceECRD  = "ecrd/ECR"

	MetricPullCount    = "RepositoryPullCount"
	MetricCallCount    = "CallCount"
	MetricImageCount   = "RepositoryImageCount"
	MetricStorageBytes = "RepositoryStorageBytes"

	DimRepositoryName = "RepositoryName"
)

// units are the unit of each metric; a metric not listed has "None".
var units = map[string]string{
	MetricPullCount:    "Count",
	MetricImageCount:   "Count",
	MetricStorageBytes: "Bytes",
}

func unitOf(metric string) string {
	if u, ok := units[metric]; ok {
		return u
	}
	return "None"
}

// Resolutions: the periods points are kept at, and how long each is kept.
const (
	Minute     = 60
	FiveMinute = 300
	Hour       = 3600
)

// Retention of each resolution, as CloudWatch keeps its points.
var (
	MinuteRetention     = 15 * 24 * time.Hour
	FiveMinuteRetention = 63 * 24 * time.Hour
	HourRetention       = 455 * 24 * time.Hour
)

// Dimension is a name-value pair of a metric.
type Dimension struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

// Canonical is the stored text of a set of dimensions: sorted by name,
// as JSON. The same set always gives the same text.
func Canonical(dims []Dimension) string {
	sorted := slices.Clone(dims)
	slices.SortFunc(sorted, func(a, b Dimension) int { return strings.Compare(a.Name, b.Name) })
	if s, ok := canonicalPlain(sorted); ok {
		return s
	}
	if sorted == nil {
		sorted = []Dimension{}
	}
	b, _ := json.Marshal(sorted)
	return string(b)
}

// canonicalPlain is Canonical's text of dimensions whose names and values
// JSON writes as they are (the common case, written per request for the
// registry's metrics), without encoding/json; false for any other.
func canonicalPlain(dims []Dimension) (string, bool) {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range dims {
		if !plainJSON(d.Name) || !plainJSON(d.Value) {
			return "", false
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"Name":"`)
		b.WriteString(d.Name)
		b.WriteString(`","Value":"`)
		b.WriteString(d.Value)
		b.WriteString(`"}`)
	}
	b.WriteByte(']')
	return b.String(), true
}

// plainJSON reports whether encoding/json writes s between its quotes as
// it is: printable ASCII but for the quote, the backslash and the three
// characters it escapes for HTML.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// ParseCanonical reads Canonical's text back.
func ParseCanonical(s string) ([]Dimension, error) {
	var dims []Dimension
	if err := json.Unmarshal([]byte(s), &dims); err != nil {
		return nil, fmt.Errorf("stored dimensions %q: %w", s, err)
	}
	return dims, nil
}

// Metric names one metric.
type Metric struct {
	Namespace  string
	MetricName string
	Dimensions []Dimension
}

// DimensionFilter selects metrics by a dimension (any value if Value is
// nil).
type DimensionFilter struct {
	Name  string
	Value *string
}

// ListInput is ListMetrics's request.
type ListInput struct {
	Namespace, MetricName string
	Dimensions            []DimensionFilter
	NextToken             string
	RecentlyActive        string // "" or PT3H
}

// StatisticsInput is GetMetricStatistics's request.
type StatisticsInput struct {
	Metric
	StartTime, EndTime time.Time
	Period             int
	Statistics         []string
	ExtendedStatistics []string
	Unit               string
}

// Datapoint is one period's statistics in GetMetricStatistics's answer;
// only the statistics asked for are set.
type Datapoint struct {
	Timestamp   time.Time
	SampleCount *float64
	Average     *float64
	Sum         *float64
	Minimum     *float64
	Maximum     *float64
	Unit        string
}

// MetricStat is one metric's statistic in GetMetricData.
type MetricStat struct {
	Metric Metric
	Period int
	Stat   string
	Unit   string
}

// DataQuery is one of GetMetricData's queries.
type DataQuery struct {
	ID         string
	Label      string
	Expression string
	MetricStat *MetricStat
	ReturnData *bool
	Period     int
}

// DataInput is GetMetricData's request.
type DataInput struct {
	Queries            []DataQuery
	StartTime, EndTime time.Time
	ScanBy             string // TimestampDescending (default) or TimestampAscending
	MaxDatapoints      int
	NextToken          string
}

// DataResult is one query's answer in GetMetricData.
type DataResult struct {
	ID         string
	Label      string
	Timestamps []time.Time
	Values     []float64
	StatusCode string
}

// Statistics CloudWatch computes from stored points.
var statistics = []string{"SampleCount", "Average", "Sum", "Minimum", "Maximum"}
