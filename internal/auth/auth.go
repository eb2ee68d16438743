// Package auth authenticates requests: AWS API calls by their Signature
// Version 4, registry (/v2) calls by the Basic password that
// GetAuthorizationToken issued. It says who a request is from; what that
// principal may do is decided by the domain core.
package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/ecrhost"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/reqinfo"
	"github.com/ecrd/ecrd/internal/sigv4"
)

// Code classifies an authentication failure. Each protocol adapter maps
// codes to its own wire errors.
type Code int

// Authentication failures.
const (
	CodeMissing      Code = iota + 1 // no credentials
	CodeMalformed                    // credentials that do not parse
	CodeUnknownKey                   // an access key ID that does not exist or is inactive
	CodeSignature                    // a signature that does not match
	CodeExpired                      // a signature outside the clock-skew window
	CodeInvalidPass                  // a registry password that is not valid (forged, expired)
	CodeExpiredToken                 // temporary credentials whose session has ended
)

// Error is an authentication failure with a message for the client.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return e.Message }

// Authenticator authenticates requests.
type Authenticator struct {
	IDs      *identity.Service
	Verifier *sigv4.Verifier
	// AcceptAnyCredentials is the development mode: any access key ID
	// naming a 12-digit account is that account's root, unchecked, and
	// any registry password is accepted.
	AcceptAnyCredentials bool
	// DefaultScope is the registry an anonymous /v2 request addresses when
	// its host name does not name one.
	DefaultScope metadata.Scope
}

// Caller is an authenticated AWS API caller.
type Caller struct {
	Principal identity.Principal
	// Region and Service come from the signature's credential scope.
	Region  string
	Service string
}

// ParseAWS reads a request's signature without verifying it, and checks
// that it is scoped to service (in any region: clients pick theirs).
func ParseAWS(r *http.Request, service string) (*sigv4.Parsed, error) {
	p, err := sigv4.Parse(sigv4.FromHTTP(r, nil))
	if err == nil {
		err = p.Credential.CheckScope(service, "")
	}
	if err != nil {
		return nil, fromSigV4(err)
	}
	return p, nil
}

// Pending is a signed AWS API request whose credentials exist but whose
// signature is not checked yet: Begin found them from the headers alone,
// so that a request from nobody is refused before its body is read.
type Pending struct {
	parsed   *sigv4.Parsed
	secret   string
	caller   Caller
	longTerm bool // an access key's, whose last use is noted
}

// Caller returns who the request will be from once its signature checks.
func (p *Pending) Caller() Caller { return p.caller }

// Begin starts authenticating a signed AWS API request from its headers
// (or presigned query) alone: the signature must parse and be scoped to
// service, and its access key (or session) must exist. It reads no body.
func (a *Authenticator) Begin(ctx context.Context, r *http.Request, service string) (*Pending, error) {
	parsed, err := ParseAWS(r, service)
	if err != nil {
		return nil, err
	}
	cred := parsed.Credential
	p := &Pending{parsed: parsed, caller: Caller{Region: cred.Region, Service: cred.Service}}
	if a.AcceptAnyCredentials {
		account := cred.AccessKeyID
		if !awsid.ValidAccountID(account) {
			return nil, &Error{CodeUnknownKey, fmt.Sprintf("development mode: the access key ID %q must be a 12-digit account ID", account)}
		}
		if _, err := a.IDs.EnsureAccount(ctx, account); err != nil {
			return nil, err
		}
		p.caller.Principal = identity.Root(account)
		return p, nil
	}
	if parsed.SecurityToken != "" || strings.HasPrefix(cred.AccessKeyID, "ASIA") {
		if parsed.SecurityToken == "" {
			return nil, &Error{CodeUnknownKey, "The security token included in the request is invalid: temporary credentials (ASIA...) need their session token"}
		}
		sess, err := a.IDs.VerifySession(ctx, cred.AccessKeyID, parsed.SecurityToken)
		var se *identity.SessionError
		if errors.As(err, &se) {
			if se.Expired {
				return nil, &Error{CodeExpiredToken, se.Message}
			}
			return nil, &Error{CodeUnknownKey, se.Message}
		}
		if err != nil {
			return nil, err
		}
		p.secret, p.caller.Principal = sess.Secret, sess.Principal()
		return p, nil
	}
	secret, principal, err := a.IDs.LookupAccessKey(ctx, cred.AccessKeyID)
	if errors.Is(err, identity.ErrUnknownAccessKey) || errors.Is(err, identity.ErrInactiveKey) {
		return nil, &Error{CodeUnknownKey, "The security token included in the request is invalid."}
	}
	if err != nil {
		return nil, err
	}
	p.secret, p.caller.Principal, p.longTerm = secret, principal, true
	return p, nil
}

// Finish checks the signature of a request Begin accepted against its
// body. bodyHash, if not empty, is the body's hex SHA-256, computed as it
// was read.
func (a *Authenticator) Finish(r *http.Request, p *Pending, body []byte, bodyHash string) (Caller, error) {
	if a.AcceptAnyCredentials {
		identity.NoteCaller(reqinfo.From(r.Context()), p.caller.Principal, p.parsed.Credential.AccessKeyID)
		return p.caller, nil
	}
	req := sigv4.FromHTTP(r, body)
	req.BodyHash = bodyHash
	if err := a.Verifier.Verify(req, p.parsed, p.secret); err != nil {
		return Caller{}, fromSigV4(err)
	}
	if p.longTerm {
		cred := p.parsed.Credential
		a.IDs.NoteKeyUse(p.caller.Principal.Account, cred.AccessKeyID, cred.Service, cred.Region) // GetAccessKeyLastUsed
	}
	identity.NoteCaller(reqinfo.From(r.Context()), p.caller.Principal, p.parsed.Credential.AccessKeyID)
	return p.caller, nil
}

// AWS authenticates a signed AWS API request whose body was read into
// body: Begin and Finish in one.
func (a *Authenticator) AWS(ctx context.Context, r *http.Request, service string, body []byte) (Caller, error) {
	p, err := a.Begin(ctx, r, service)
	if err != nil {
		return Caller{}, err
	}
	return a.Finish(r, p, body, "")
}

// fromSigV4 turns a verifier error into an authentication error.
func fromSigV4(err error) error {
	var se *sigv4.Error
	if !errors.As(err, &se) {
		return err
	}
	code := CodeSignature
	switch se.Code {
	case sigv4.MissingAuthentication:
		code = CodeMissing
	case sigv4.IncompleteSignature:
		code = CodeMalformed
	case sigv4.Expired, sigv4.NotYetCurrent:
		code = CodeExpired
	}
	return &Error{Code: code, Message: se.Message}
}

// Registry authenticates a /v2 request. It returns the registry the
// request addresses and its principal; a request without credentials is
// anonymous (principal nil), which the core allows only where a
// repository opts in.
func (a *Authenticator) Registry(r *http.Request) (metadata.Scope, *identity.Principal, error) {
	host, fromHost := ecrhost.Parse(r.Host)
	scope := a.DefaultScope
	if fromHost {
		scope = metadata.Scope{Account: host.Account, Region: host.Region}
	}
	if r.URL.RawQuery != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Query().Has(identity.DownloadSignatureParam) {
		// A GetDownloadUrlForLayer URL carries its own credentials.
		claims, err := a.IDs.VerifyDownloadURL(r.URL.Path, r.URL.Query())
		if err != nil {
			return scope, nil, &Error{CodeInvalidPass, err.Error()}
		}
		p := claims.Principal()
		return metadata.Scope{Account: claims.Account, Region: claims.Region}, &p, nil
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return scope, nil, nil
	}
	user, pass, ok := parseBasic(h)
	if !ok {
		return scope, nil, &Error{CodeMalformed, "the registry takes Basic authentication: user AWS, password from aws ecr get-login-password"}
	}
	if a.AcceptAnyCredentials {
		p := identity.Root(scope.Account)
		return scope, &p, nil
	}
	if user != "AWS" {
		return scope, nil, &Error{CodeInvalidPass, fmt.Sprintf("the user name must be AWS, not %q", truncate(user))}
	}
	claims, err := a.IDs.VerifyRegistryToken(pass)
	if err != nil {
		return scope, nil, &Error{CodeInvalidPass, err.Error()}
	}
	if !fromHost {
		scope = metadata.Scope{Account: claims.Account, Region: claims.Region}
	}
	p := claims.Principal()
	return scope, &p, nil
}

func parseBasic(h string) (user, pass string, ok bool) {
	scheme, cred, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Basic") || len(cred) > 8192 {
		return "", "", false
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(b), ":")
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
