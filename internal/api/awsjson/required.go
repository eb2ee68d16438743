package awsjson

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ecrd/ecrd/internal/awserr"
)

// Required collects the members a service's model requires that a request
// left out, in AWS's words ("Value null at 'keyId' failed to satisfy
// constraint: Member must not be null"), for the adapters of the services
// whose cores answer with awserr (KMS, EventBridge, Secrets Manager).
type Required []string

// Check notes member as missing when missing is true.
func (r *Required) Check(missing bool, member string) {
	if missing {
		*r = append(*r, "Value null at '"+member+"' failed to satisfy constraint: Member must not be null")
	}
}

// Err is the service's validation error (its exception code) naming
// every missing member, or nil when none is.
func (r Required) Err(code string) error {
	switch len(r) {
	case 0:
		return nil
	case 1:
		return &awserr.Error{Code: code, Message: "1 validation error detected: " + r[0]}
	}
	return &awserr.Error{Code: code, Message: fmt.Sprintf("%d validation errors detected: %s", len(r), strings.Join(r, "; "))}
}

// ClientFault is the exception of a service whose core answers with
// awserr and whose every client fault is a 400 (EventBridge, Secrets
// Manager), or nil for any other error.
func ClientFault(err error) *Error {
	var e *awserr.Error
	if !errors.As(err, &e) {
		return nil
	}
	return &Error{Type: e.Code, Message: e.Message, Status: http.StatusBadRequest}
}
