// Package sts serves the slice of AWS STS that ecrd has (query protocol,
// XML): GetCallerIdentity, which the AWS CLI and the Terraform provider
// call first; AssumeRole; AssumeRoleWithWebIdentity, the one AWS API call
// that is not signed, with which a CI job trades its OpenID Connect token
// for a role session; GetSessionToken; and DecodeAuthorizationMessage,
// which explains a denial. The rules live in internal/identity.
package sts

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/api/awsquery"
	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/reqinfo"
)

// XMLNS is STS's XML namespace.
const XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"

// Handler serves STS.
type Handler struct {
	ids    *identity.Service
	region string
	api    awsquery.Service
}

// New returns the STS handler. region is the server's default region,
// where unsigned calls are taken to be made.
func New(ids *identity.Service, region string, log *slog.Logger) *Handler {
	return &Handler{ids: ids, region: region, api: awsquery.Service{Name: "STS", XMLNS: XMLNS, Fault: "InternalFailure", Log: log,
		EventSource: "sts.amazonaws.com"}}
}

// Unsigned reports whether an action is served without a signature.
func Unsigned(action string) bool { return action == "AssumeRoleWithWebIdentity" }

// Serve answers an STS request; c is the zero Caller for an unsigned one.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, c auth.Caller, values url.Values, requestID string) {
	q, form := h.api.Writer(w, requestID), awsquery.Form{Values: values}
	h.api.Note(r, &q, c, form)
	if c.Region == "" {
		reqinfo.From(r.Context()).Region = h.region
	}
	action := form.Get("Action")
	ctx := identity.WithOrigin(r.Context(), identity.OriginOf(r))
	if c.Principal.ARN != "" {
		ctx = identity.NewContext(ctx, c.Principal)
	}
	var (
		result any
		err    error
	)
	if sess := c.Principal.Session; sess != nil && sess.FromGetSessionToken() && action != "GetCallerIdentity" && action != "AssumeRole" {
		// AWS lets GetSessionToken credentials call no other STS action.
		msg := "Cannot call " + action + " with session credentials"
		if action != "GetSessionToken" {
			msg = "Cannot call " + action + " with credentials from GetSessionToken: only AssumeRole and GetCallerIdentity"
		}
		q.Error(identity.CodeAccessDenied, msg, http.StatusForbidden)
		return
	}
	switch action {
	case "GetCallerIdentity":
		result = struct {
			Arn     string
			UserId  string
			Account string
		}{c.Principal.ARN, c.Principal.UserID, c.Principal.Account}
	case "AssumeRole":
		result, err = h.assumeRole(ctx, form, c.Region)
	case "AssumeRoleWithWebIdentity":
		result, err = h.assumeRoleWithWebIdentity(ctx, form, h.region)
	case "GetSessionToken":
		result, err = h.getSessionToken(ctx, form)
	case "DecodeAuthorizationMessage":
		result, err = h.decodeAuthorizationMessage(ctx, form)
	default:
		h.api.InvalidAction(q, form)
		return
	}
	h.api.Answer(q, action, result, err)
}

// Credentials are temporary credentials as STS writes them.
type Credentials struct {
	AccessKeyId     string
	SecretAccessKey string
	SessionToken    string
	Expiration      string
}

// AssumedRoleUser names the session.
type AssumedRoleUser struct {
	AssumedRoleId string
	Arn           string
}

func credentialsOf(a identity.AssumedRole) (Credentials, AssumedRoleUser) {
	return credentialsXML(a.Credentials), AssumedRoleUser{a.Principal.UserID, a.Principal.ARN}
}

func credentialsXML(c identity.Credentials) Credentials {
	return Credentials{c.AccessKeyID, c.SecretAccessKey, c.SessionToken, c.Expiration.UTC().Format(time.RFC3339)}
}

// input reads what both AssumeRole calls take.
func input(form awsquery.Form) (identity.AssumeRoleInput, error) {
	in := identity.AssumeRoleInput{SessionName: form.Get("RoleSessionName"), Policy: form.Get("Policy")}
	var err error
	if in.RoleARN, err = form.Required("RoleArn"); err != nil {
		return in, err
	}
	if in.Duration, err = duration(form); err != nil {
		return in, err
	}
	in.PolicyARNs = form.MemberFields("PolicyArns", "arn")
	in.Tags = form.Tags("Tags")
	in.TransitiveTagKeys = form.Members("TransitiveTagKeys")
	in.ExternalID, in.SourceIdentity = form.Get("ExternalId"), form.Get("SourceIdentity")
	return in, nil
}

// duration reads DurationSeconds (0 when absent).
func duration(form awsquery.Form) (time.Duration, error) {
	n, _, err := form.Int("DurationSeconds")
	return time.Duration(n) * time.Second, err
}

func (h *Handler) assumeRole(ctx context.Context, form awsquery.Form, region string) (any, error) {
	in, err := input(form)
	in.Region = region
	if err != nil {
		return nil, err
	}
	a, err := h.ids.AssumeRole(ctx, in)
	if err != nil {
		return nil, err
	}
	creds, user := credentialsOf(a)
	return struct {
		Credentials      Credentials
		AssumedRoleUser  AssumedRoleUser
		PackedPolicySize int
		SourceIdentity   string `xml:",omitempty"`
	}{creds, user, a.PackedPolicySize, a.Principal.Session.SourceIdentity}, nil
}

func (h *Handler) getSessionToken(ctx context.Context, form awsquery.Form) (any, error) {
	d, err := duration(form)
	if err != nil {
		return nil, err
	}
	c, err := h.ids.GetSessionToken(ctx, d, form.Get("SerialNumber"))
	if err != nil {
		return nil, err
	}
	return struct{ Credentials Credentials }{credentialsXML(c)}, nil
}

func (h *Handler) decodeAuthorizationMessage(ctx context.Context, form awsquery.Form) (any, error) {
	msg, err := form.Required("EncodedMessage")
	if err != nil {
		return nil, err
	}
	decoded, err := h.ids.DecodeAuthorizationMessage(ctx, msg)
	if err != nil {
		return nil, err
	}
	return struct{ DecodedMessage string }{decoded}, nil
}

func (h *Handler) assumeRoleWithWebIdentity(ctx context.Context, form awsquery.Form, region string) (any, error) {
	in, err := input(form)
	in.Region = region
	if err != nil {
		return nil, err
	}
	token := form.Get("WebIdentityToken")
	a, claims, err := h.ids.AssumeRoleWithWebIdentity(ctx, in, token)
	if err != nil {
		return nil, err
	}
	// The caller is the token's subject, as CloudTrail's WebIdentityUser.
	info := reqinfo.From(ctx)
	provider := strings.TrimPrefix(claims.Issuer, "https://")
	info.Type, info.UserName, info.Account = "WebIdentityUser", claims.Subject, a.Principal.Account
	info.PrincipalID = provider + ":" + strings.Join(claims.Audience, ",") + ":" + claims.Subject
	info.Session = &reqinfo.Session{WebIdentityProvider: provider, WebIdentitySubject: claims.Subject}
	creds, user := credentialsOf(a)
	aud := ""
	if len(claims.Audience) > 0 {
		aud = claims.Audience[0]
	}
	return struct {
		SubjectFromWebIdentityToken string
		Audience                    string
		AssumedRoleUser             AssumedRoleUser
		Credentials                 Credentials
		Provider                    string
		PackedPolicySize            int
	}{claims.Subject, aud, user, creds, claims.Issuer, a.PackedPolicySize}, nil
}
