package ecr

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/ecrd/ecrd/internal/api/awsjson"
)

// FuzzDecodeValidate feeds arbitrary bodies to awsjson.Decode and validate()
// for every input type. Nothing may panic; every error must be a
// *SerializationError (from decoding) or an *InvalidParameterError (from
// validation); a body that decodes must be JSON; and a decoded input must
// be what encoding/json reads from the same body, where both accept it and
// the body has no case-variant or repeated member names (where the two are
// meant to differ).
func FuzzDecodeValidate(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, ` `, `null`, `[]`, `{"repositoryName":"app"}`,
		`{"repositoryName":"team/app","registryId":"123456789012","maxResults":10,"filter":{"tagStatus":"TAGGED","imageStatus":"ANY"}}`,
		`{"repositoryName":"app","imageIds":[{"imageTag":"v1"},{"imageDigest":"sha256:ab"}],"acceptedMediaTypes":["a"]}`,
		`{"repositoryName":"app","layerDigests":["sha256:ab","x"],"uploadId":"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}`,
		`{"repositoryName":"app","uploadId":"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0","partFirstByte":0,"partLastByte":4,"layerPartBlob":"aGVsbG8="}`,
		`{"repositoryName":"app","tags":[{"Key":"k","Value":"v"}],"imageTagMutability":"IMMUTABLE_WITH_EXCLUSION",` +
			`"imageTagMutabilityExclusionFilters":[{"filterType":"WILDCARD","filter":"latest"}],` +
			`"imageScanningConfiguration":{"scanOnPush":true},"encryptionConfiguration":{"encryptionType":"KMS","kmsKey":"k"}}`,
		`{"prefix":"ROOT","appliedFor":["CREATE_ON_PUSH"],"encryptionConfiguration":{"encryptionType":"AES256","kmsKey":""},"resourceTags":[]}`,
		`{"repositoryName":"app","subjectId":{"imageDigest":"sha256:ab"},"filter":{"artifactTypes":["t"],"artifactStatus":"ANY"},"maxResults":50}`,
		`{"repositoryName":"app","imageId":{"imageTag":"v1"},"nextToken":"djE6MS8y","maxResults":1000}`,
		`{"resourceArn":"arn","tagKeys":["a",null]}`, `{"maxResults":1e3}`, `{"maxResults":"1"}`, `{"a":[[[[{}]]]]}`,
		`{"imageManifest":"{\"a\":\"\u00e9\"}","repositoryName":"app"} `, `{"registryIds":["123456789012"]}`, `{"name":"x","value":"y"}`,
		`{"repositoryName":"app","lifecyclePolicyText":"{\"rules\":[]}","evaluateAt":1795413805.05}`,
		`{"repositoryName":"app","imageId":{"imageTag":"v1"},"targetStorageClass":"ARCHIVE","imagePushedAt":1e9}`,
		`{"principalArn":"arn:aws:iam::123456789012:role/x"}`,
		`{"replicationConfiguration":{"rules":[{"destinations":[{"region":"eu-west-1","registryId":"123456789012"}],` +
			`"repositoryFilters":[{"filter":"team/","filterType":"PREFIX_MATCH"}],"deleteReplication":{"enabled":true}}]}}`,
		`{"replicationConfiguration":{"rules":[{"destinations":[],"deleteReplication":{}}]}}`, `{"replicationConfiguration":{"rules":null}}`,
		`{"destination":{"region":"us-west-2","registryId":"123456789012"},"registryId":"123456789012"}`,
		`{"replicationBackfillId":"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0","resultStatusFilter":"FAILED","maxResults":1000,"nextToken":"n"}`,
		`{"repositoryName":"app"}{}`, `{"repositoryName":"app","repositoryName":1}`, "{\"repositoryName\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	types := make([]reflect.Type, 0, len(inputs()))
	for _, in := range inputs() {
		types = append(types, reflect.TypeOf(in).Elem())
	}
	for _, in := range extensionInputs() {
		types = append(types, reflect.TypeOf(in).Elem())
	}
	names := memberNames(types)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, typ := range types {
			in := reflect.New(typ).Interface()
			err := awsjson.Decode(body, in)
			if err != nil {
				var se *awsjson.SerializationError
				if !errors.As(err, &se) {
					t.Fatalf("%s: decode error %T %v", typ, err, err)
				}
				continue
			}
			if blank := len(bytes.Trim(body, " \t\r\n")) == 0; !blank && !json.Valid(body) {
				t.Fatalf("%s: decoded a body that is not JSON: %q", typ, body)
			}
			if err := in.(interface{ validate() error }).validate(); err != nil {
				var ip *InvalidParameterError
				if !errors.As(err, &ip) {
					t.Fatalf("%s: validate error %T %v", typ, err, err)
				}
				if ip.Member == "" || ip.Constraint == "" {
					t.Fatalf("%s: incomplete error %+v", typ, ip)
				}
			}
			if hasAmbiguousKeys(body, names) {
				continue
			}
			std := reflect.New(typ).Interface()
			if json.Unmarshal(body, std) == nil && !reflect.DeepEqual(in, std) {
				t.Fatalf("%s: awsjson.Decode and encoding/json disagree on %q:\n%+v\n%+v", typ, body, in, std)
			}
		}
	})
}

// hasAmbiguousKeys reports whether body holds an object key that
// awsjson.Decode (exact member names, a repeat replaces) and encoding/json
// (case-insensitive names, a repeat merges) are meant to read differently:
// a key that repeats, or that matches a member name of the shapes but for
// case. It is also true for a body holding invalid UTF-8, which is not
// worth comparing.
func hasAmbiguousKeys(body []byte, names map[string]string) bool {
	if !bytes.Equal(bytes.ToValidUTF8(body, []byte("\uFFFD")), body) {
		return true
	}
	type frame struct {
		object bool
		keys   map[string]bool
		expect bool // the next string token is a key
	}
	var stack []*frame
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expect {
			if key, ok := tok.(string); ok {
				top, folded := stack[n-1], foldName(key)
				if top.keys[folded] {
					return true
				}
				if exact, ok := names[folded]; ok && exact != key {
					return true
				}
				top.keys[folded] = true
				top.expect = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, expect: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) == 0 {
			return false
		}
		if top := stack[len(stack)-1]; top.object {
			top.expect = true // a value ended: a key comes next
		}
	}
}

// foldName maps every rune of s to the least rune of its Unicode case
// folding orbit, so that names encoding/json matches fold alike (including
// U+017F, which folds with s, and U+212A, which folds with k).
func foldName(s string) string {
	var b strings.Builder
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}

// memberNames returns the JSON member names of the given struct types and
// of the structures within them, keyed by foldName.
func memberNames(types []reflect.Type) map[string]string {
	names := map[string]string{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		for i := range t.NumField() {
			sf := t.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			names[foldName(name)] = name
			walk(sf.Type)
		}
	}
	for _, t := range types {
		walk(t)
	}
	return names
}
