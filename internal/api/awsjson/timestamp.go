package awsjson

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"
)

// Timestamp is a point in time as AWS JSON 1.1 carries it: epoch seconds as
// a JSON number, with a fraction when the time is not on a whole second.
// Responses hold *Timestamp with omitempty, so an unknown time is left out;
// marshalling a zero Timestamp is an error rather than a date in year 1.
type Timestamp struct {
	time.Time
}

// NewTimestamp returns t as a *Timestamp, or nil when t is the zero time,
// ready for an omitempty response member.
func NewTimestamp(t time.Time) *Timestamp {
	if t.IsZero() {
		return nil
	}
	return &Timestamp{t}
}

// maxEpochSeconds bounds the timestamps Timestamp reads: about the year
// 33658, far beyond anything real, and small enough that the value in
// microseconds fits an int64.
const maxEpochSeconds = 1e12

// MarshalJSON writes the time as epoch seconds with at most millisecond
// precision and no exponent, e.g. 1719871234.123 or 1719871234.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return nil, errors.New("awsjson: zero Timestamp; leave the member nil instead")
	}
	ms := t.UnixMilli()
	var b []byte
	if ms < 0 {
		b = append(b, '-')
		ms = -ms
	}
	b = strconv.AppendInt(b, ms/1000, 10)
	if frac := ms % 1000; frac != 0 {
		digits := []byte{'.', byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
		for digits[len(digits)-1] == '0' {
			digits = digits[:len(digits)-1]
		}
		b = append(b, digits...)
	}
	return b, nil
}

// UnmarshalJSON reads epoch seconds from a JSON number (fraction and
// exponent allowed, as SDKs and AWS itself write them), to the microsecond.
// Decode reads the timestamps of requests itself; this reads answers, for
// ecrd's own clients and tests.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	ts, err := parseEpochSeconds(string(b))
	if err != nil {
		return err
	}
	*t = ts
	return nil
}

// parseEpochSeconds reads a JSON number of epoch seconds.
func parseEpochSeconds(s string) (Timestamp, error) {
	if !json.Valid([]byte(s)) || s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return Timestamp{}, errors.New("awsjson: timestamp is not a JSON number")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.Abs(f) > maxEpochSeconds {
		return Timestamp{}, errors.New("awsjson: timestamp out of range")
	}
	return Timestamp{time.UnixMicro(int64(math.Round(f * 1e6))).UTC()}, nil
}
