package delivery

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
)

// DeadLetterKind is the metadata IAMEntity kind dead letters are kept
// under, in their rule's account.
const DeadLetterKind = "events-dead-letter"

// MaxRedrive is how many dead letters one Redrive takes.
const MaxRedrive = 100

// DeadLetter is an event a target gave up on.
type DeadLetter struct {
	// ID is its name: "<region>/<rule name>/<event ID>/<target ID>", the
	// event ID zero-padded so that a rule's dead letters list in event
	// order.
	ID      string          `json:"-"`
	Account string          `json:"-"`
	Rule    string          `json:"rule"` // the rule's ARN
	Region  string          `json:"region"`
	Target  string          `json:"target"`
	EventID int64           `json:"eventId"` // the outbox's ID
	Event   json.RawMessage `json:"event"`   // the envelope
	// Attempts counts the invocations made (0: the input could not be
	// made from the event).
	Attempts  int       `json:"attempts"`
	LastError string    `json:"lastError"`
	Time      time.Time `json:"time"` // when it was given up on (last)
}

func newDeadLetter(rule Rule, target string, ev metadata.Event, attempts int, err error, now time.Time) *DeadLetter {
	return &DeadLetter{
		ID:      DeadLetterID(rule.Scope.Region, rule.ARN, ev.ID, target),
		Account: rule.Scope.Account, Rule: rule.ARN, Region: rule.Scope.Region, Target: target,
		EventID: ev.ID, Event: json.RawMessage(ev.Document), Attempts: attempts, LastError: err.Error(), Time: now.UTC(),
	}
}

// DeadLetterID names a dead letter.
func DeadLetterID(region, ruleARN string, eventID int64, target string) string {
	return fmt.Sprintf("%s/%s/%020d/%s", region, RuleName(ruleARN), eventID, target)
}

func deadLetterEntities(dead []DeadLetter) ([]metadata.IAMEntity, error) {
	out := make([]metadata.IAMEntity, 0, len(dead))
	for _, d := range dead {
		doc, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		out = append(out, metadata.IAMEntity{Account: d.Account, Kind: DeadLetterKind, Name: d.ID, Document: doc})
	}
	return out, nil
}

// putEntity creates or replaces a dead letter (the same event given up on
// again, after a restart repeated it).
func putEntity(ctx context.Context, tx metadata.Tx, ent metadata.IAMEntity) error {
	err := tx.CreateIAMEntity(ctx, ent)
	if errors.Is(err, metadata.ErrExists) {
		err = tx.UpdateIAMEntity(ctx, ent)
	}
	return err
}

func parseDeadLetter(ent metadata.IAMEntity) (DeadLetter, error) {
	var d DeadLetter
	if err := json.Unmarshal(ent.Document, &d); err != nil {
		return d, fmt.Errorf("dead letter %s: %w", ent.Name, err)
	}
	d.ID, d.Account = ent.Name, ent.Account
	return d, nil
}

// DeadLetters lists a registry's dead letters (of one rule, if rule is
// not empty) in ID order, after the ID after, at most limit of them, and
// returns the ID to list after next ("" at the end).
func (e *Engine) DeadLetters(ctx context.Context, scope metadata.Scope, rule, after string, limit int) ([]DeadLetter, string, error) {
	ents, err := e.cfg.Store.IAMEntities(ctx, scope.Account, DeadLetterKind)
	if err != nil {
		return nil, "", err
	}
	var out []DeadLetter
	for _, ent := range ents {
		if !strings.HasPrefix(ent.Name, scope.Region+"/") || (after != "" && ent.Name <= after) {
			continue
		}
		d, err := parseDeadLetter(ent)
		if err != nil {
			return nil, "", err
		}
		if rule != "" && d.Rule != rule {
			continue
		}
		if len(out) == limit {
			return out, out[len(out)-1].ID, nil
		}
		out = append(out, d)
	}
	return out, "", nil
}

// RedriveResult is what became of one dead letter a Redrive was asked
// for.
type RedriveResult struct {
	ID string
	// Delivered: the target accepted the event, and the dead letter is
	// gone.
	Delivered bool
	// Error says why it was not delivered; the dead letter stays.
	Error string
}

// Redrive delivers a registry's dead letters now, once each, in event
// order; each one its target accepts is removed. A dead letter whose
// target failed is kept with the new error, and the later ones of the
// same target are not tried, so that the target still receives them in
// order. The targets' current definitions (endpoint, authorization,
// input) come from the Source.
func (e *Engine) Redrive(ctx context.Context, scope metadata.Scope, ids []string) ([]RedriveResult, error) {
	results := make([]RedriveResult, len(ids))
	var found []int
	letters := make([]DeadLetter, len(ids))
	for i, id := range ids {
		results[i].ID = id
		ent, err := e.cfg.Store.IAMEntity(ctx, scope.Account, DeadLetterKind, id)
		switch {
		case errors.Is(err, metadata.ErrNotFound) || (err == nil && !strings.HasPrefix(ent.Name, scope.Region+"/")):
			results[i].Error = "no such dead letter"
			continue
		case err != nil:
			return nil, err
		}
		if letters[i], err = parseDeadLetter(ent); err != nil {
			return nil, err
		}
		found = append(found, i)
	}
	if len(found) == 0 {
		return results, nil
	}
	rules, err := e.cfg.Source.DeliveryRules(ctx)
	if err != nil {
		return nil, err
	}
	byARN := map[string]Rule{}
	for _, r := range rules {
		byARN[r.ARN] = r
	}
	slices.SortStableFunc(found, func(a, b int) int {
		return cmp.Or(cmp.Compare(letters[a].EventID, letters[b].EventID), cmp.Compare(letters[a].ID, letters[b].ID))
	})
	failed := map[[2]string]bool{}
	done := map[string]bool{}
	for _, i := range found {
		d := letters[i]
		if done[d.ID] { // asked for twice
			results[i].Delivered = true
			continue
		}
		key := [2]string{d.Rule, d.Target}
		if failed[key] {
			results[i].Error = "not tried: an earlier dead letter of the same target failed"
			continue
		}
		err := e.redriveOne(ctx, byARN, d)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			failed[key] = true
			results[i].Error = err.Error()
			d.Attempts++
			d.LastError, d.Time = err.Error(), e.cfg.Now().UTC()
			ents, _ := deadLetterEntities([]DeadLetter{d})
			if err := e.cfg.Store.Update(ctx, func(tx metadata.Tx) error {
				err := tx.UpdateIAMEntity(ctx, ents[0])
				if errors.Is(err, metadata.ErrNotFound) { // redriven meanwhile
					err = nil
				}
				return err
			}); err != nil {
				return nil, err
			}
			continue
		}
		if err := e.cfg.Store.Update(ctx, func(tx metadata.Tx) error {
			err := tx.DeleteIAMEntity(ctx, d.Account, DeadLetterKind, d.ID)
			if errors.Is(err, metadata.ErrNotFound) {
				err = nil
			}
			return err
		}); err != nil {
			return nil, err
		}
		results[i].Delivered = true
		done[d.ID] = true
	}
	return results, nil
}

func (e *Engine) redriveOne(ctx context.Context, rules map[string]Rule, d DeadLetter) error {
	rule, ok := rules[d.Rule]
	if !ok {
		return errors.New("the rule no longer exists or is disabled")
	}
	i := slices.IndexFunc(rule.Targets, func(t Target) bool { return t.ID == d.Target })
	if i < 0 {
		return errors.New("the rule no longer has this target")
	}
	ev := metadata.Event{ID: d.EventID, Scope: rule.Scope, Document: d.Event}
	var env struct {
		Time time.Time `json:"time"`
	}
	if json.Unmarshal(d.Event, &env) == nil {
		ev.Time = env.Time
	}
	payload, err := Payload(rule, rule.Targets[i], ev)
	if err != nil {
		return err
	}
	return e.invoke(ctx, rule.Targets[i], payload)
}
