package awsjson

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The shapes the tests decode into, following the adapters' convention:
// scalars and structures as pointers, lists as slices, blobs as []byte.
type (
	testInput struct {
		Name   *string           `json:"name"`
		Count  *int32            `json:"count"`
		Offset *int64            `json:"offset"`
		Force  *bool             `json:"force"`
		Filter *testFilter       `json:"filter"`
		Items  []testItem        `json:"items"`
		Keys   []string          `json:"keys"`
		Blob   []byte            `json:"blob"`
		At     *Timestamp        `json:"at"`
		Labels map[string]string `json:"labels"`
	}
	testFilter struct {
		Status *string  `json:"status"`
		Kinds  []string `json:"kinds"`
	}
	testItem struct {
		Key   *string `json:"Key"`
		Value *string `json:"Value"`
	}
)

// serializationMessage decodes body into in and returns the message of the
// *SerializationError it must give.
func serializationMessage(t *testing.T, body string, in any) string {
	t.Helper()
	err := Decode([]byte(body), in)
	var se *SerializationError
	if !errors.As(err, &se) {
		t.Fatalf("Decode(%.80q) = %v, want a *SerializationError", body, err)
	}
	if se.Error() != se.Message {
		t.Fatalf("Error() = %q, Message = %q", se.Error(), se.Message)
	}
	return se.Message
}

func TestDecodeEmptyBody(t *testing.T) {
	for _, body := range []string{"", " ", "\n\t\r ", "{}", " {} \n"} {
		in := &testInput{}
		if err := Decode([]byte(body), in); err != nil {
			t.Errorf("%q: %v", body, err)
		}
		if !reflect.DeepEqual(in, &testInput{}) {
			t.Errorf("%q: decoded %+v", body, in)
		}
	}
	if err := Decode(nil, new(testInput)); err != nil {
		t.Errorf("nil body: %v", err)
	}
}

func TestDecodeNotAnObject(t *testing.T) {
	for body, found := range map[string]string{
		`[]`:          "an array",
		`[{"a":1}]`:   "an array",
		`"{}"`:        "a string",
		`12`:          "a number",
		`true`:        "a boolean",
		`null`:        "null",
		" \n null \n": "null",
	} {
		got := serializationMessage(t, body, new(testInput))
		if want := "The request body must be a JSON object, found " + found; got != want {
			t.Errorf("%q: got %q, want %q", body, got, want)
		}
	}
}

func TestDecodeMalformed(t *testing.T) {
	for _, body := range []string{
		`{`, `{"name"`, `{"name":}`, `{"name" "x"}`,
		`{'name':'x'}`, `{"name":"x",}`, `{"count":01}`,
		`{"name":"x"`, `{"items":[{"Key":"a"},]}`, `{"a":[}`, `x`, "\v{}",
		`{"name":"\x"}`, `{"a":tru}`, `{"a":NaN}`,
	} {
		got := serializationMessage(t, body, new(testInput))
		if !strings.HasPrefix(got, "Malformed JSON") {
			t.Errorf("%q: %q", body, got)
		}
	}
}

func TestDecodeNotUTF8(t *testing.T) {
	got := serializationMessage(t, `{"name":"a`+"\xff"+`"}`, new(testInput))
	if !strings.Contains(got, "not valid UTF-8 (at byte 10)") {
		t.Errorf("a body that is not UTF-8: %q", got)
	}
}

func TestDecodeTrailingData(t *testing.T) {
	for _, body := range []string{`{} {}`, `{}x`, `{}]`, `{}}`, `{"name":"app"} null`, `{}0`} {
		got := serializationMessage(t, body, new(testInput))
		if !strings.HasPrefix(got, "Unexpected data after the JSON object of the request body") {
			t.Errorf("%q: %q", body, got)
		}
	}
}

func TestDecodeWrongTypes(t *testing.T) {
	for body, want := range map[string]string{
		`{"count":"10"}`:                             "Unexpected value for member 'count': expected an integer, found a string",
		`{"count":1.5}`:                              "Unexpected value for member 'count': expected an integer, found 1.5",
		`{"count":1e-400}`:                           "Unexpected value for member 'count': expected an integer, found 1e-400",
		`{"count":2147483648}`:                       "Unexpected value for member 'count': 2147483648 is out of range for a 32-bit integer",
		`{"count":1e10}`:                             "Unexpected value for member 'count': 1e10 is out of range for a 32-bit integer",
		`{"count":-1e999}`:                           "Unexpected value for member 'count': -1e999 is out of range for a 32-bit integer",
		`{"offset":9223372036854775808}`:             "Unexpected value for member 'offset': 9223372036854775808 is out of range for a 64-bit integer",
		`{"count":` + strings.Repeat("9", 100) + `}`: "Unexpected value for member 'count': " + strings.Repeat("9", 40) + "... is out of range for a 32-bit integer",
		`{"name":12}`:                                "Unexpected value for member 'name': expected a string, found a number",
		`{"name":["a"]}`:                             "Unexpected value for member 'name': expected a string, found an array",
		`{"name":{}}`:                                "Unexpected value for member 'name': expected a string, found an object",
		`{"force":"true"}`:                           "Unexpected value for member 'force': expected a boolean, found a string",
		`{"force":1}`:                                "Unexpected value for member 'force': expected a boolean, found a number",
		`{"filter":[]}`:                              "Unexpected value for member 'filter': expected an object, found an array",
		`{"filter":"x"}`:                             "Unexpected value for member 'filter': expected an object, found a string",
		`{"filter":{"status":true}}`:                 "Unexpected value for member 'filter.status': expected a string, found a boolean",
		`{"filter":{"kinds":["a",{}]}}`:              "Unexpected value for member 'filter.kinds.2.member': expected a string, found an object",
		`{"items":{"Key":"a"}}`:                      "Unexpected value for member 'items': expected an array, found an object",
		`{"items":[{"Key":"a"},{"Key":7}]}`:          "Unexpected value for member 'items.2.member.Key': expected a string, found a number",
		`{"items":[{"Key":"k","Value":false}]}`:      "Unexpected value for member 'items.1.member.Value': expected a string, found a boolean",
		`{"items":["a"]}`:                            "Unexpected value for member 'items.1.member': expected an object, found a string",
		`{"items":[null]}`:                           "Unexpected value for member 'items.1.member': list members must not be null",
		`{"keys":["a",null]}`:                        "Unexpected value for member 'keys.2.member': list members must not be null",
		`{"keys":[1]}`:                               "Unexpected value for member 'keys.1.member': expected a string, found a number",
		`{"blob":12}`:                                "Unexpected value for member 'blob': expected a base64-encoded string, found a number",
		`{"blob":"not base64!"}`:                     "Unexpected value for member 'blob': expected a base64-encoded string, found a string that is not valid base64",
		`{"blob":"aGVsbG8"}`:                         "Unexpected value for member 'blob': expected a base64-encoded string, found a string that is not valid base64",
	} {
		if got := serializationMessage(t, body, new(testInput)); got != want {
			t.Errorf("%.60s:\n got %s\nwant %s", body, got, want)
		}
	}
}

func TestDecodeValues(t *testing.T) {
	body := `{
		"name": "caf\u00e9",
		"count": 3,
		"offset": -4,
		"force": false,
		"filter": {"status": "TAGGED", "kinds": ["a", "b"]},
		"items": [{"Key": "k", "Value": "v"}, {}],
		"keys": [],
		"labels": {"a": "1"},
		"at": null
	}`
	var in testInput
	if err := Decode([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	want := testInput{
		Name: new("café"), Count: new(int32(3)), Offset: new(int64(-4)), Force: new(false),
		Filter: &testFilter{Status: new("TAGGED"), Kinds: []string{"a", "b"}},
		Items:  []testItem{{Key: new("k"), Value: new("v")}, {}}, Keys: []string{}, Labels: map[string]string{"a": "1"},
	}
	if !reflect.DeepEqual(in, want) {
		t.Fatalf("got %+v", in)
	}
}

func TestDecodeIntegers(t *testing.T) {
	for body, want := range map[string]int32{
		`{"count":5}`: 5, `{"count":-0}`: 0, `{"count":5.0}`: 5, `{"count":1e3}`: 1000,
		`{"count":2147483647}`: 2147483647, `{"count":-2147483648}`: -2147483648, `{"count":0e5}`: 0,
	} {
		var in testInput
		if err := Decode([]byte(body), &in); err != nil {
			t.Errorf("%s: %v", body, err)
			continue
		}
		if in.Count == nil || *in.Count != want {
			t.Errorf("%s: got %v", body, in.Count)
		}
	}
	var in testInput
	if err := Decode([]byte(`{"offset":9223372036854775807}`), &in); err != nil {
		t.Fatal(err)
	}
	if *in.Offset != 9223372036854775807 {
		t.Fatalf("got %v", *in.Offset)
	}
}

// Absent, null, empty and present must stay apart, for the adapters'
// validation.
func TestDecodeAbsentNullEmpty(t *testing.T) {
	var in testInput
	if err := Decode([]byte(`{"name":"","items":[],"keys":null,"count":null}`), &in); err != nil {
		t.Fatal(err)
	}
	if in.Name == nil || *in.Name != "" || in.Count != nil {
		t.Errorf("scalars: %+v", in)
	}
	if in.Items == nil || len(in.Items) != 0 || in.Keys != nil {
		t.Errorf("lists: %#v %#v", in.Items, in.Keys)
	}
	in = testInput{}
	if err := Decode([]byte(`{"blob":""}`), &in); err != nil {
		t.Fatal(err)
	}
	if in.Blob == nil || len(in.Blob) != 0 {
		t.Errorf("empty blob decoded as %#v", in.Blob)
	}
	in = testInput{}
	if err := Decode([]byte(`{"blob":null}`), &in); err != nil || in.Blob != nil {
		t.Errorf("null blob: %v %#v", err, in.Blob)
	}
}

func TestDecodeBlob(t *testing.T) {
	var in testInput
	if err := Decode([]byte(`{"blob":"aGVsbG8gd29ybGQ="}`), &in); err != nil {
		t.Fatal(err)
	}
	if string(in.Blob) != "hello world" {
		t.Fatalf("got %q", in.Blob)
	}
	// Binary content, as the SDKs encode it.
	blob := []byte{0, 1, 2, 0xfe, 0xff, '"', '\\'}
	body, _ := json.Marshal(map[string]any{"blob": blob})
	in = testInput{}
	if err := Decode(body, &in); err != nil {
		t.Fatal(err)
	}
	if string(in.Blob) != string(blob) {
		t.Fatalf("got %v", in.Blob)
	}
}

func TestDecodeUnknownMembersIgnored(t *testing.T) {
	body := `{
		"name": "app",
		"unknown": {"deep": [1, {"x": [true, null, "s"]}], "n": 1.5e300},
		"Name": "case-variant",
		"NAME": "upper",
		"Count": "not even a number",
		"filter": {"status": "TAGGED", "future": [[[]]]},
		"alsoUnknown": null
	}`
	var in testInput
	if err := Decode([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	want := testInput{Name: new("app"), Filter: &testFilter{Status: new("TAGGED")}}
	if !reflect.DeepEqual(in, want) {
		t.Fatalf("got %+v", in)
	}
	// Member names are case-sensitive: a variant alone leaves the member
	// absent (json.Unmarshal would take it).
	in = testInput{}
	if err := Decode([]byte(`{"Name":"x"}`), &in); err != nil || in.Name != nil {
		t.Fatalf("case variant: %v %+v", err, in)
	}
}

func TestDecodeRepeatedMemberLastWins(t *testing.T) {
	var in testInput
	body := `{"name":"a","name":"bb","items":[{"Key":"x"},{"Key":"y"}],"items":[{"Value":"d"}]}`
	if err := Decode([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	want := testInput{Name: new("bb"), Items: []testItem{{Value: new("d")}}}
	if !reflect.DeepEqual(in, want) {
		t.Fatalf("got %+v", in)
	}
	// A later null makes the member absent again.
	in = testInput{}
	if err := Decode([]byte(`{"name":"a","items":[{}],"name":null,"items":null}`), &in); err != nil {
		t.Fatal(err)
	}
	if in.Name != nil || in.Items != nil {
		t.Fatalf("got %+v", in)
	}
}

func TestDecodeDepthBound(t *testing.T) {
	nested := func(n int) string {
		return `{"unknown":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`
	}
	// The body's own object is level 1.
	if err := Decode([]byte(nested(maxDecodeDepth-1)), new(testInput)); err != nil {
		t.Fatalf("depth %d: %v", maxDecodeDepth, err)
	}
	want := "The request body nests JSON deeper than 64 levels"
	if got := serializationMessage(t, nested(maxDecodeDepth), new(testInput)); got != want {
		t.Fatalf("got %q", got)
	}
	if got := serializationMessage(t, nested(100000), new(testInput)); got != want {
		t.Fatalf("got %q", got)
	}
}

func TestDecodeListBound(t *testing.T) {
	list := func(n int) string {
		return `{"keys":[` + strings.TrimSuffix(strings.Repeat(`"k",`, n), ",") + `]}`
	}
	var in testInput
	if err := Decode([]byte(list(maxDecodeListMembers)), &in); err != nil || len(in.Keys) != maxDecodeListMembers {
		t.Fatalf("%d members: %v", maxDecodeListMembers, err)
	}
	want := "Unexpected value for member 'keys': more than 10000 list members"
	if got := serializationMessage(t, list(maxDecodeListMembers+1), new(testInput)); got != want {
		t.Fatalf("got %q", got)
	}
}

func TestDecodeProgrammingErrors(t *testing.T) {
	for _, v := range []any{nil, testInput{}, (*testInput)(nil), new(string)} {
		err := Decode([]byte(`{}`), v)
		var se *SerializationError
		if err == nil || errors.As(err, &se) {
			t.Errorf("%T: %v", v, err)
		}
	}
	// A type the decoder does not know is a programming error, not the
	// client's.
	var odd struct {
		F float64 `json:"f"`
	}
	err := Decode([]byte(`{"f":1}`), &odd)
	var se *SerializationError
	if err == nil || errors.As(err, &se) {
		t.Fatalf("float field: %v", err)
	}
}

func TestDecodeTimestamp(t *testing.T) {
	var in struct {
		At *Timestamp `json:"at"`
		In Timestamp  `json:"in"`
	}
	if err := Decode([]byte(`{"at":1719871234.123,"in":1.7e9}`), &in); err != nil {
		t.Fatal(err)
	}
	if !in.At.Equal(time.UnixMilli(1719871234123)) || !in.In.Equal(time.Unix(1700000000, 0)) {
		t.Fatalf("got %v %v", in.At, in.In)
	}
	if got := serializationMessage(t, `{"at":"2024-07-01T00:00:00Z"}`, &in); got != "Unexpected value for member 'at': expected a number of epoch seconds, found a string" {
		t.Fatal(got)
	}
	if got := serializationMessage(t, `{"at":1e300}`, &in); got != "Unexpected value for member 'at': 1e300 is not a valid timestamp" {
		t.Fatal(got)
	}
}

func TestDecodeMap(t *testing.T) {
	var in testInput
	if err := Decode([]byte(`{"labels":{"a":"1","b":"2"}}`), &in); err != nil {
		t.Fatal(err)
	}
	if in.Labels["b"] != "2" || len(in.Labels) != 2 {
		t.Fatalf("got %+v", in)
	}
	if got := serializationMessage(t, `{"labels":{"a":1}}`, &in); got != "Unexpected value for member 'labels.a': expected a string, found a number" {
		t.Fatal(got)
	}
	if got := serializationMessage(t, `{"labels":[]}`, &in); got != "Unexpected value for member 'labels': expected an object, found an array" {
		t.Fatal(got)
	}
}

func TestMemberPath(t *testing.T) {
	if got := MemberPath("imageIds", 0) + ".imageTag"; got != "imageIds.1.member.imageTag" {
		t.Fatal(got)
	}
}

// FuzzDecode feeds arbitrary bodies to Decode: nothing may panic, every
// error must be a *SerializationError, and a body that decodes must be
// JSON (or blank).
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `{"name":"x","count":1e3,"offset":-1,"force":true}`,
		`{"filter":{"status":"s","kinds":["a"]},"items":[{"Key":"k","Value":"v"}],"keys":["a",null]}`,
		`{"blob":"aGVsbG8=","at":1719871234.5,"labels":{"a":"b"}}`, `{"a":[[[[{}]]]]}`, `{"name":"a"}{}`, "{\"name\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in testInput
		err := Decode(body, &in)
		var se *SerializationError
		switch {
		case err != nil && !errors.As(err, &se):
			t.Fatalf("decode error %T %v", err, err)
		case err == nil && len(strings.Trim(string(body), " \t\r\n")) > 0 && !json.Valid(body):
			t.Fatalf("decoded a body that is not JSON: %q", body)
		}
	})
}

// An embedded struct's members are the outer struct's, as encoding/json
// reads them; the outer struct's own member of a name wins.
func TestDecodeEmbedded(t *testing.T) {
	type keyID struct {
		KeyId *string `json:"KeyId"`
		Limit *int32  `json:"Limit"`
	}
	type page struct {
		Marker *string `json:"Marker"`
	}
	type input struct {
		keyID
		page
		Limit *string `json:"Limit"`
	}
	var in input
	body := `{"KeyId":"k","Marker":"m","Limit":"outer"}`
	if err := Decode([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	var std input
	if err := json.Unmarshal([]byte(body), &std); err != nil || !reflect.DeepEqual(in, std) {
		t.Fatalf("got %+v, encoding/json %+v (%v)", in, std, err)
	}
	if *in.KeyId != "k" || *in.Marker != "m" || *in.Limit != "outer" || in.keyID.Limit != nil {
		t.Fatalf("got %+v", in)
	}
	if got := serializationMessage(t, `{"KeyId":5}`, &in); got != "Unexpected value for member 'KeyId': expected a string, found a number" {
		t.Fatal(got)
	}
	var pointer struct {
		*keyID
	}
	if err := Decode([]byte(`{}`), &pointer); err == nil {
		t.Error("an embedded pointer decoded")
	}
}
