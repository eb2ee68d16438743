package kms

import (
	"context"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
)

// Every KMS change (keys created, enabled or disabled, their policies,
// descriptions, tags and rotation, rotations, deletions scheduled,
// cancelled and done, aliases, grants) appends its record to the outbox
// in its own transaction: an "AWS API Call via CloudTrail" record naming
// the KMS action, the parameters that say what changed and the key's ARN
// (an alias's ARN, then its key's, for aliases). Plaintext, data keys,
// key material and grant tokens are never in a record.
//
// Every process follows the outbox (outbox.Follower) and hands each
// record to Changed, which drops what the process cached of the key: a
// change made through one process binds every other within the
// follower's interval. The cache's lifetime (cacheTTL) is only a safety
// net.

const kmsService = "kms.amazonaws.com"

// cacheTTL bounds how long a key's document is used without reading the
// store again. The outbox is what binds other processes (Changed); this
// only bounds the damage of a record a process failed to follow.
const cacheTTL = time.Minute

// call is a KMS call that changes something: its action (CreateKey...)
// and the request parameters that say what changed, as KMS names them.
type call struct {
	action string
	params map[string]any
	// byKMS marks a change KMS makes on its own (a scheduled rotation, a
	// key's deletion coming due), not the request's caller.
	byKMS bool
}

// record appends a change's record to the outbox, in the change's
// transaction, in the scope of the key it changed.
type record func(scope Scope, c call, resources ...string) error

// update runs a KMS change in one write transaction: fn makes it and
// records each change with rec, which appends the change's record to the
// outbox in the same transaction. Once it commits, this process drops
// what it cached of what changed (Changed), as every other process does
// when its follower reads the records. fn may run more than once: it must
// only read and write through tx.
func (s *Service) update(ctx context.Context, fn func(tx metadata.Tx, rec record) error) error {
	caller := identity.ActorOf(ctx, kmsService)
	var events []metadata.Event
	err := s.meta.Update(ctx, func(tx metadata.Tx) error {
		events = events[:0]
		return fn(tx, func(scope Scope, c call, resources ...string) error {
			actor := caller
			if c.byKMS {
				actor = outbox.Service(kmsService)
			}
			e, err := outbox.APICall(scope, s.now(), outbox.SourceKMS, outbox.Call{
				EventSource: kmsService, Action: c.action, Actor: actor, Params: c.params, Resources: resources,
			})
			if err != nil {
				return err
			}
			events = append(events, e)
			return tx.AppendEvent(ctx, e)
		})
	})
	if err == nil {
		for _, e := range events {
			s.Changed(e)
		}
	}
	return err
}

// Changed drops what this process cached of the key an outbox event
// changed: its document and its compiled key policy. The outbox follower
// calls it for every event, whichever process recorded it; update calls
// it too once its own change commits. An alias's change leaves its key
// as it was (aliases are read from the store). Key material never
// changes once made, and key IDs are never reused: the unsealed material
// stays.
func (s *Service) Changed(e metadata.Event) {
	if e.Source != outbox.SourceKMS || !strings.Contains(e.Resource, ":key/") {
		return
	}
	// First the generation, then the entry: a load that raced with the
	// change sees the new generation and does not keep what it read.
	s.generation.Add(1)
	s.docs.Delete(e.Resource)
	s.policies.Delete(e.Resource)
}

// cachedDoc is a key's document as read from the store, shared: never
// changed once cached.
type cachedDoc struct {
	doc    *keyDoc
	loaded time.Time
}

// readKey reads a key by scope and ID outside a transaction, from the
// process's cache when it has it. The document returned is shared: the
// caller must not change it (changes go through a transaction, which
// reads the key itself).
func (s *Service) readKey(ctx context.Context, scope Scope, id string) (*keyDoc, error) {
	arn := keyARN(scope, id)
	if v, ok := s.docs.Load(arn); ok {
		c := v.(cachedDoc)
		if time.Since(c.loaded) < cacheTTL {
			if s.deleted(&c.doc.Key) {
				return nil, notFoundKey(arn)
			}
			return c.doc, nil
		}
		s.docs.CompareAndDelete(arn, v)
	}
	return s.loadAndCache(ctx, scope, id)
}

// loadAndCache reads a key from the store and caches it, unless a change
// was followed while it read: then what it read may be older than the
// change, and the next read loads it again.
func (s *Service) loadAndCache(ctx context.Context, scope Scope, id string) (*keyDoc, error) {
	gen := s.generation.Load()
	d, err := s.loadKey(ctx, s.meta, scope, id)
	if err != nil {
		return nil, err
	}
	c := cachedDoc{doc: d, loaded: time.Now()}
	s.docs.Store(d.ARN, c)
	if s.generation.Load() != gen {
		s.docs.CompareAndDelete(d.ARN, c)
	}
	return d, nil
}

// readKeyVersion reads a key that must have a material version (a
// ciphertext's): one rotated through another process may be newer than
// the cached document, until the process follows the rotation.
func (s *Service) readKeyVersion(ctx context.Context, scope Scope, id string, version int) (*keyDoc, error) {
	d, err := s.readKey(ctx, scope, id)
	if err != nil || len(d.Materials) == 0 || d.Materials[len(d.Materials)-1].Version >= version {
		return d, err
	}
	s.docs.Delete(d.ARN)
	return s.loadAndCache(ctx, scope, id)
}

// onKey is a call on a key: its action, the key as the request named it,
// and more parameters as name, value pairs.
func onKey(action, keyRef string, kv ...any) call {
	params := map[string]any{"keyId": keyRef}
	for i := 0; i+1 < len(kv); i += 2 {
		params[kv[i].(string)] = kv[i+1]
	}
	return call{action: action, params: params}
}

// wireTags are tags as KMS's requests give them.
func wireTags(tags []Tag) []map[string]string {
	out := make([]map[string]string, len(tags))
	for i, t := range tags {
		out[i] = map[string]string{"tagKey": t.Key, "tagValue": t.Value}
	}
	return out
}
