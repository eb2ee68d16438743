package awsjson

import (
	"errors"
	"testing"

	"github.com/ecrd/ecrd/internal/awserr"
)

func TestRequired(t *testing.T) {
	var r Required
	if r.Err("ValidationException") != nil {
		t.Fatal("no missing member is not an error")
	}
	r.Check(true, "keyId")
	r.Check(false, "policy")
	var e *awserr.Error
	if err := r.Err("ValidationException"); !errors.As(err, &e) || e.Code != "ValidationException" ||
		e.Message != "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null" {
		t.Fatalf("one missing: %v", err)
	}
	r.Check(true, "aliasName")
	err := r.Err("InvalidParameterException")
	if !errors.As(err, &e) || e.Code != "InvalidParameterException" || e.Message != "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; "+
		"Value null at 'aliasName' failed to satisfy constraint: Member must not be null" {
		t.Fatalf("two missing: %v", err)
	}
}

func TestClientFault(t *testing.T) {
	if e := ClientFault(errors.New("disk on fire")); e != nil {
		t.Fatalf("a fault answered as a client error: %+v", e)
	}
	e := ClientFault(&awserr.Error{Code: "ResourceNotFoundException", Message: "no such rule"})
	if e == nil || e.Type != "ResourceNotFoundException" || e.Message != "no such rule" || e.Status != 400 {
		t.Fatalf("client fault: %+v", e)
	}
}
