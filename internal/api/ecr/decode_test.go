package ecr

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// inputs returns a new, empty value of every <Op>Input, by operation.
func inputs() map[string]any {
	return map[string]any{
		"BatchCheckLayerAvailability":         new(BatchCheckLayerAvailabilityInput),
		"BatchDeleteImage":                    new(BatchDeleteImageInput),
		"BatchGetImage":                       new(BatchGetImageInput),
		"CompleteLayerUpload":                 new(CompleteLayerUploadInput),
		"CreateRepository":                    new(CreateRepositoryInput),
		"CreateRepositoryCreationTemplate":    new(CreateRepositoryCreationTemplateInput),
		"DeleteRepository":                    new(DeleteRepositoryInput),
		"DeleteRepositoryCreationTemplate":    new(DeleteRepositoryCreationTemplateInput),
		"DescribeImages":                      new(DescribeImagesInput),
		"DescribeRegistry":                    new(DescribeRegistryInput),
		"DescribeRepositories":                new(DescribeRepositoriesInput),
		"DescribeRepositoryCreationTemplates": new(DescribeRepositoryCreationTemplatesInput),
		"GetAccountSetting":                   new(GetAccountSettingInput),
		"GetAuthorizationToken":               new(GetAuthorizationTokenInput),
		"GetDownloadUrlForLayer":              new(GetDownloadUrlForLayerInput),
		"InitiateLayerUpload":                 new(InitiateLayerUploadInput),
		"ListImages":                          new(ListImagesInput),
		"ListImageReferrers":                  new(ListImageReferrersInput),
		"ListTagsForResource":                 new(ListTagsForResourceInput),
		"PutAccountSetting":                   new(PutAccountSettingInput),
		"PutImage":                            new(PutImageInput),
		"PutImageScanningConfiguration":       new(PutImageScanningConfigurationInput),
		"PutImageTagMutability":               new(PutImageTagMutabilityInput),
		"TagResource":                         new(TagResourceInput),
		"UntagResource":                       new(UntagResourceInput),
		"UpdateRepositoryCreationTemplate":    new(UpdateRepositoryCreationTemplateInput),
		"UploadLayerPart":                     new(UploadLayerPartInput),
		"PutLifecyclePolicy":                  new(PutLifecyclePolicyInput),
		"GetLifecyclePolicy":                  new(GetLifecyclePolicyInput),
		"DeleteLifecyclePolicy":               new(DeleteLifecyclePolicyInput),
		"StartLifecyclePolicyPreview":         new(StartLifecyclePolicyPreviewInput),
		"GetLifecyclePolicyPreview":           new(GetLifecyclePolicyPreviewInput),
		"UpdateImageStorageClass":             new(UpdateImageStorageClassInput),
		"RegisterPullTimeUpdateExclusion":     new(RegisterPullTimeUpdateExclusionInput),
		"DeregisterPullTimeUpdateExclusion":   new(DeregisterPullTimeUpdateExclusionInput),
		"ListPullTimeUpdateExclusions":        new(ListPullTimeUpdateExclusionsInput),
		"SetRepositoryPolicy":                 new(SetRepositoryPolicyInput),
		"GetRepositoryPolicy":                 new(GetRepositoryPolicyInput),
		"DeleteRepositoryPolicy":              new(DeleteRepositoryPolicyInput),
		"PutRegistryPolicy":                   new(PutRegistryPolicyInput),
		"GetRegistryPolicy":                   new(GetRegistryPolicyInput),
		"DeleteRegistryPolicy":                new(DeleteRegistryPolicyInput),

		"PutRegistryScanningConfiguration":        new(PutRegistryScanningConfigurationInput),
		"GetRegistryScanningConfiguration":        new(GetRegistryScanningConfigurationInput),
		"BatchGetRepositoryScanningConfiguration": new(BatchGetRepositoryScanningConfigurationInput),
		"StartImageScan":                          new(StartImageScanInput),
		"DescribeImageScanFindings":               new(DescribeImageScanFindingsInput),
	}
}

// extensionInputs are the requests of ecrd's own operations.
func extensionInputs() map[string]any {
	return map[string]any{
		"StartLifecyclePolicyPreview": new(PreviewAtInput),
		"RunLifecyclePolicy":          new(RunLifecyclePolicyInput),
		"SetImageTimes":               new(SetImageTimesInput),
		"CollectGarbage":              new(CollectGarbageInput),
	}
}

func TestInputsCoverEveryOperation(t *testing.T) {
	all, h := inputs(), New(nil, nil, nil, nil)
	if len(all) != len(h.ops) || len(extensionInputs()) != len(h.ext) {
		t.Fatalf("%d and %d inputs for %d ECR operations and %d of ecrd's", len(all), len(extensionInputs()), len(h.ops), len(h.ext))
	}
	for op := range h.ops {
		if all[op] == nil {
			t.Errorf("no input of %s", op)
		}
	}
	for _, in := range extensionInputs() {
		if _, ok := in.(interface{ validate() error }); !ok {
			t.Errorf("%T has no validate()", in)
		}
	}
	for op, in := range all {
		if _, ok := in.(interface{ validate() error }); !ok {
			t.Errorf("%s: %T has no validate()", op, in)
		}
		if name := reflect.TypeOf(in).Elem().Name(); name != op+"Input" {
			t.Errorf("%s: type %s", op, name)
		}
	}
}

// serializationMessage decodes body into in and returns the message of the
// *SerializationError it must give.
func serializationMessage(t *testing.T, body string, in any) string {
	t.Helper()
	err := decodeInput([]byte(body), in)
	var se *SerializationError
	if !errors.As(err, &se) {
		t.Fatalf("decodeInput(%.80q) = %v, want a *SerializationError", body, err)
	}
	if se.Error() != se.Message {
		t.Fatalf("Error() = %q, Message = %q", se.Error(), se.Message)
	}
	return se.Message
}

func TestDecodeEmptyBody(t *testing.T) {
	for _, body := range []string{"", " ", "\n\t\r ", "{}", " {} \n"} {
		in := &ListImagesInput{}
		if err := decodeInput([]byte(body), in); err != nil {
			t.Errorf("%q: %v", body, err)
		}
		if !reflect.DeepEqual(in, &ListImagesInput{}) {
			t.Errorf("%q: decoded %+v", body, in)
		}
	}
	if err := decodeInput(nil, new(DescribeRegistryInput)); err != nil {
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
		got := serializationMessage(t, body, new(ListImagesInput))
		if want := "The request body must be a JSON object, found " + found; got != want {
			t.Errorf("%q: got %q, want %q", body, got, want)
		}
	}
}

func TestDecodeMalformed(t *testing.T) {
	for _, body := range []string{
		`{`, `{"repositoryName"`, `{"repositoryName":}`, `{"repositoryName" "x"}`,
		`{'repositoryName':'x'}`, `{"repositoryName":"x",}`, `{"maxResults":01}`,
		`{"repositoryName":"x"`, `{"imageIds":[{"imageTag":"a"},]}`, `{"a":[}`, `x`, "\v{}",
		`{"repositoryName":"\x"}`, `{"a":tru}`, `{"a":NaN}`,
	} {
		got := serializationMessage(t, body, new(BatchGetImageInput))
		if !strings.HasPrefix(got, "Malformed JSON") {
			t.Errorf("%q: %q", body, got)
		}
	}
}

func TestDecodeNotUTF8(t *testing.T) {
	got := serializationMessage(t, `{"repositoryName":"a`+"\xff"+`"}`, new(BatchGetImageInput))
	if !strings.Contains(got, "not valid UTF-8 (at byte 20)") {
		t.Errorf("a body that is not UTF-8: %q", got)
	}
}

func TestDecodeTrailingData(t *testing.T) {
	for _, body := range []string{`{} {}`, `{}x`, `{}]`, `{}}`, `{"repositoryName":"app"} null`, `{}0`} {
		got := serializationMessage(t, body, new(ListImagesInput))
		if !strings.HasPrefix(got, "Unexpected data after the JSON object of the request body") {
			t.Errorf("%q: %q", body, got)
		}
	}
}

func TestDecodeWrongTypes(t *testing.T) {
	tests := []struct {
		body string
		in   any
		want string
	}{
		{`{"maxResults":"10"}`, new(ListImagesInput), "Unexpected value for member 'maxResults': expected an integer, found a string"},
		{`{"maxResults":1.5}`, new(ListImagesInput), "Unexpected value for member 'maxResults': expected an integer, found 1.5"},
		{`{"maxResults":1e-400}`, new(ListImagesInput), "Unexpected value for member 'maxResults': expected an integer, found 1e-400"},
		{`{"maxResults":2147483648}`, new(ListImagesInput), "Unexpected value for member 'maxResults': 2147483648 is out of range for a 32-bit integer"},
		{`{"maxResults":1e10}`, new(ListImagesInput), "Unexpected value for member 'maxResults': 1e10 is out of range for a 32-bit integer"},
		{`{"maxResults":-1e999}`, new(ListImagesInput), "Unexpected value for member 'maxResults': -1e999 is out of range for a 32-bit integer"},
		{`{"partFirstByte":9223372036854775808}`, new(UploadLayerPartInput), "Unexpected value for member 'partFirstByte': 9223372036854775808 is out of range for a 64-bit integer"},
		{`{"maxResults":` + strings.Repeat("9", 100) + `}`, new(ListImagesInput), "Unexpected value for member 'maxResults': " + strings.Repeat("9", 40) + "... is out of range for a 32-bit integer"},
		{`{"repositoryName":12}`, new(ListImagesInput), "Unexpected value for member 'repositoryName': expected a string, found a number"},
		{`{"repositoryName":["a"]}`, new(ListImagesInput), "Unexpected value for member 'repositoryName': expected a string, found an array"},
		{`{"repositoryName":{}}`, new(ListImagesInput), "Unexpected value for member 'repositoryName': expected a string, found an object"},
		{`{"force":"true"}`, new(DeleteRepositoryInput), "Unexpected value for member 'force': expected a boolean, found a string"},
		{`{"force":1}`, new(DeleteRepositoryInput), "Unexpected value for member 'force': expected a boolean, found a number"},
		{`{"filter":[]}`, new(ListImagesInput), "Unexpected value for member 'filter': expected an object, found an array"},
		{`{"filter":{"tagStatus":true}}`, new(ListImagesInput), "Unexpected value for member 'filter.tagStatus': expected a string, found a boolean"},
		{`{"imageIds":{"imageTag":"a"}}`, new(BatchGetImageInput), "Unexpected value for member 'imageIds': expected an array, found an object"},
		{`{"imageIds":[{"imageTag":"a"},{"imageTag":7}]}`, new(BatchGetImageInput), "Unexpected value for member 'imageIds.2.member.imageTag': expected a string, found a number"},
		{`{"imageIds":["a"]}`, new(BatchGetImageInput), "Unexpected value for member 'imageIds.1.member': expected an object, found a string"},
		{`{"imageIds":[null]}`, new(BatchGetImageInput), "Unexpected value for member 'imageIds.1.member': list members must not be null"},
		{`{"layerDigests":["a",null]}`, new(CompleteLayerUploadInput), "Unexpected value for member 'layerDigests.2.member': list members must not be null"},
		{`{"layerDigests":[1]}`, new(CompleteLayerUploadInput), "Unexpected value for member 'layerDigests.1.member': expected a string, found a number"},
		{`{"tags":[{"Key":"k","Value":false}]}`, new(TagResourceInput), "Unexpected value for member 'tags.1.member.Value': expected a string, found a boolean"},
		{`{"subjectId":{"imageDigest":[]}}`, new(ListImageReferrersInput), "Unexpected value for member 'subjectId.imageDigest': expected a string, found an array"},
		{`{"filter":{"artifactTypes":["a",{}]}}`, new(ListImageReferrersInput), "Unexpected value for member 'filter.artifactTypes.2.member': expected a string, found an object"},
		{`{"layerPartBlob":12}`, new(UploadLayerPartInput), "Unexpected value for member 'layerPartBlob': expected a base64-encoded string, found a number"},
		{`{"layerPartBlob":"not base64!"}`, new(UploadLayerPartInput), "Unexpected value for member 'layerPartBlob': expected a base64-encoded string, found a string that is not valid base64"},
		{`{"layerPartBlob":"aGVsbG8"}`, new(UploadLayerPartInput), "Unexpected value for member 'layerPartBlob': expected a base64-encoded string, found a string that is not valid base64"},
		{`{"encryptionConfiguration":"AES256"}`, new(CreateRepositoryInput), "Unexpected value for member 'encryptionConfiguration': expected an object, found a string"},
	}
	for _, tt := range tests {
		if got := serializationMessage(t, tt.body, tt.in); got != tt.want {
			t.Errorf("%.60s:\n got %s\nwant %s", tt.body, got, tt.want)
		}
	}
}

func TestDecodeValues(t *testing.T) {
	body := `{
		"registryId": "123456789012",
		"repositoryName": "team/app",
		"imageTag": "caf\u00e9",
		"imageManifest": "{\"schemaVersion\":2}",
		"imageDigest": null
	}`
	var in PutImageInput
	if err := decodeInput([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	want := PutImageInput{
		RegistryId: new("123456789012"), RepositoryName: new("team/app"),
		ImageTag: new("café"), ImageManifest: new(`{"schemaVersion":2}`),
	}
	if !reflect.DeepEqual(in, want) {
		t.Fatalf("got %+v", in)
	}
}

func TestDecodeIntegers(t *testing.T) {
	for body, want := range map[string]int32{
		`{"maxResults":5}`: 5, `{"maxResults":-0}`: 0, `{"maxResults":5.0}`: 5, `{"maxResults":1e3}`: 1000,
		`{"maxResults":2147483647}`: 2147483647, `{"maxResults":-2147483648}`: -2147483648, `{"maxResults":0e5}`: 0,
	} {
		var in ListImagesInput
		if err := decodeInput([]byte(body), &in); err != nil {
			t.Errorf("%s: %v", body, err)
			continue
		}
		if in.MaxResults == nil || *in.MaxResults != want {
			t.Errorf("%s: got %v", body, in.MaxResults)
		}
	}
	var in UploadLayerPartInput
	if err := decodeInput([]byte(`{"partFirstByte":9223372036854775807,"partLastByte":0}`), &in); err != nil {
		t.Fatal(err)
	}
	if *in.PartFirstByte != 9223372036854775807 || in.PartLastByte == nil || *in.PartLastByte != 0 {
		t.Fatalf("got %v %v", *in.PartFirstByte, in.PartLastByte)
	}
}

// Absent, null, empty and present must stay apart, for validate().
func TestDecodeAbsentNullEmpty(t *testing.T) {
	var in BatchGetImageInput
	if err := decodeInput([]byte(`{"registryId":null,"repositoryName":"","imageIds":[],"acceptedMediaTypes":null}`), &in); err != nil {
		t.Fatal(err)
	}
	if in.RegistryId != nil || in.RepositoryName == nil || *in.RepositoryName != "" {
		t.Errorf("strings: %+v", in)
	}
	if in.ImageIds == nil || len(in.ImageIds) != 0 || in.AcceptedMediaTypes != nil {
		t.Errorf("lists: %#v %#v", in.ImageIds, in.AcceptedMediaTypes)
	}
	var u UploadLayerPartInput
	if err := decodeInput([]byte(`{"layerPartBlob":""}`), &u); err != nil {
		t.Fatal(err)
	}
	if u.LayerPartBlob == nil || len(u.LayerPartBlob) != 0 {
		t.Errorf("empty blob decoded as %#v", u.LayerPartBlob)
	}
	u = UploadLayerPartInput{}
	if err := decodeInput([]byte(`{"layerPartBlob":null}`), &u); err != nil || u.LayerPartBlob != nil {
		t.Errorf("null blob: %v %#v", err, u.LayerPartBlob)
	}
}

func TestDecodeBlob(t *testing.T) {
	var in UploadLayerPartInput
	if err := decodeInput([]byte(`{"layerPartBlob":"aGVsbG8gd29ybGQ=","partFirstByte":0}`), &in); err != nil {
		t.Fatal(err)
	}
	if string(in.LayerPartBlob) != "hello world" {
		t.Fatalf("got %q", in.LayerPartBlob)
	}
	// Binary content, as the SDKs encode it.
	blob := []byte{0, 1, 2, 0xfe, 0xff, '"', '\\'}
	body, _ := json.Marshal(map[string]any{"layerPartBlob": blob})
	in = UploadLayerPartInput{}
	if err := decodeInput(body, &in); err != nil {
		t.Fatal(err)
	}
	if string(in.LayerPartBlob) != string(blob) {
		t.Fatalf("got %v", in.LayerPartBlob)
	}
}

func TestDecodeUnknownMembersIgnored(t *testing.T) {
	body := `{
		"repositoryName": "app",
		"unknown": {"deep": [1, {"x": [true, null, "s"]}], "n": 1.5e300},
		"RepositoryName": "case-variant",
		"repositoryname": "lower",
		"registryID": 12,
		"filter": {"tagStatus": "TAGGED", "future": [[[]]]},
		"alsoUnknown": null
	}`
	var in ListImagesInput
	if err := decodeInput([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	want := ListImagesInput{RepositoryName: new("app"), Filter: &ListImagesFilter{TagStatus: new("TAGGED")}}
	if !reflect.DeepEqual(in, want) {
		t.Fatalf("got %+v", in)
	}
	// Member names are case-sensitive: a variant alone leaves the member
	// absent (json.Unmarshal would take it).
	in = ListImagesInput{}
	if err := decodeInput([]byte(`{"RepositoryName":"x"}`), &in); err != nil || in.RepositoryName != nil {
		t.Fatalf("case variant: %v %+v", err, in)
	}
}

func TestDecodeRepeatedMemberLastWins(t *testing.T) {
	var in BatchGetImageInput
	body := `{"repositoryName":"a","repositoryName":"bb","imageIds":[{"imageTag":"x"},{"imageTag":"y"}],"imageIds":[{"imageDigest":"d"}]}`
	if err := decodeInput([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	want := BatchGetImageInput{RepositoryName: new("bb"), ImageIds: []ImageIdentifier{{ImageDigest: new("d")}}}
	if !reflect.DeepEqual(in, want) {
		t.Fatalf("got %+v", in)
	}
	// A later null makes the member absent again.
	in = BatchGetImageInput{}
	if err := decodeInput([]byte(`{"repositoryName":"a","imageIds":[{}],"repositoryName":null,"imageIds":null}`), &in); err != nil {
		t.Fatal(err)
	}
	if in.RepositoryName != nil || in.ImageIds != nil {
		t.Fatalf("got %+v", in)
	}
}

func TestDecodeDepthBound(t *testing.T) {
	nested := func(n int) string {
		return `{"unknown":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`
	}
	// The body's own object is level 1.
	if err := decodeInput([]byte(nested(maxDecodeDepth-1)), new(ListImagesInput)); err != nil {
		t.Fatalf("depth %d: %v", maxDecodeDepth, err)
	}
	want := "The request body nests JSON deeper than 64 levels"
	if got := serializationMessage(t, nested(maxDecodeDepth), new(ListImagesInput)); got != want {
		t.Fatalf("got %q", got)
	}
	if got := serializationMessage(t, nested(100000), new(ListImagesInput)); got != want {
		t.Fatalf("got %q", got)
	}
}

func TestDecodeListBound(t *testing.T) {
	list := func(n int) string {
		return `{"tagKeys":[` + strings.TrimSuffix(strings.Repeat(`"k",`, n), ",") + `]}`
	}
	var in UntagResourceInput
	if err := decodeInput([]byte(list(maxDecodeListMembers)), &in); err != nil || len(in.TagKeys) != maxDecodeListMembers {
		t.Fatalf("%d members: %v", maxDecodeListMembers, err)
	}
	want := "Unexpected value for member 'tagKeys': more than 10000 list members"
	if got := serializationMessage(t, list(maxDecodeListMembers+1), new(UntagResourceInput)); got != want {
		t.Fatalf("got %q", got)
	}
}

func TestDecodeProgrammingErrors(t *testing.T) {
	for _, v := range []any{nil, ListImagesInput{}, (*ListImagesInput)(nil), new(string)} {
		err := decodeInput([]byte(`{}`), v)
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
	err := decodeInput([]byte(`{"f":1}`), &odd)
	var se *SerializationError
	if err == nil || errors.As(err, &se) {
		t.Fatalf("float field: %v", err)
	}
}

// A timestamp in a request (none of the served operations has one) reads
// epoch seconds.
func TestDecodeTimestamp(t *testing.T) {
	var in struct {
		At *Timestamp `json:"at"`
		In Timestamp  `json:"in"`
	}
	if err := decodeInput([]byte(`{"at":1719871234.123,"in":1.7e9}`), &in); err != nil {
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

// Maps appear only in responses; decoding one still works, for symmetry.
func TestDecodeMap(t *testing.T) {
	var out ImageReferrer
	if err := decodeInput([]byte(`{"digest":"d","size":3,"annotations":{"a":"1","b":"2"}}`), &out); err != nil {
		t.Fatal(err)
	}
	if out.Size != 3 || out.Annotations["b"] != "2" || len(out.Annotations) != 2 {
		t.Fatalf("got %+v", out)
	}
	if got := serializationMessage(t, `{"annotations":{"a":1}}`, &out); got != "Unexpected value for member 'annotations.a': expected a string, found a number" {
		t.Fatal(got)
	}
	if got := serializationMessage(t, `{"annotations":[]}`, &out); got != "Unexpected value for member 'annotations': expected an object, found an array" {
		t.Fatal(got)
	}
}

// fill sets every member of v, recursively, to a non-zero sample value.
func fill(v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), depth)
	case reflect.String:
		v.SetString("s" + strings.Repeat("x", depth))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int32, reflect.Int64:
		v.SetInt(int64(7 + depth))
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte("blob\x00\xff"))
			return
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), depth+1)
		}
	default:
		panic("fill: " + v.Type().String())
	}
}

// TestDecodeAgreesWithEncodingJSON fills every member of every input,
// marshals it with encoding/json, and checks that decodeInput gives the
// same value back: each member's JSON name and type are decoded.
func TestDecodeAgreesWithEncodingJSON(t *testing.T) {
	for op, in := range inputs() {
		v := reflect.ValueOf(in)
		fill(v.Elem(), 0)
		body, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		got := reflect.New(v.Elem().Type())
		if err := decodeInput(body, got.Interface()); err != nil {
			t.Errorf("%s: %v", op, err)
			continue
		}
		if !reflect.DeepEqual(got.Interface(), in) {
			t.Errorf("%s: decoded\n%+v\nwant\n%+v", op, got.Elem(), v.Elem())
		}
		// And encoding/json reads it the same way.
		std := reflect.New(v.Elem().Type())
		if err := json.Unmarshal(body, std.Interface()); err != nil || !reflect.DeepEqual(std.Interface(), in) {
			t.Errorf("%s: encoding/json disagrees: %v", op, err)
		}
	}
}
