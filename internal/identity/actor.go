package identity

import (
	"context"

	"github.com/ecrd/ecrd/internal/outbox"
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
	p = p.normalized()
	a := outbox.Actor{PrincipalID: p.UserID, ARN: p.ARN, AccountID: p.Account}
	switch p.Type {
	case TypeRoot:
		a.Type = "Root"
	case TypeUser:
		a.Type = "IAMUser"
	case TypeAssumedRole:
		a.Type = "AssumedRole"
		if p.Session != nil {
			a.PrincipalID = p.UserID
		}
	default:
		a.Type = "Unknown"
	}
	if o, ok := OriginFromContext(ctx); ok {
		a.SourceIP = o.SourceIP
	}
	return a
}
