// Package awserr is the error the domain cores of the AWS services ecrd
// speaks return for what a client can act on: the error code as the
// service names it (IAM's NoSuchEntity, KMS's NotFoundException) and the
// message the service answers with. The codes are each service's own
// vocabulary and stay with its core (internal/identity for IAM and STS,
// internal/kms for KMS); the HTTP status of a code and how an error is
// written (a query-protocol <ErrorResponse>, an AWS JSON __type) belong to
// the protocol adapters in internal/api.
package awserr

import (
	"errors"
	"fmt"
)

// Error is an AWS service's error: its code and message.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an error of a code, its message formatted as
// fmt.Sprintf formats it.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Code returns the code of the *Error in err's chain, or "" when it has
// none (nil, or an error that is not a service's answer).
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
