package awserr

import (
	"errors"
	"fmt"
	"testing"
)

func TestError(t *testing.T) {
	e := Errorf("NoSuchEntity", "The user with name %s cannot be found.", "alice")
	if e.Code != "NoSuchEntity" || e.Message != "The user with name alice cannot be found." {
		t.Fatalf("Errorf = %+v", e)
	}
	if e.Error() != "NoSuchEntity: The user with name alice cannot be found." {
		t.Fatalf("Error() = %q", e.Error())
	}
	// A message is not a format once made: a %d in it stays.
	if e := Errorf("ValidationException", "%s", "100%d"); e.Message != "100%d" {
		t.Fatalf("message %q", e.Message)
	}
}

func TestCode(t *testing.T) {
	wrapped := fmt.Errorf("deleting: %w", Errorf("DeleteConflict", "in use"))
	for err, want := range map[error]string{
		Errorf("NotFoundException", "gone"): "NotFoundException",
		wrapped:                             "DeleteConflict",
		errors.New("disk full"):             "",
		nil:                                 "",
	} {
		if got := Code(err); got != want {
			t.Errorf("Code(%v) = %q, want %q", err, got, want)
		}
	}
}
