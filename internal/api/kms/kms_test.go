package kms

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	"github.com/ecrd/ecrd/internal/api/awsjson/awsjsontest"
	"github.com/ecrd/ecrd/internal/awserr"
	core "github.com/ecrd/ecrd/internal/kms"
)

// KMS's shapes decode with the shared decoder, members of embedded
// shapes (keyIDInput) included.
func TestDecode(t *testing.T) {
	for _, c := range []struct {
		body, err string
	}{
		{``, ""},
		{` {"KeyId":"k","Unknown":[1,{"a":null}]} `, ""},
		{`{"KeyId":null}`, ""},
		{`{"KeyId":5}`, "Unexpected value for member 'KeyId': expected a string, found a number"},
		{`{"Tags":[{"TagKey":true}]}`, "Unexpected value for member 'Tags.1.member.TagKey': expected a string, found a boolean"},
		{`{"Plaintext":"***"}`, "Unexpected value for member 'Plaintext': expected a base64-encoded string, found a string that is not valid base64"},
		{`{"NumberOfBytes":1.5}`, "Unexpected value for member 'NumberOfBytes': expected an integer, found 1.5"},
		{`{"NumberOfBytes":4294967296}`, "Unexpected value for member 'NumberOfBytes': 4294967296 is out of range for a 32-bit integer"},
		{`[]`, "The request body must be a JSON object, found an array"},
		{`{"KeyId":"k"`, "Malformed JSON: unexpected end of the request body"},
		{`{"KeyId":"k"} {}`, "Unexpected data after the JSON object"},
		{`{"KeyId":}`, "Malformed JSON at offset"},
	} {
		var in struct {
			keyIDInput
			Tags          []tag  `json:"Tags"`
			Plaintext     []byte `json:"Plaintext"`
			NumberOfBytes *int32 `json:"NumberOfBytes"`
		}
		err := awsjson.Decode([]byte(c.body), &in)
		var se *awsjson.SerializationError
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.body, err)
		case c.err != "" && (!errors.As(err, &se) || !strings.Contains(se.Message, c.err)):
			t.Errorf("%s: got %v, want a SerializationException containing %q", c.body, err, c.err)
		}
	}
	var in encryptInput
	if err := awsjson.Decode([]byte(`{"KeyId":"alias/a","Plaintext":"aGk=","EncryptionContext":{"a":"b"}}`), &in); err != nil ||
		deref(in.KeyId) != "alias/a" || string(in.Plaintext) != "hi" || in.EncryptionContext["a"] != "b" {
		t.Fatalf("Encrypt's input: %+v %v", in, err)
	}
}

func TestKnown(t *testing.T) {
	h := New(nil, nil)
	for target, want := range map[string]bool{
		"TrentService.CreateKey":                         true,
		"TrentService.Decrypt":                           true,
		"TrentService.Sign":                              true,
		"TrentService.ReEncrypt":                         false,
		"CreateKey":                                      false,
		"AmazonEC2ContainerRegistry_V20150921.CreateKey": false,
	} {
		if got := h.Known(target); got != want {
			t.Errorf("Known(%s) = %v", target, got)
		}
	}
}

// TestInputsDecode: each member's JSON name and type of every operation's
// input decode, members of embedded shapes included.
func TestInputsDecode(t *testing.T) {
	inputs := map[string]any{}
	for _, in := range []any{
		new(aliasInput), new(createGrantInput), new(createKeyInput), new(decryptInput), new(describeKeyInput),
		new(enableKeyRotationInput), new(encryptInput), new(generateDataKeyInput), new(getKeyPolicyInput),
		new(getPublicKeyInput), new(keyIDInput), new(listAliasesInput), new(listGrantsInput), new(listResourceTagsInput),
		new(listRetirableGrantsInput), new(pageInput), new(putKeyPolicyInput), new(retireGrantInput), new(revokeGrantInput),
		new(scheduleKeyDeletionInput), new(signInput), new(tagResourceInput), new(untagResourceInput),
		new(updateKeyDescriptionInput), new(verifyInput),
	} {
		inputs[reflect.TypeOf(in).Elem().Name()] = in
	}
	awsjsontest.DecodesAsEncodingJSON(t, inputs)
}

// The error table: every KMS fault is 400 but ConflictException (409);
// what is not a KMS error is no exception, and becomes an internal one.
func TestException(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
	}{
		{awserr.Errorf(core.CodeNotFound, "gone"), 400},
		{awserr.Errorf(core.CodeAccessDenied, "no"), 400},
		{fmt.Errorf("wrapped: %w", awserr.Errorf(core.CodeConflict, "again")), 409},
	} {
		e := exception(c.err)
		if e == nil || e.Status != c.status || e.Type != awserr.Code(c.err) {
			t.Errorf("exception(%v) = %+v, want %s %d", c.err, e, awserr.Code(c.err), c.status)
		}
	}
	if e := exception(errors.New("disk")); e != nil {
		t.Errorf("exception(disk) = %+v, want nil", e)
	}
}
