// Package reqinfo carries what is known of one request as it is served,
// from the server's outermost handler, through the protocol adapter that
// names the operation and the caller, to the observers that see every
// finished request: the audit trail (a CloudTrail record of each call)
// and metrics. The server puts an Info in each request's context; the
// adapters fill it in as they learn; observers read it once the answer
// is written. It imports nothing of the registry, so that every layer may
// use it.
package reqinfo

import (
	"context"
	"strings"
	"time"
)

// Info is one request as served.
type Info struct {
	// Set by the server.
	Start     time.Time
	RequestID string // as answered in x-amzn-RequestId, or generated for /v2
	SourceIP  string
	UserAgent string

	// Set by the adapter that served it.
	//
	// Service is the AWS service the operation belongs to, by its
	// CloudTrail eventSource: ecr.amazonaws.com (for /v2 too), iam,
	// sts, kms, events, cloudtrail, monitoring (.amazonaws.com).
	Service string
	// Operation is the operation's name: an API action, or for /v2 the
	// ECR action the route is authorized as (BatchGetImage,
	// GetDownloadUrlForLayer, InitiateLayerUpload, PutImage, ...).
	Operation string
	// ReadOnly says the operation changes nothing.
	ReadOnly bool
	// Account and Region are the registry (or account and region) the
	// request addressed; empty when it never got that far.
	Account, Region string
	// Principal is the caller's ARN, PrincipalID its unique ID, Type its
	// kind (Root, IAMUser, AssumedRole, WebIdentityUser), AccessKeyID the
	// key it signed with; all empty for an anonymous caller.
	Principal, PrincipalID, Type, AccessKeyID string
	// UserName is the caller's name as CloudTrail's Username lookup
	// value has it: an IAM user's name, a role session's name, "root",
	// a web identity's subject.
	UserName string
	// Session describes the caller's temporary credentials, if any.
	Session *Session
	// Repository is the repository a registry operation addressed.
	Repository string
	// Params are the request's parameters that say what it did, as the
	// API names them, secrets left out.
	Params map[string]any
	// Resources are the ARNs the operation acted on.
	Resources []string
	// Recorded says the change's own record is in the outbox, written in
	// its transaction: an audit trail need not record it again.
	Recorded bool
	// ErrorCode and ErrorMessage describe a failure, as the API answered
	// it (AccessDenied, RepositoryNotFoundException, DENIED, ...).
	ErrorCode, ErrorMessage string

	// Set by the server once the answer is written.
	Status   int
	BytesIn  int64
	BytesOut int64
	Duration time.Duration
}

// Session is what CloudTrail's sessionContext says of temporary
// credentials.
type Session struct {
	// The role an assumed role's session is of ("" for a user's own
	// session).
	IssuerARN, IssuerID, IssuerName, IssuerAccount string
	Created                                        time.Time
	MFA                                            bool
	// WebIdentityProvider and WebIdentitySubject name the OIDC provider
	// and the token's subject of a session that came from
	// AssumeRoleWithWebIdentity (or, for that call itself, of its
	// caller).
	WebIdentityProvider, WebIdentitySubject string
}

type key struct{}

// With returns ctx carrying info.
func With(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, key{}, info)
}

// From returns the request's Info, or a throwaway one when the context
// carries none (a call made outside a request), so that callers may
// always write to it.
func From(ctx context.Context) *Info {
	if info, ok := ctx.Value(key{}).(*Info); ok {
		return info
	}
	return &Info{}
}

// Observer sees every finished request. It must not block: it is called
// on the request's goroutine after the answer was written.
type Observer interface {
	Observe(info *Info)
}

// readOnlyPrefixes start the names of AWS operations that change
// nothing, as CloudTrail marks them readOnly: reads, and the calls that
// only hand out credentials or use a key.
var readOnlyPrefixes = []string{"Describe", "Get", "List", "BatchGet", "BatchCheck", "Lookup", "Simulate",
	"Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateRandom", "Sign", "Verify", "AssumeRole"}

// ReadOnlyOperation reports whether an AWS operation, by its name,
// changes nothing.
func ReadOnlyOperation(name string) bool {
	for _, p := range readOnlyPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
