// Package events is ecrd's domain core for Amazon EventBridge's control
// plane on each registry's default event bus: rules (an event pattern
// and up to five targets), connections (how to authorize calls to an
// HTTP endpoint) and API destinations (an endpoint, its method and rate
// limit, and a connection), TestEventPattern, and PutEvents, which
// appends custom events to the outbox beside the events ecrd records of
// its own changes. The delivery of events to targets reads the enabled
// rules through DeliveryRules.
//
// Storage. Each rule (with its targets and tags), connection and API
// destination is one document in the metadata store, an IAM entity of
// kind metadata.EventRule, EventConnection or EventAPIDestination named
// "<region>/<name>", as KMS keeps its keys. The store compares entity
// names ignoring case, EventBridge's names are case-sensitive: a name's
// capital letters are stored as "!" and the lower-case letter (which no
// EventBridge name may contain), so "Rule" and "rule" are two entities.
// Every document carries a revision that each change increments.
//
// Changes. A change reads what it changes, is authorized on that
// (identity.Service.Authorize: the caller's policies for events:<action>
// on the resource's ARN, its tags as aws:ResourceTag; the account's
// root always), and computes the new document, with any secret sealed,
// before its transaction; the transaction only checks that the revision
// is still the one read and writes the document with its "AWS API Call
// via CloudTrail" record (outbox.APICall, source aws.events). A change
// that finds the revision moved is decided and made again once, as if it
// came second; twice in a row answers ConcurrentModificationException.
//
// Secrets (an API key's value, a password, an OAuth client secret, and
// HTTP parameters marked secret) are sealed under the server keyring,
// bound to the connection's ARN and where in it they sit, as identity
// seals access-key secrets. No answer, log line or outbox record holds
// one; only DeliveryRules unseals them.
package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/keyring"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
)

// Error is the type of the service's errors: EventBridge's exception
// name and message.
type Error = awserr.Error

// EventBridge exception names.
const (
	CodeAccessDenied           = "AccessDeniedException"
	CodeConcurrentModification = "ConcurrentModificationException"
	CodeInvalidEventPattern    = "InvalidEventPatternException"
	CodeLimitExceeded          = "LimitExceededException"
	CodeAlreadyExists          = "ResourceAlreadyExistsException"
	CodeNotFound               = "ResourceNotFoundException"
	CodeValidation             = "ValidationException"
)

// Scope is where an operation acts: the caller's account and the region
// its request was signed for.
type Scope = metadata.Scope

// DefaultBus is the one event bus of each account and region.
const DefaultBus = "default"

// Tag is a rule's tag.
type Tag struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// Service is the EventBridge domain core.
type Service struct {
	meta metadata.Store
	keys *keyring.Keyring
	ids  Authorizer
	log  *slog.Logger
	now  func() time.Time
}

// Authorizer is identity's: the Service, or a test's wrapper of it.
type Authorizer = identity.Authorizer

// New returns the service. ids authorizes callers (nil: only roots);
// keys seals connection secrets.
func New(meta metadata.Store, keys *keyring.Keyring, ids Authorizer, log *slog.Logger) *Service {
	if ids == nil {
		ids = (*identity.Service)(nil)
	}
	return &Service{meta: meta, keys: keys, ids: ids, log: log, now: time.Now}
}

const eventsService = "events.amazonaws.com"

// entityName is a resource's store name: its region and its name with
// capitals escaped (see the package doc).
func entityName(region, name string) string { return metadata.RegionalCaseSensitiveName(region, name) }

func busARN(s Scope) string { return awsid.ARN("events", s.Region, s.Account, "event-bus/"+DefaultBus) }
func ruleARN(s Scope, name string) string {
	return awsid.ARN("events", s.Region, s.Account, "rule/"+name)
}

// checkBus accepts the default event bus, by name or ARN (absent: the
// default); ecrd has no other.
func checkBus(s Scope, bus *string) error {
	if bus == nil || *bus == DefaultBus || *bus == busARN(s) {
		return nil
	}
	name := *bus
	if a, ok := awsid.Parse(name); ok {
		name = strings.TrimPrefix(a.Resource, "event-bus/")
	}
	return awserr.Errorf(CodeNotFound, "Event bus %s does not exist.", name)
}

// doc is what every stored document has: its revision.
type doc interface{ revision() int }

// load reads one document of a kind, or nil if there is none.
func load[T any](ctx context.Context, r metadata.Reader, scope Scope, kind, name string) (*T, error) {
	e, err := r.IAMEntity(ctx, scope.Account, kind, entityName(scope.Region, name))
	if errors.Is(err, metadata.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal(e.Document, v); err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", kind, name, err)
	}
	return v, nil
}

// list reads the documents of a kind in a scope's region.
func list[T any](ctx context.Context, r metadata.Reader, scope Scope, kind string) ([]*T, error) {
	es, err := r.IAMEntities(ctx, scope.Account, kind)
	if err != nil {
		return nil, err
	}
	var out []*T
	for _, e := range es {
		if !strings.HasPrefix(e.Name, scope.Region+"/") {
			continue
		}
		v := new(T)
		if err := json.Unmarshal(e.Document, v); err != nil {
			return nil, fmt.Errorf("reading %s %s: %w", kind, e.Name, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// staleError says that what a change was decided on changed before its
// transaction.
type staleError struct{ what string }

func (e *staleError) Error() string { return e.what + " changed while a change of it was being made" }

// write stores a document in a transaction, if the stored one is still
// at revision was (0: none may exist); nil deletes it.
func write[T doc](ctx context.Context, tx metadata.Tx, scope Scope, kind, name string, was int, v *T) error {
	cur, err := load[T](ctx, tx, scope, kind, name)
	if err != nil {
		return err
	}
	rev := 0
	if cur != nil {
		rev = (*cur).revision()
	}
	if rev != was {
		return &staleError{what: name}
	}
	en := entityName(scope.Region, name)
	if v == nil {
		return tx.DeleteIAMEntity(ctx, scope.Account, kind, en)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	e := metadata.IAMEntity{Account: scope.Account, Kind: kind, Name: en, Document: b}
	if cur == nil {
		return tx.CreateIAMEntity(ctx, e)
	}
	return tx.UpdateIAMEntity(ctx, e)
}

// decided runs op (read, authorize, compute, then a transaction that
// refuses a stale read) at most twice.
func decided[T any](op func() (T, error)) (T, error) {
	var stale *staleError
	for range 2 {
		v, err := op()
		if !errors.As(err, &stale) {
			return v, err
		}
	}
	var zero T
	return zero, awserr.Errorf(CodeConcurrentModification, "Another request changed %s while this request was changing it. Retry the request.", stale.what)
}

// call is a change's record: its action and the request parameters that
// say what changed (never a secret).
type call struct {
	action string
	params map[string]any
}

// update runs a change's transaction: fn writes and returns the
// record(s) of what it changed, appended to the outbox in the same
// transaction. Records are made before the transaction (their IDs are
// random); fn may run more than once.
func (s *Service) update(ctx context.Context, scope Scope, c call, resources []string, fn func(tx metadata.Tx) error) error {
	e, err := outbox.APICall(scope, s.now(), outbox.SourceEvents, outbox.Call{
		EventSource: eventsService, Action: c.action, Actor: identity.ActorOf(ctx, eventsService),
		Params: c.params, Resources: resources,
	})
	if err != nil {
		return err
	}
	return s.meta.Update(ctx, func(tx metadata.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, e)
	})
}

// authorize decides the caller's action on a resource of the scope's
// account, with tags as aws:ResourceTag and requestTags as aws:RequestTag.
func (s *Service) authorize(ctx context.Context, scope Scope, action, resource string, tags, requestTags []Tag) error {
	d, req, err := s.ids.Authorize(ctx, identity.Check{Action: action, Resource: resource, ResourceAccount: scope.Account,
		Keys: func(set func(k, v string)) {
			for _, t := range tags {
				set("aws:ResourceTag/"+t.Key, t.Value)
			}
			for _, t := range requestTags {
				set("aws:RequestTag/"+t.Key, t.Value)
				set("aws:TagKeys", t.Key)
			}
		}})
	if err != nil {
		return err
	}
	if !d.Allowed {
		return awserr.Errorf(CodeAccessDenied, "%s", s.ids.DenialMessage(d, req))
	}
	return nil
}

// Paging: a token is the last name (or ID) a page held.

const maxLimit = 100

func pageOf[T any](items []T, key func(T) string, token *string, limit *int) ([]T, string, error) {
	n := maxLimit
	if limit != nil {
		var c checks
		if c.number(*limit, "limit", 1, maxLimit); c.err() != nil {
			return nil, "", c.err()
		}
		n = *limit
	}
	start := 0
	if token != nil {
		after, ok := decodeToken(*token)
		if !ok {
			return nil, "", awserr.Errorf(CodeValidation, "The NextToken provided is not valid.")
		}
		for start < len(items) && key(items[start]) <= after {
			start++
		}
	}
	items = items[start:]
	if len(items) <= n {
		return items, "", nil
	}
	return items[:n], encodeToken(key(items[n-1])), nil
}
