package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// The kinds of failure a caller branches on. An *Error wraps one of them
// (errors.Is), or none when the failure is of no kind listed here.
var (
	// ErrDenied: the remote refused the credentials or the action (a 401
	// or 403 on /v2, AccessDeniedException or a signature the remote does
	// not accept on its API). The remote's message says which.
	ErrDenied = errors.New("denied")
	// ErrRepositoryNotFound: the destination repository does not exist
	// (NAME_UNKNOWN, RepositoryNotFoundException).
	ErrRepositoryNotFound = errors.New("repository not found")
	// ErrTagImmutable: the tag exists on another image in a repository
	// whose tags are immutable (TAG_INVALID naming immutability on /v2,
	// ImageTagAlreadyExistsException on the API).
	ErrTagImmutable = errors.New("tag is immutable")
	// ErrNotFound: the image (or tag) is not in the repository.
	ErrNotFound = errors.New("image not found")
	// ErrReferenced: the image cannot be deleted while an index of the
	// repository lists it (409 DENIED, ImageReferencedByManifestList).
	ErrReferenced = errors.New("image is referenced by an index")
)

// Error is a failed call to a remote registry. Its message names the
// remote, what was being done and what the remote answered, for a person
// to act on; it never holds credentials.
type Error struct {
	Remote  string // the remote region and URL
	Op      string // what failed, e.g. "pushing blob sha256:... to app"
	Kind    error  // one of the Err* values, or nil
	Status  int    // the HTTP status, 0 when no answer came
	Code    string // the remote's error code (DENIED, AccessDeniedException), if any
	Message string // the remote's message, if any
	Err     error  // the cause when no answer came (network, TLS), or a local failure

	temporary bool
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "remote %s: %s: ", e.Remote, e.Op)
	switch {
	case e.Status != 0:
		if e.Code != "" {
			b.WriteString(e.Code)
		} else {
			b.WriteString(http.StatusText(e.Status))
		}
		if e.Message != "" {
			b.WriteString(": " + e.Message)
		}
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	case e.Message != "":
		if e.Code != "" {
			b.WriteString(e.Code + ": ")
		}
		b.WriteString(e.Message)
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap gives errors.Is and errors.As the kind and the cause.
func (e *Error) Unwrap() []error {
	var out []error
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// Temporary reports whether the failure may pass by itself: no answer
// (a network failure, a timeout), a 5xx or a 429. Retry those later;
// anything else needs a change on one side first.
func Temporary(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.temporary
}

// temporaryStatus reports the HTTP statuses that say "later".
func temporaryStatus(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500 && status != http.StatusNotImplemented
}

// transportError describes a request that got no answer. ctx is the
// caller's: its own cancellation is not something to retry.
func (c *Client) transportError(ctx context.Context, op string, err error) *Error {
	e := &Error{Remote: c.name, Op: op, Err: err}
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	switch {
	case ctx.Err() != nil:
		e.Err = ctx.Err()
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		// A certificate the client does not trust will not fix itself.
		e.Message = "the remote's TLS certificate is not trusted (give its CA with ca-file): " + err.Error()
	default:
		var ne net.Error
		e.temporary = errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
			errors.Is(err, context.DeadlineExceeded) || isConnectionError(err)
	}
	return e
}

func isConnectionError(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe)
}

// v2Error reads a /v2 error answer (the distribution spec's errors body)
// into an Error.
func (c *Client) v2Error(op string, resp *http.Response) *Error {
	e := &Error{Remote: c.name, Op: op, Status: resp.StatusCode, temporary: temporaryStatus(resp.StatusCode)}
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if resp.Request.Method != http.MethodHead {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &body) == nil && len(body.Errors) > 0 {
			e.Code, e.Message = body.Errors[0].Code, body.Errors[0].Message
		} else if s := strings.TrimSpace(string(b)); s != "" && !strings.HasPrefix(s, "<") {
			e.Message = truncate(s, 512)
		}
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		e.Kind = ErrDenied
	case e.Code == "NAME_UNKNOWN":
		e.Kind = ErrRepositoryNotFound
	case e.Code == "MANIFEST_UNKNOWN" && resp.StatusCode == http.StatusNotFound:
		e.Kind = ErrNotFound
	case e.Code == "TAG_INVALID" && strings.Contains(strings.ToLower(e.Message), "immutable"):
		e.Kind = ErrTagImmutable
	case resp.StatusCode == http.StatusConflict:
		e.Kind = ErrReferenced
	}
	return e
}

// apiError turns an AWS SDK error from the remote's API into an Error.
func (c *Client) apiError(ctx context.Context, op string, err error) *Error {
	var ae smithy.APIError
	var re *smithyhttp.ResponseError
	status := 0
	if errors.As(err, &re) && re.Response != nil {
		status = re.Response.StatusCode
	}
	if !errors.As(err, &ae) {
		if status != 0 {
			return &Error{Remote: c.name, Op: op, Status: status, Err: err, temporary: temporaryStatus(status)}
		}
		return c.transportError(ctx, op, err)
	}
	e := &Error{Remote: c.name, Op: op, Status: status, Code: ae.ErrorCode(), Message: ae.ErrorMessage()}
	switch e.Code {
	case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException", "SignatureDoesNotMatch",
		"InvalidClientTokenId", "IncompleteSignature", "MissingAuthenticationToken", "ExpiredTokenException", "ExpiredToken", "AccessDenied":
		e.Kind = ErrDenied
	case "RepositoryNotFoundException":
		e.Kind = ErrRepositoryNotFound
	case "ImageNotFoundException":
		e.Kind = ErrNotFound
	case "ImageTagAlreadyExistsException":
		e.Kind = ErrTagImmutable
	case "ThrottlingException", "TooManyRequestsException", "ServerException", "ServiceUnavailable", "InternalFailure", "RequestTimeout":
		e.temporary = true
	}
	if status != 0 && temporaryStatus(status) {
		e.temporary = true
	}
	return e
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
