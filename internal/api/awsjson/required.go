package awsjson

import (
	"fmt"
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
