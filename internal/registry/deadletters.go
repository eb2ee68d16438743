package registry

import (
	"context"

	"github.com/ecrd/ecrd/internal/events/delivery"
	"github.com/ecrd/ecrd/internal/metadata"
)

// DeadLetterQueue is event delivery's list of the events targets gave up
// on (internal/events/delivery's Engine).
type DeadLetterQueue interface {
	DeadLetters(ctx context.Context, scope metadata.Scope, rule, after string, limit int) ([]delivery.DeadLetter, string, error)
	Redrive(ctx context.Context, scope metadata.Scope, ids []string) ([]delivery.RedriveResult, error)
}

// ListDeadLetters lists a registry's dead letters of event delivery (of
// one rule, if rule is not empty), a page of at most max after token.
// Without event delivery there are none.
func (r *Registry) ListDeadLetters(ctx context.Context, scope metadata.Scope, rule, token string, max int) ([]delivery.DeadLetter, string, error) {
	if err := r.authorize(ctx, ActionListDeadLetters, scope, nil, "*"); err != nil {
		return nil, "", err
	}
	after, err := decodeToken(token)
	if err != nil || r.opts.DeadLetters == nil {
		return nil, "", err
	}
	list, next, err := r.opts.DeadLetters.DeadLetters(ctx, scope, rule, after, max)
	if err != nil || next == "" {
		return list, "", err
	}
	return list, encodeToken(next), nil
}

// RedriveDeadLetters delivers a registry's dead letters again now, in
// event order, and removes those delivered.
func (r *Registry) RedriveDeadLetters(ctx context.Context, scope metadata.Scope, ids []string) ([]delivery.RedriveResult, error) {
	if err := r.authorize(ctx, ActionRedriveDeadLetters, scope, nil, "*"); err != nil {
		return nil, err
	}
	if r.opts.DeadLetters == nil {
		out := make([]delivery.RedriveResult, len(ids))
		for i, id := range ids {
			out[i] = delivery.RedriveResult{ID: id, Error: "no such dead letter"}
		}
		return out, nil
	}
	return r.opts.DeadLetters.Redrive(ctx, scope, ids)
}
