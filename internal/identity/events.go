package identity

import (
	"context"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
)

// Every IAM change (users, groups, roles, managed policies and their
// versions, attachments, inline policies, permissions boundaries, OIDC
// providers, access keys, accounts, tags) appends its record to the
// outbox in its own transaction: an "AWS API Call via CloudTrail" record
// naming the IAM action, the parameters that say what changed (never a
// secret) and the ARN of the entity it changed. The bookkeeping of when
// an access key or a role was last used is not a change anyone follows,
// and STS changes nothing stored (sessions are self-verifying), so
// neither records anything.
//
// Every process follows the outbox (outbox.Follower) and hands each
// record to Changed, which drops what the process cached: a change made
// through one process binds every other within the follower's interval.
// The caches' lifetime (cacheTTL) is only a safety net.

const (
	iamService = "iam.amazonaws.com"
	// iamRegion is where IAM's records are kept: IAM is global, and
	// CloudTrail records its calls in us-east-1.
	iamRegion = "us-east-1"
)

// cacheTTL bounds how long a compiled grant, an access key's secret or a
// session's managed policies are used without reading the store again.
// The outbox is what binds other processes (Changed); this only bounds
// the damage of a record a process failed to follow.
const cacheTTL = time.Minute

// change is an IAM call that changes something: its action (as the
// authorization names it, iam:CreateUser) and the request parameters
// that say what changed, as IAM names them.
type change struct {
	action string
	params map[string]any
}

// act makes a change from its action and parameters as name, value
// pairs; parameters not given (empty strings and lists, zero numbers,
// nil) are left out, as a request leaves them out.
func act(action string, kv ...any) change {
	params := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		value := kv[i+1]
		switch v := value.(type) {
		case string:
			if v == "" {
				continue
			}
		case int:
			if v == 0 {
				continue
			}
		case []string:
			if len(v) == 0 {
				continue
			}
		case []Tag:
			if len(v) == 0 {
				continue
			}
			value = wireTags(v)
		case nil:
			continue
		}
		params[kv[i].(string)] = value
	}
	return change{action: action, params: params}
}

// with returns the change with one more parameter (a copy: a change's
// parameters are shared by every run of its transaction).
func (c change) with(name string, value any) change {
	params := make(map[string]any, len(c.params)+1)
	for k, v := range c.params {
		params[k] = v
	}
	params[name] = value
	return change{action: c.action, params: params}
}

// wireTags are tags as IAM's requests give them.
func wireTags(tags []Tag) []map[string]string {
	out := make([]map[string]string, len(tags))
	for i, t := range tags {
		out[i] = map[string]string{"key": t.Key, "value": t.Value}
	}
	return out
}

// update runs an IAM change in one transaction: fn makes it and returns
// the ARNs of what it changed, and the change's record, made by the
// request's caller, is appended to the outbox in the same transaction.
// Once it commits, this process drops what it cached (Changed), as every
// other process does when its follower reads the record. fn may run more
// than once: it must only read and write through tx.
func (s *Service) update(ctx context.Context, c change, fn func(tx metadata.Tx) ([]string, error)) error {
	actor := ActorOf(ctx, iamService)
	name := strings.TrimPrefix(c.action, "iam:")
	var e metadata.Event
	err := s.meta.Update(ctx, func(tx metadata.Tx) error {
		resources, err := fn(tx)
		if err != nil {
			return err
		}
		var account string
		if len(resources) > 0 {
			account = accountOfARN(resources[0])
		}
		e, err = outbox.APICall(metadata.Scope{Account: account, Region: iamRegion}, s.now(), outbox.SourceIAM, outbox.Call{
			EventSource: iamService, Action: name, Actor: actor, Params: c.params, Resources: resources,
		})
		if err != nil {
			return err
		}
		return tx.AppendEvent(ctx, e)
	})
	if err == nil {
		s.Changed(e)
	}
	return err
}

// Changed drops what this process cached that an IAM change may have
// changed. The outbox follower calls it for every event, whichever
// process recorded it; update calls it too once its own change commits.
//
// A change to a group or a managed policy reaches principals its record
// does not name (the group's members, whoever attaches the policy or
// uses it as a boundary or session policy), and IAM changes are rare: so
// any IAM change makes every compiled grant, cached access key secret and
// compiled session policy of this process stale at once (they carry the
// generation they were loaded at, which also catches a load that raced
// with the change), and each is read again on its next use.
func (s *Service) Changed(e metadata.Event) {
	if e.Source != outbox.SourceIAM {
		return
	}
	s.generation.Add(1)
	if strings.Contains(e.Resource, ":policy/") {
		// The compilations of the policy's versions (kept by the policy's
		// unique ID, so never stale: this only frees them).
		prefix := e.Resource + "#"
		s.managed.Range(func(k, _ any) bool {
			if strings.HasPrefix(k.(string), prefix) {
				s.managed.Delete(k)
			}
			return true
		})
	}
}
