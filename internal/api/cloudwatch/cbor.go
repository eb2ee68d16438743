package cloudwatch

import (
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/ecrd/ecrd/internal/auth"
	cw "github.com/ecrd/ecrd/internal/cloudwatch"
)

// ServeCBOR serves an RPC v2 CBOR call of operation op.
func (h *Handler) ServeCBOR(w http.ResponseWriter, r *http.Request, c auth.Caller, op string, body []byte) {
	if !h.Known(op) {
		WriteCBORError(w, "UnknownOperationException", "", "Unknown operation "+op, http.StatusNotFound)
		return
	}
	info, scope := begin(r, c, op)
	r = principalContext(r, c)
	var (
		out cbor.Map
		err error
	)
	in, err := decodeBody(body)
	if err == nil {
		switch op {
		case "ListMetrics":
			var li cw.ListInput
			if li, err = listInputCBOR(in); err == nil {
				var (
					metrics []cw.Metric
					next    string
				)
				if metrics, next, err = h.svc.ListMetrics(r.Context(), scope, li); err == nil {
					out = listOutputCBOR(metrics, next)
				}
			}
		case "GetMetricStatistics":
			var si cw.StatisticsInput
			if si, err = statisticsInputCBOR(in); err == nil {
				var dps []cw.Datapoint
				if dps, err = h.svc.GetMetricStatistics(r.Context(), scope, si); err == nil {
					out = statisticsOutputCBOR(si.MetricName, dps)
				}
			}
		case "GetMetricData":
			var di cw.DataInput
			if di, err = dataInputCBOR(in); err == nil {
				var res []cw.DataResult
				if res, err = h.svc.GetMetricData(r.Context(), scope, di); err == nil {
					out = dataOutputCBOR(res)
				}
			}
		}
	}
	if err != nil {
		e := h.errorOf(op, err)
		info.ErrorCode, info.ErrorMessage = e.Code, e.Message
		WriteCBORError(w, cw.ShapeName(e.Code), e.Code, e.Message, e.Status)
		return
	}
	writeCBOR(w, http.StatusOK, out)
}

func writeCBOR(w http.ResponseWriter, status int, v cbor.Map) {
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.WriteHeader(status)
	w.Write(cbor.Encode(v))
}

// WriteCBORError answers an error: the shape in __type, and the query
// protocol's code (if any) in x-amzn-query-error, which query-compatible
// clients report as the error's code.
func WriteCBORError(w http.ResponseWriter, shape, queryCode, message string, status int) {
	if queryCode != "" {
		kind := "Sender"
		if status >= 500 {
			kind = "Receiver"
		}
		w.Header().Set("X-Amzn-Query-Error", queryCode+";"+kind)
	}
	writeCBOR(w, status, cbor.Map{"__type": cbor.String("com.amazonaws.cloudwatch#" + shape), "message": cbor.String(message)})
}

// serializationError is a body that is not the operation's input.
func serializationError(format string, args ...any) error {
	return &cw.Error{Code: cw.CodeInvalidParameterValue, Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

func decodeBody(body []byte) (cbor.Map, error) {
	if len(body) == 0 {
		return cbor.Map{}, nil
	}
	v, err := cbor.Decode(body)
	if err != nil {
		return nil, serializationError("The request body is not valid CBOR: %v", err)
	}
	m, ok := v.(cbor.Map)
	if !ok {
		return nil, serializationError("The request body must be a CBOR map.")
	}
	return m, nil
}

// field reads a member, nil (absent) and CBOR null alike.
func field(m cbor.Map, name string) cbor.Value {
	v, ok := m[name]
	if !ok {
		return nil
	}
	if _, null := v.(*cbor.Nil); null {
		return nil
	}
	return v
}

func str(m cbor.Map, name string) (string, error) {
	v := field(m, name)
	if v == nil {
		return "", nil
	}
	s, ok := v.(cbor.String)
	if !ok {
		return "", serializationError("The parameter %s must be a string.", name)
	}
	return string(s), nil
}

func integer(m cbor.Map, name string) (int, error) {
	v := field(m, name)
	if v == nil {
		return 0, nil
	}
	n, err := cbor.AsInt32(v)
	if err != nil {
		return 0, serializationError("The parameter %s must be an integer.", name)
	}
	return int(n), nil
}

func boolean(m cbor.Map, name string) (*bool, error) {
	v := field(m, name)
	if v == nil {
		return nil, nil
	}
	b, ok := v.(cbor.Bool)
	if !ok {
		return nil, serializationError("The parameter %s must be a boolean.", name)
	}
	x := bool(b)
	return &x, nil
}

func timestamp(m cbor.Map, name string) (time.Time, error) {
	v := field(m, name)
	if v == nil {
		return time.Time{}, nil
	}
	t, err := cbor.AsTime(v)
	if err != nil {
		return time.Time{}, serializationError("The parameter %s must be a timestamp.", name)
	}
	return t.UTC(), nil
}

func list(m cbor.Map, name string) (cbor.List, error) {
	v := field(m, name)
	if v == nil {
		return nil, nil
	}
	l, ok := v.(cbor.List)
	if !ok {
		return nil, serializationError("The parameter %s must be a list.", name)
	}
	return l, nil
}

func structure(v cbor.Value, name string) (cbor.Map, error) {
	m, ok := v.(cbor.Map)
	if !ok {
		return nil, serializationError("The parameter %s must be a structure.", name)
	}
	return m, nil
}

func stringList(m cbor.Map, name string) ([]string, error) {
	l, err := list(m, name)
	var out []string
	for _, v := range l {
		s, ok := v.(cbor.String)
		if !ok {
			return nil, serializationError("The parameter %s must be a list of strings.", name)
		}
		out = append(out, string(s))
	}
	return out, err
}

func dimensionsCBOR(m cbor.Map) ([]cw.Dimension, error) {
	l, err := list(m, "Dimensions")
	if err != nil {
		return nil, err
	}
	var out []cw.Dimension
	for _, v := range l {
		dm, err := structure(v, "Dimensions")
		if err != nil {
			return nil, err
		}
		var d cw.Dimension
		if d.Name, err = str(dm, "Name"); err != nil {
			return nil, err
		}
		if d.Value, err = str(dm, "Value"); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func metricCBOR(m cbor.Map) (cw.Metric, error) {
	var (
		x   cw.Metric
		err error
	)
	if x.Namespace, err = str(m, "Namespace"); err != nil {
		return x, err
	}
	if x.MetricName, err = str(m, "MetricName"); err != nil {
		return x, err
	}
	x.Dimensions, err = dimensionsCBOR(m)
	return x, err
}

func listInputCBOR(m cbor.Map) (cw.ListInput, error) {
	var (
		in  cw.ListInput
		err error
	)
	if in.Namespace, err = str(m, "Namespace"); err != nil {
		return in, err
	}
	if in.MetricName, err = str(m, "MetricName"); err != nil {
		return in, err
	}
	if in.NextToken, err = str(m, "NextToken"); err != nil {
		return in, err
	}
	if in.RecentlyActive, err = str(m, "RecentlyActive"); err != nil {
		return in, err
	}
	l, err := list(m, "Dimensions")
	if err != nil {
		return in, err
	}
	for _, v := range l {
		dm, err := structure(v, "Dimensions")
		if err != nil {
			return in, err
		}
		var f cw.DimensionFilter
		if f.Name, err = str(dm, "Name"); err != nil {
			return in, err
		}
		if field(dm, "Value") != nil {
			s, err := str(dm, "Value")
			if err != nil {
				return in, err
			}
			f.Value = &s
		}
		in.Dimensions = append(in.Dimensions, f)
	}
	return in, nil
}

func statisticsInputCBOR(m cbor.Map) (cw.StatisticsInput, error) {
	var (
		in  cw.StatisticsInput
		err error
	)
	if in.Metric, err = metricCBOR(m); err != nil {
		return in, err
	}
	if in.StartTime, err = timestamp(m, "StartTime"); err != nil {
		return in, err
	}
	if in.EndTime, err = timestamp(m, "EndTime"); err != nil {
		return in, err
	}
	if in.Period, err = integer(m, "Period"); err != nil {
		return in, err
	}
	if in.Statistics, err = stringList(m, "Statistics"); err != nil {
		return in, err
	}
	if in.ExtendedStatistics, err = stringList(m, "ExtendedStatistics"); err != nil {
		return in, err
	}
	in.Unit, err = str(m, "Unit")
	return in, err
}

func dataInputCBOR(m cbor.Map) (cw.DataInput, error) {
	var (
		in  cw.DataInput
		err error
	)
	if in.StartTime, err = timestamp(m, "StartTime"); err != nil {
		return in, err
	}
	if in.EndTime, err = timestamp(m, "EndTime"); err != nil {
		return in, err
	}
	if in.ScanBy, err = str(m, "ScanBy"); err != nil {
		return in, err
	}
	if in.NextToken, err = str(m, "NextToken"); err != nil {
		return in, err
	}
	if in.MaxDatapoints, err = integer(m, "MaxDatapoints"); err != nil {
		return in, err
	}
	l, err := list(m, "MetricDataQueries")
	if err != nil {
		return in, err
	}
	for _, v := range l {
		qm, err := structure(v, "MetricDataQueries")
		if err != nil {
			return in, err
		}
		var q cw.DataQuery
		if q.ID, err = str(qm, "Id"); err != nil {
			return in, err
		}
		if q.Label, err = str(qm, "Label"); err != nil {
			return in, err
		}
		if q.Expression, err = str(qm, "Expression"); err != nil {
			return in, err
		}
		if q.ReturnData, err = boolean(qm, "ReturnData"); err != nil {
			return in, err
		}
		if q.Period, err = integer(qm, "Period"); err != nil {
			return in, err
		}
		if sv := field(qm, "MetricStat"); sv != nil {
			sm, err := structure(sv, "MetricStat")
			if err != nil {
				return in, err
			}
			ms := &cw.MetricStat{}
			if mv := field(sm, "Metric"); mv != nil {
				mm, err := structure(mv, "Metric")
				if err != nil {
					return in, err
				}
				if ms.Metric, err = metricCBOR(mm); err != nil {
					return in, err
				}
			}
			if ms.Period, err = integer(sm, "Period"); err != nil {
				return in, err
			}
			if ms.Stat, err = str(sm, "Stat"); err != nil {
				return in, err
			}
			if ms.Unit, err = str(sm, "Unit"); err != nil {
				return in, err
			}
			q.MetricStat = ms
		}
		in.Queries = append(in.Queries, q)
	}
	return in, nil
}

// epoch is a CBOR timestamp (tag 1, seconds since the epoch).
func epoch(t time.Time) cbor.Value {
	return &cbor.Tag{ID: 1, Value: cbor.Float64(float64(t.UnixMilli()) / 1000)}
}

func number(f float64) cbor.Value {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return cbor.Float64(0)
	}
	return cbor.Float64(f)
}

func dimensionsOut(dims []cw.Dimension) cbor.List {
	out := cbor.List{}
	for _, d := range dims {
		out = append(out, cbor.Map{"Name": cbor.String(d.Name), "Value": cbor.String(d.Value)})
	}
	return out
}

func listOutputCBOR(metrics []cw.Metric, next string) cbor.Map {
	l := cbor.List{}
	for _, m := range metrics {
		l = append(l, cbor.Map{"Namespace": cbor.String(m.Namespace), "MetricName": cbor.String(m.MetricName), "Dimensions": dimensionsOut(m.Dimensions)})
	}
	out := cbor.Map{"Metrics": l}
	if next != "" {
		out["NextToken"] = cbor.String(next)
	}
	return out
}

func statisticsOutputCBOR(label string, dps []cw.Datapoint) cbor.Map {
	l := cbor.List{}
	for _, d := range dps {
		p := cbor.Map{"Timestamp": epoch(d.Timestamp), "Unit": cbor.String(d.Unit)}
		for name, v := range map[string]*float64{"SampleCount": d.SampleCount, "Average": d.Average, "Sum": d.Sum, "Minimum": d.Minimum, "Maximum": d.Maximum} {
			if v != nil {
				p[name] = number(*v)
			}
		}
		l = append(l, p)
	}
	return cbor.Map{"Label": cbor.String(label), "Datapoints": l}
}

func dataOutputCBOR(res []cw.DataResult) cbor.Map {
	l := cbor.List{}
	for _, r := range res {
		ts, vs := cbor.List{}, cbor.List{}
		for i := range r.Values {
			ts = append(ts, epoch(r.Timestamps[i]))
			vs = append(vs, number(r.Values[i]))
		}
		l = append(l, cbor.Map{"Id": cbor.String(r.ID), "Label": cbor.String(r.Label), "Timestamps": ts, "Values": vs,
			"StatusCode": cbor.String(r.StatusCode)})
	}
	return cbor.Map{"MetricDataResults": l, "Messages": cbor.List{}}
}
