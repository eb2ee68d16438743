package identity

import (
	"context"
	"time"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/reqinfo"
)

// ActorOf describes the request's principal as the record of a change
// names it (CloudTrail's userIdentity), with where the request came from.
// A context without a principal is a service acting on its own (a
// lifecycle run, a background job): service names it.
func ActorOf(ctx context.Context, service string) outbox.Actor {
	p, ok := FromContext(ctx)
	if !ok {
		return outbox.Service(service)
	}
	info := reqinfo.From(ctx)
	var a outbox.Actor
	if info.Principal != "" && info.Principal == p.normalized().ARN {
		a = ActorOfInfo(info)
	} else {
		// A call made outside a request, or the core acting as another
		// principal than the caller (a replication pushes as the source
		// account's root). The request's info is left as it is: this may
		// run in a transaction.
		scratch := &reqinfo.Info{}
		NoteCaller(scratch, p, "")
		a = ActorOfInfo(scratch)
	}
	if o, ok := OriginFromContext(ctx); ok {
		a.SourceIP = o.SourceIP
	} else {
		a.SourceIP = info.SourceIP
	}
	a.UserAgent, a.RequestID = info.UserAgent, info.RequestID
	return a
}

// NoteCaller records in a request's info who its caller is: p,
// authenticated with the access key accessKey ("" if none, as for a
// registry token).
func NoteCaller(info *reqinfo.Info, p Principal, accessKey string) {
	p = p.normalized()
	info.Principal, info.PrincipalID, info.AccessKeyID = p.ARN, p.UserID, accessKey
	if info.Account == "" {
		info.Account = p.Account
	}
	switch p.Type {
	case TypeRoot:
		info.Type, info.UserName = "Root", "root"
	case TypeUser:
		info.Type, info.UserName = "IAMUser", p.Name
	case TypeAssumedRole:
		info.Type = "AssumedRole"
	default:
		info.Type = "Unknown"
	}
	s := p.Session
	if s == nil {
		return
	}
	ss := &reqinfo.Session{Created: time.Unix(s.Issued, 0).UTC()}
	if s.RoleARN != "" {
		ss.IssuerARN, ss.IssuerID, ss.IssuerName, ss.IssuerAccount = s.RoleARN, s.RoleID, s.Role, s.Account
		info.UserName = s.Name
	}
	if w := s.WebIdentity; w != nil {
		ss.WebIdentityProvider, ss.WebIdentitySubject = w.Provider, w.Subject
	}
	info.Session = ss
}

// ActorOfInfo is CloudTrail's userIdentity of a request's caller as
// NoteCaller (or an adapter) recorded it, without the request's origin.
func ActorOfInfo(info *reqinfo.Info) outbox.Actor {
	a := outbox.Actor{Type: info.Type, PrincipalID: info.PrincipalID, ARN: info.Principal, AccessKeyID: info.AccessKeyID}
	if arn, ok := awsid.Parse(info.Principal); ok {
		a.AccountID = arn.AccountID
	}
	if a.Type == "IAMUser" || a.Type == "WebIdentityUser" {
		a.UserName = info.UserName
	}
	if s := info.Session; s != nil {
		if a.Type == "WebIdentityUser" {
			a.IdentityProvider = s.WebIdentityProvider
			return a
		}
		sc := &outbox.SessionContext{Attributes: outbox.SessionAttributes{
			CreationDate: s.Created.UTC().Format(time.RFC3339), MFAAuthenticated: "false"}}
		if s.MFA {
			sc.Attributes.MFAAuthenticated = "true"
		}
		if s.IssuerARN != "" {
			sc.SessionIssuer = &outbox.SessionIssuer{Type: "Role", PrincipalID: s.IssuerID, ARN: s.IssuerARN,
				AccountID: s.IssuerAccount, UserName: s.IssuerName}
		}
		if s.WebIdentityProvider != "" {
			sc.WebIDFederationData = &outbox.WebIDFederation{FederatedProvider: s.WebIdentityProvider, Attributes: map[string]string{}}
		}
		a.SessionContext = sc
	}
	return a
}
