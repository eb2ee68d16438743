// Package awsquery speaks the AWS query protocol that IAM and STS share:
// form-encoded requests (Form), XML answers and <ErrorResponse> documents
// carrying the request's ID (Writer), and the error codes of their common
// core, internal/identity (as *awserr.Error), with the HTTP status each has
// (Status). A
// Service answers what one of its actions returned.
package awsquery

import (
	"cmp"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"

	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/reqinfo"
)

// MaxBodySize bounds a query-protocol request body.
const MaxBodySize = 1 << 20

// Writer writes the answer to one request: in a service's XML namespace,
// with the ID the server gave the request (also in its x-amzn-RequestId
// header).
type Writer struct {
	W         http.ResponseWriter
	XMLNS     string
	RequestID string
	// Info, if set, is the request's info, where Error notes the failure.
	Info *reqinfo.Info
}

// Result writes <{Action}Response><{Action}Result>result</...> with the
// response metadata. result must marshal as the Result element's content;
// nil writes a response with no Result (for actions without output).
func (q Writer) Result(action string, result any) {
	type metadata struct {
		RequestID string `xml:"RequestId"`
	}
	type response struct {
		XMLName  xml.Name
		Xmlns    string   `xml:"xmlns,attr"`
		Result   any      `xml:",omitempty"`
		Metadata metadata `xml:"ResponseMetadata"`
	}
	resp := response{
		XMLName:  xml.Name{Local: action + "Response"},
		Xmlns:    q.XMLNS,
		Metadata: metadata{RequestID: q.RequestID},
	}
	if result != nil {
		resp.Result = wrapper{name: action + "Result", v: result}
	}
	write(q.W, http.StatusOK, resp)
}

// wrapper marshals v inside an element of the given name.
type wrapper struct {
	name string
	v    any
}

func (wr wrapper) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	return e.EncodeElement(wr.v, xml.StartElement{Name: xml.Name{Local: wr.name}})
}

// Error writes an <ErrorResponse>. Sender faults are the client's; the
// others the server's.
func (q Writer) Error(code, message string, status int) {
	if q.Info != nil {
		q.Info.ErrorCode, q.Info.ErrorMessage = code, message
	}
	kind := "Sender"
	if status >= 500 {
		kind = "Receiver"
	}
	type errorElem struct {
		Type    string
		Code    string
		Message string
	}
	type errorResponse struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Xmlns     string   `xml:"xmlns,attr"`
		Error     errorElem
		RequestID string `xml:"RequestId"`
	}
	write(q.W, status, errorResponse{Xmlns: q.XMLNS, Error: errorElem{kind, code, message}, RequestID: q.RequestID})
}

func write(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	w.Write(b)
}

// statuses are the HTTP statuses of the error codes that are not 400.
var statuses = map[string]int{
	identity.CodeNoSuchEntity:           http.StatusNotFound,
	identity.CodeEntityExists:           http.StatusConflict,
	identity.CodeDeleteConflict:         http.StatusConflict,
	identity.CodeLimitExceeded:          http.StatusConflict,
	identity.CodeConcurrentModification: http.StatusConflict,
	identity.CodeAccessDenied:           http.StatusForbidden,
}

// Status returns the HTTP status IAM and STS answer an error code with:
// 400 unless the code says otherwise.
func Status(code string) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// authErrors are the codes and statuses of authentication failures.
var authErrors = map[auth.Code]struct {
	code   string
	status int
}{
	auth.CodeMissing:      {"MissingAuthenticationToken", http.StatusForbidden},
	auth.CodeMalformed:    {"IncompleteSignature", http.StatusBadRequest},
	auth.CodeUnknownKey:   {"InvalidClientTokenId", http.StatusForbidden},
	auth.CodeSignature:    {"SignatureDoesNotMatch", http.StatusForbidden},
	auth.CodeExpired:      {"SignatureDoesNotMatch", http.StatusForbidden},
	auth.CodeExpiredToken: {"ExpiredToken", http.StatusForbidden},
}

// AuthError answers a request whose authentication failed, and reports
// whether the protocol names the failure (false: left for the caller to
// answer as a fault).
func (q Writer) AuthError(e *auth.Error) bool {
	code, status, ok := AuthCode(e)
	if ok {
		q.Error(code, e.Message, status)
	}
	return ok
}

// AuthCode is the query protocol's code and status of an authentication
// failure, and false for one it has no name for.
func AuthCode(e *auth.Error) (code string, status int, ok bool) {
	a, ok := authErrors[e.Code]
	return a.code, a.status, ok
}

// Service is IAM or STS: what its answers need beyond the protocol.
type Service struct {
	// Name names the service in log lines ("IAM").
	Name string
	// XMLNS is the service's XML namespace.
	XMLNS string
	// Fault is the code of a server fault (status 500), whose cause is
	// logged, not answered.
	Fault string
	Log   *slog.Logger
	// EventSource names the service in requests' info
	// (iam.amazonaws.com); Region, if set, is the region its calls are
	// recorded in whatever the signature's (IAM's are global).
	EventSource, Region string
}

// secretParams are the form parameters a record of the call leaves out.
var secretParams = map[string]bool{"WebIdentityToken": true, "SAMLAssertion": true, "TokenCode": true}

// Note records in the request's info the call it is (and makes q note
// its failure there): the operation, the caller's account and region,
// and its parameters as CloudTrail names them (roleArn), secrets left
// out.
func (s *Service) Note(r *http.Request, q *Writer, c auth.Caller, f Form) {
	info := reqinfo.From(r.Context())
	q.Info = info
	action := f.Get("Action")
	info.Service, info.Operation, info.ReadOnly = s.EventSource, action, reqinfo.ReadOnlyOperation(action)
	info.Region = cmp.Or(s.Region, c.Region)
	if info.Account == "" {
		info.Account = c.Principal.Account
	}
	params := make(map[string]any, len(f.Values))
	for k, v := range f.Values {
		if k == "Action" || k == "Version" || secretParams[k] || len(v) == 0 {
			continue
		}
		params[lowerFirst(k)] = v[0]
	}
	info.Params = params
}

// Writer returns the writer of the answer to one request.
func (s *Service) Writer(w http.ResponseWriter, requestID string) Writer {
	return Writer{W: w, XMLNS: s.XMLNS, RequestID: requestID}
}

// Answer writes what an action returned: its result, or its error. An
// *awserr.Error is answered with its code, message and Status; any other
// error is a server fault.
func (s *Service) Answer(q Writer, action string, result any, err error) {
	var e *awserr.Error
	switch {
	case err == nil:
		q.Result(action, result)
	case errors.As(err, &e):
		q.Error(e.Code, e.Message, Status(e.Code))
	default:
		s.Log.Error("serving an "+s.Name+" call", "action", action, "err", err)
		q.Error(s.Fault, "internal server error: the registry logged the cause", http.StatusInternalServerError)
	}
}

// InvalidAction answers a request for an action the service does not
// have.
func (s *Service) InvalidAction(q Writer, f Form) {
	q.Error("InvalidAction", "Could not find operation "+f.Get("Action")+" for version "+f.Get("Version"), http.StatusBadRequest)
}
