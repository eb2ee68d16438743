package cloudwatch

import "fmt"

// Error codes, as CloudWatch's query protocol names them (the JSON and
// CBOR protocols name the shape: see ShapeName).
const (
	CodeInvalidParameterValue       = "InvalidParameterValue"
	CodeInvalidParameterCombination = "InvalidParameterCombination"
	CodeMissingParameter            = "MissingParameter"
	CodeInvalidNextToken            = "InvalidNextToken"
	CodeAccessDenied                = "AccessDenied"
	CodeInternal                    = "InternalServiceError"
)

// shapes are the model's error shapes of each code.
var shapes = map[string]string{
	CodeInvalidParameterValue:       "InvalidParameterValueException",
	CodeInvalidParameterCombination: "InvalidParameterCombinationException",
	CodeMissingParameter:            "MissingRequiredParameterException",
	CodeInvalidNextToken:            "InvalidNextToken",
	CodeInternal:                    "InternalServiceFault",
	CodeAccessDenied:                "AccessDeniedException",
}

// ShapeName is the error shape of a code in CloudWatch's model.
func ShapeName(code string) string {
	if s, ok := shapes[code]; ok {
		return s
	}
	return code
}

// Error is a CloudWatch error: its code, message and HTTP status.
type Error struct {
	Code    string
	Message string
	Status  int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(code, format string, args ...any) *Error {
	status := 400
	switch code {
	case CodeAccessDenied:
		status = 403
	case CodeInternal:
		status = 500
	}
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Status: status}
}

func missing(name string) *Error {
	return errorf(CodeMissingParameter, "The parameter %s is required.", name)
}
