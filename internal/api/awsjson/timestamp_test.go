package awsjson

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestTimestampMarshal(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.UnixMilli(1719871234123), "1719871234.123"},
		{time.Unix(1719871234, 0), "1719871234"},
		{time.Unix(1719871234, 100_000_000), "1719871234.1"},
		{time.Unix(1719871234, 120_000_000), "1719871234.12"},
		{time.Unix(1719871234, 5_000_000), "1719871234.005"},
		{time.Unix(1719871234, 123_999_999), "1719871234.123"}, // below a millisecond is dropped
		{time.Unix(1719871234, 999_999), "1719871234"},
		{time.Unix(0, 0), "0"},
		{time.Unix(0, 1_000_000), "0.001"},
		{time.UnixMilli(-1500), "-1.5"},
		{time.UnixMilli(-1), "-0.001"},
		{time.Date(2024, 7, 1, 22, 0, 34, 123_000_000, time.FixedZone("x", 3600)), "1719867634.123"},
		{time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), "253402300799"},
	}
	for _, tt := range tests {
		b, err := json.Marshal(Timestamp{tt.t})
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("%v: got %s, want %s", tt.t, b, tt.want)
		}
		if strings.ContainsAny(string(b), "eE") {
			t.Errorf("%v: exponent in %s", tt.t, b)
		}
	}
	if _, err := json.Marshal(Timestamp{}); err == nil {
		t.Error("zero Timestamp marshalled")
	}
	if _, err := json.Marshal(struct {
		At Timestamp `json:"at"`
	}{}); err == nil {
		t.Error("zero Timestamp member marshalled")
	}
}

func TestNewTimestamp(t *testing.T) {
	if NewTimestamp(time.Time{}) != nil {
		t.Error("zero time gives a Timestamp")
	}
	now := time.Now()
	if ts := NewTimestamp(now); ts == nil || !ts.Equal(now) {
		t.Errorf("got %v", ts)
	}
}

func TestTimestampUnmarshal(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"1719871234.123", time.UnixMilli(1719871234123)},
		{"1719871234", time.Unix(1719871234, 0)},
		{"1.719871234123E9", time.UnixMilli(1719871234123)}, // how AWS itself writes them
		{"1719871234.123456", time.UnixMicro(1719871234123456)},
		{"-1.5", time.UnixMilli(-1500)},
		{"0", time.Unix(0, 0)},
	}
	for _, tt := range tests {
		var ts Timestamp
		if err := json.Unmarshal([]byte(tt.in), &ts); err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if !ts.Equal(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.in, ts.Time, tt.want)
		}
	}
	for _, bad := range []string{`"1719871234"`, `"2024-07-01T00:00:00Z"`, `true`, `{}`, `1e300`, `-1e13`, `1e`} {
		var ts Timestamp
		if err := json.Unmarshal([]byte(bad), &ts); err == nil {
			t.Errorf("%s: accepted as %v", bad, ts.Time)
		}
	}
	var p *Timestamp
	if err := json.Unmarshal([]byte(`null`), &p); err != nil || p != nil {
		t.Errorf("null: %v %v", err, p)
	}
}

func TestTimestampRoundTrip(t *testing.T) {
	for _, ms := range []int64{1, 999, 1000, 1719871234001, 1719871234010, 1719871234100, 1719871234999, -999, 4102444800000} {
		b, err := json.Marshal(Timestamp{time.UnixMilli(ms)})
		if err != nil {
			t.Fatal(err)
		}
		var ts Timestamp
		if err := json.Unmarshal(b, &ts); err != nil {
			t.Fatal(err)
		}
		if ts.UnixMilli() != ms {
			t.Errorf("%d ms: %s read back as %d", ms, b, ts.UnixMilli())
		}
	}
}
