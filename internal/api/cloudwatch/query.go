package cloudwatch

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/api/awsquery"
	"github.com/ecrd/ecrd/internal/auth"
	cw "github.com/ecrd/ecrd/internal/cloudwatch"
)

// ServeQuery serves a query-protocol call.
func (h *Handler) ServeQuery(w http.ResponseWriter, r *http.Request, c auth.Caller, values url.Values, requestID string) {
	q := awsquery.Writer{W: w, XMLNS: XMLNS, RequestID: requestID}
	f := awsquery.Form{Values: values}
	op := f.Get("Action")
	if !h.Known(op) {
		q.Error("InvalidAction", "Could not find operation "+op+" for version "+f.Get("Version"), http.StatusBadRequest)
		return
	}
	info, scope := begin(r, c, op)
	r = principalContext(r, c)
	var (
		result any
		err    error
	)
	switch op {
	case "ListMetrics":
		var in cw.ListInput
		in.Namespace, in.MetricName, in.NextToken, in.RecentlyActive = f.Get("Namespace"), f.Get("MetricName"), f.Get("NextToken"), f.Get("RecentlyActive")
		names := f.MemberFields("Dimensions", "Name")
		for i, n := range names {
			d := cw.DimensionFilter{Name: n}
			if v, ok := f.Values["Dimensions.member."+strconv.Itoa(i+1)+".Value"]; ok {
				d.Value = &v[0]
			}
			in.Dimensions = append(in.Dimensions, d)
		}
		var (
			metrics []cw.Metric
			next    string
		)
		if metrics, next, err = h.svc.ListMetrics(r.Context(), scope, in); err == nil {
			result = listResult(metrics, next)
		}
	case "GetMetricStatistics":
		var in cw.StatisticsInput
		if in, err = statisticsInput(f); err == nil {
			var dps []cw.Datapoint
			if dps, err = h.svc.GetMetricStatistics(r.Context(), scope, in); err == nil {
				result = statisticsResult(in.MetricName, dps)
			}
		}
	case "GetMetricData":
		var in cw.DataInput
		if in, err = dataInput(f); err == nil {
			var res []cw.DataResult
			if res, err = h.svc.GetMetricData(r.Context(), scope, in); err == nil {
				result = dataResult(res)
			}
		}
	}
	if err != nil {
		e := h.errorOf(op, err)
		info.ErrorCode, info.ErrorMessage = e.Code, e.Message
		q.Error(e.Code, e.Message, e.Status)
		return
	}
	q.Result(op, result)
}

// paramError is a malformed parameter.
func paramError(name, value, want string) error {
	return &cw.Error{Code: cw.CodeInvalidParameterValue, Status: http.StatusBadRequest,
		Message: "Value (" + value + ") for parameter " + name + " is invalid. " + want}
}

// parseTime reads an ISO 8601 time (or seconds since the epoch, which
// the CLI's shorthand can send).
func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04Z", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Unix(0, int64(n*1e9)).UTC(), nil
	}
	return time.Time{}, paramError(name, s, "Must be an ISO 8601 time.")
}

func parseInt(name, s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, paramError(name, s, "Must be an integer.")
	}
	return n, nil
}

func dimensions(f awsquery.Form, prefix string) []cw.Dimension {
	var out []cw.Dimension
	for i := 1; ; i++ {
		p := prefix + "Dimensions.member." + strconv.Itoa(i) + "."
		n, nok := f.Values[p+"Name"]
		v, vok := f.Values[p+"Value"]
		if !nok && !vok {
			return out
		}
		d := cw.Dimension{}
		if nok {
			d.Name = n[0]
		}
		if vok {
			d.Value = v[0]
		}
		out = append(out, d)
	}
}

func statisticsInput(f awsquery.Form) (cw.StatisticsInput, error) {
	in := cw.StatisticsInput{Metric: cw.Metric{Namespace: f.Get("Namespace"), MetricName: f.Get("MetricName"), Dimensions: dimensions(f, "")},
		Statistics: f.Members("Statistics"), ExtendedStatistics: f.Members("ExtendedStatistics"), Unit: f.Get("Unit")}
	var err error
	if in.StartTime, err = parseTime("StartTime", f.Get("StartTime")); err != nil {
		return in, err
	}
	if in.EndTime, err = parseTime("EndTime", f.Get("EndTime")); err != nil {
		return in, err
	}
	in.Period, err = parseInt("Period", f.Get("Period"))
	return in, err
}

func dataInput(f awsquery.Form) (cw.DataInput, error) {
	in := cw.DataInput{ScanBy: f.Get("ScanBy"), NextToken: f.Get("NextToken")}
	var err error
	if in.StartTime, err = parseTime("StartTime", f.Get("StartTime")); err != nil {
		return in, err
	}
	if in.EndTime, err = parseTime("EndTime", f.Get("EndTime")); err != nil {
		return in, err
	}
	if in.MaxDatapoints, err = parseInt("MaxDatapoints", f.Get("MaxDatapoints")); err != nil {
		return in, err
	}
	for i := 1; ; i++ {
		p := "MetricDataQueries.member." + strconv.Itoa(i) + "."
		found := false
		for k := range f.Values {
			if strings.HasPrefix(k, p) {
				found = true
				break
			}
		}
		if !found {
			return in, nil
		}
		q := cw.DataQuery{ID: f.Get(p + "Id"), Label: f.Get(p + "Label"), Expression: f.Get(p + "Expression")}
		if v := f.Get(p + "ReturnData"); v != "" {
			b := v == "true"
			q.ReturnData = &b
		}
		if q.Period, err = parseInt(p+"Period", f.Get(p+"Period")); err != nil {
			return in, err
		}
		ms := p + "MetricStat."
		for k := range f.Values {
			if strings.HasPrefix(k, ms) {
				q.MetricStat = &cw.MetricStat{Metric: cw.Metric{Namespace: f.Get(ms + "Metric.Namespace"), MetricName: f.Get(ms + "Metric.MetricName"),
					Dimensions: dimensions(f, ms+"Metric.")}, Stat: f.Get(ms + "Stat"), Unit: f.Get(ms + "Unit")}
				if q.MetricStat.Period, err = parseInt(ms+"Period", f.Get(ms+"Period")); err != nil {
					return in, err
				}
				break
			}
		}
		in.Queries = append(in.Queries, q)
	}
}

// The XML shapes of the answers.
type (
	xmlDimension struct {
		Name  string `xml:"Name"`
		Value string `xml:"Value"`
	}
	xmlMetric struct {
		Namespace  string         `xml:"Namespace"`
		MetricName string         `xml:"MetricName"`
		Dimensions []xmlDimension `xml:"Dimensions>member"`
	}
	xmlDatapoint struct {
		Timestamp   string   `xml:"Timestamp"`
		SampleCount *float64 `xml:"SampleCount,omitempty"`
		Average     *float64 `xml:"Average,omitempty"`
		Sum         *float64 `xml:"Sum,omitempty"`
		Minimum     *float64 `xml:"Minimum,omitempty"`
		Maximum     *float64 `xml:"Maximum,omitempty"`
		Unit        string   `xml:"Unit"`
	}
	xmlDataResult struct {
		ID         string    `xml:"Id"`
		Label      string    `xml:"Label"`
		Timestamps []string  `xml:"Timestamps>member"`
		Values     []float64 `xml:"Values>member"`
		StatusCode string    `xml:"StatusCode"`
	}
)

func listResult(metrics []cw.Metric, next string) any {
	out := struct {
		Metrics   []xmlMetric `xml:"Metrics>member"`
		NextToken string      `xml:"NextToken,omitempty"`
	}{Metrics: []xmlMetric{}, NextToken: next}
	for _, m := range metrics {
		x := xmlMetric{Namespace: m.Namespace, MetricName: m.MetricName}
		for _, d := range m.Dimensions {
			x.Dimensions = append(x.Dimensions, xmlDimension(d))
		}
		out.Metrics = append(out.Metrics, x)
	}
	return out
}

func statisticsResult(label string, dps []cw.Datapoint) any {
	out := struct {
		Label      string         `xml:"Label"`
		Datapoints []xmlDatapoint `xml:"Datapoints>member"`
	}{Label: label}
	for _, d := range dps {
		out.Datapoints = append(out.Datapoints, xmlDatapoint{Timestamp: formatTime(d.Timestamp), SampleCount: d.SampleCount,
			Average: d.Average, Sum: d.Sum, Minimum: d.Minimum, Maximum: d.Maximum, Unit: d.Unit})
	}
	return out
}

func dataResult(res []cw.DataResult) any {
	out := struct {
		Results  []xmlDataResult `xml:"MetricDataResults>member"`
		Messages struct{}        `xml:"Messages"`
	}{}
	for _, r := range res {
		x := xmlDataResult{ID: r.ID, Label: r.Label, Values: r.Values, StatusCode: r.StatusCode}
		for _, t := range r.Timestamps {
			x.Timestamps = append(x.Timestamps, formatTime(t))
		}
		out.Results = append(out.Results, x)
	}
	return out
}
