package kms

import (
	"errors"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	for _, c := range []struct {
		body, err string
	}{
		{``, ""},
		{` {"KeyId":"k","Unknown":[1,{"a":null}]} `, ""},
		{`{"KeyId":null}`, ""},
		{`{"KeyId":5}`, "The member KeyId must be a string, not a JSON number"},
		{`{"Tags":[{"TagKey":true}]}`, "The member Tags.TagKey must be a string, not a JSON bool"},
		{`{"Plaintext":"***"}`, "blobs are standard, padded base64"},
		{`{"NumberOfBytes":1.5}`, "The member NumberOfBytes must be an integer, not a JSON number 1.5"},
		{`{"NumberOfBytes":4294967296}`, "must be an integer"},
		{`[]`, "The request body must be a JSON object, found a JSON array"},
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
		err := decode([]byte(c.body), &in)
		var se *serializationError
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.body, err)
		case c.err != "" && (!errors.As(err, &se) || !strings.Contains(se.msg, c.err)):
			t.Errorf("%s: got %v, want a SerializationException containing %q", c.body, err, c.err)
		}
	}
}

func TestRequired(t *testing.T) {
	var r required
	if r.err() != nil {
		t.Fatal("no missing member is not an error")
	}
	r.check(true, "keyId")
	r.check(false, "policy")
	r.check(true, "aliasName")
	want := "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'aliasName' failed to satisfy constraint: Member must not be null"
	if err := r.err(); err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("got %v", err)
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
