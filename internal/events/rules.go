package events

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/eventpattern"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Rule states.
const (
	StateEnabled    = "ENABLED"
	StateDisabled   = "DISABLED"
	StateEnabledAll = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
)

// Rule is a rule of a default event bus, with its targets and tags.
type Rule struct {
	Rev                int       `json:"rev"`
	Name               string    `json:"name"`
	ARN                string    `json:"arn"`
	Account            string    `json:"account"`
	Region             string    `json:"region"`
	Description        string    `json:"description,omitempty"`
	EventPattern       string    `json:"pattern,omitempty"`
	ScheduleExpression string    `json:"schedule,omitempty"`
	RoleARN            string    `json:"role,omitempty"`
	State              string    `json:"state"`
	Created            time.Time `json:"created"`
	// Changed is when the rule was last written (its pattern, state or
	// targets): delivery starts a rule it has not seen at the events
	// recorded from then on.
	Changed time.Time `json:"changed,omitzero"`
	Tags    []Tag     `json:"tags,omitempty"`
	Targets []Target  `json:"targets,omitempty"`
}

func (r Rule) revision() int { return r.Rev }

// Enabled reports whether the rule matches events.
func (r *Rule) Enabled() bool { return r.State == StateEnabled || r.State == StateEnabledAll }

// Target is a rule's target, as PutTargets gave it.
type Target struct {
	ID               string            `json:"id"`
	ARN              string            `json:"arn"`
	RoleARN          string            `json:"role,omitempty"`
	Input            *string           `json:"input,omitempty"`
	InputPath        string            `json:"inputPath,omitempty"`
	InputTransformer *InputTransformer `json:"transformer,omitempty"`
	RetryPolicy      *RetryPolicy      `json:"retry,omitempty"`
	DeadLetterConfig *DeadLetterConfig `json:"deadLetter,omitempty"`
	HTTPParameters   *HTTPParameters   `json:"http,omitempty"`
}

// InputTransformer is a target's input transformer.
type InputTransformer struct {
	PathsMap map[string]string `json:"paths,omitempty"`
	Template string            `json:"template"`
}

// RetryPolicy is a target's retry policy; nil members take EventBridge's
// defaults (185 attempts, 24 hours).
type RetryPolicy struct {
	MaximumEventAgeInSeconds *int `json:"maxAge,omitempty"`
	MaximumRetryAttempts     *int `json:"maxAttempts,omitempty"`
}

// DeadLetterConfig is a target's dead-letter queue (stored, not used).
type DeadLetterConfig struct {
	ARN string `json:"arn,omitempty"`
}

// HTTPParameters are what a target adds to the request an API
// destination makes.
type HTTPParameters struct {
	HeaderParameters      map[string]string `json:"headers,omitempty"`
	PathParameterValues   []string          `json:"path,omitempty"`
	QueryStringParameters map[string]string `json:"query,omitempty"`
}

func ruleNotFound(name string) error {
	return awserr.Errorf(CodeNotFound, "Rule %s does not exist on EventBus %s.", name, DefaultBus)
}

// readRule reads a rule outside a transaction, or answers that there is
// none.
func (s *Service) readRule(ctx context.Context, scope Scope, bus *string, name string) (*Rule, error) {
	if err := checkBus(scope, bus); err != nil {
		return nil, err
	}
	r, err := load[Rule](ctx, s.meta, scope, metadata.EventRule, name)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, ruleNotFound(name)
	}
	return r, nil
}

// PutRuleInput is PutRule's request.
type PutRuleInput struct {
	Name               string
	EventBusName       *string
	Description        *string
	EventPattern       *string
	ScheduleExpression *string
	RoleARN            *string
	State              string
	Tags               []Tag
}

// PutRule creates a rule of the default event bus, or replaces an
// existing one's pattern, description, role and state (its targets and
// tags stay; a State left out keeps the rule's). It returns the rule's
// ARN. A ScheduleExpression is refused: ecrd runs no schedules.
func (s *Service) PutRule(ctx context.Context, scope Scope, in PutRuleInput) (string, error) {
	var c checks
	c.name(in.Name, "name")
	if in.Description != nil {
		c.length(*in.Description, "description", 0, maxDescriptionLength)
	}
	if in.EventPattern != nil {
		c.length(*in.EventPattern, "eventPattern", 0, maxPatternLength)
	}
	if in.RoleARN != nil {
		c.length(*in.RoleARN, "roleArn", 1, 1600)
	}
	if in.State != "" {
		c.enum(in.State, "state", StateEnabled, StateDisabled, StateEnabledAll)
	}
	c.tags(in.Tags, "tags")
	if err := c.err(); err != nil {
		return "", err
	}
	if err := checkBus(scope, in.EventBusName); err != nil {
		return "", err
	}
	pattern := deref(in.EventPattern)
	schedule := deref(in.ScheduleExpression)
	if pattern == "" && schedule == "" {
		return "", awserr.Errorf(CodeValidation, "Parameter(s) EventPattern or ScheduleExpression must be specified.")
	}
	if schedule != "" {
		return "", awserr.Errorf(CodeValidation, "Parameter ScheduleExpression is not valid. Reason: ecrd does not run scheduled rules; give an EventPattern instead.")
	}
	if _, err := eventpattern.Compile(pattern); err != nil {
		var pe *eventpattern.Error
		if errors.As(err, &pe) {
			return "", awserr.Errorf(CodeInvalidEventPattern, "%s", pe.Error())
		}
		return "", err
	}
	arn := ruleARN(scope, in.Name)
	return decided(func() (string, error) {
		cur, err := load[Rule](ctx, s.meta, scope, metadata.EventRule, in.Name)
		if err != nil {
			return "", err
		}
		var r Rule
		was := 0
		if cur != nil {
			r, was = *cur, cur.Rev
			if err := s.authorize(ctx, scope, "events:PutRule", arn, r.Tags, in.Tags); err != nil {
				return "", err
			}
		} else {
			if err := s.authorize(ctx, scope, "events:PutRule", arn, nil, in.Tags); err != nil {
				return "", err
			}
			rules, err := list[Rule](ctx, s.meta, scope, metadata.EventRule)
			if err != nil {
				return "", err
			}
			if len(rules) >= maxRulesPerBus {
				return "", limitExceeded()
			}
			r = Rule{Name: in.Name, ARN: arn, Account: scope.Account, Region: scope.Region, State: StateEnabled,
				Created: s.now().UTC(), Tags: slices.Clone(in.Tags)}
		}
		r.Rev, r.Changed = was+1, s.now().UTC()
		r.Description, r.EventPattern, r.RoleARN = deref(in.Description), pattern, deref(in.RoleARN)
		if in.State != "" {
			r.State = in.State
		}
		params := map[string]any{"name": in.Name, "eventPattern": pattern, "state": r.State, "eventBusName": DefaultBus}
		if r.Description != "" {
			params["description"] = r.Description
		}
		return arn, s.update(ctx, scope, call{"PutRule", params}, []string{arn}, func(tx metadata.Tx) error {
			return write(ctx, tx, scope, metadata.EventRule, in.Name, was, &r)
		})
	})
}

// DescribeRule returns a rule.
func (s *Service) DescribeRule(ctx context.Context, scope Scope, bus *string, name string) (*Rule, error) {
	var c checks
	if c.name(name, "name"); c.err() != nil {
		return nil, c.err()
	}
	r, err := s.readRule(ctx, scope, bus, name)
	if err != nil {
		return nil, err
	}
	return r, s.authorize(ctx, scope, "events:DescribeRule", r.ARN, r.Tags, nil)
}

// ListRules lists the rules of the default event bus whose names start
// with prefix, in name order, a page at a time.
func (s *Service) ListRules(ctx context.Context, scope Scope, bus *string, prefix string, token *string, limit *int) ([]*Rule, string, error) {
	if err := checkBus(scope, bus); err != nil {
		return nil, "", err
	}
	if err := s.authorize(ctx, scope, "events:ListRules", awsid.ARN("events", scope.Region, scope.Account, "rule/*"), nil, nil); err != nil {
		return nil, "", err
	}
	rules, err := s.rules(ctx, scope)
	if err != nil {
		return nil, "", err
	}
	rules = slices.DeleteFunc(rules, func(r *Rule) bool { return !strings.HasPrefix(r.Name, prefix) })
	return pageOf(rules, func(r *Rule) string { return r.Name }, token, limit)
}

// rules reads a scope's rules in name order (case-sensitive).
func (s *Service) rules(ctx context.Context, scope Scope) ([]*Rule, error) {
	rules, err := list[Rule](ctx, s.meta, scope, metadata.EventRule)
	slices.SortFunc(rules, func(a, b *Rule) int { return strings.Compare(a.Name, b.Name) })
	return rules, err
}

// DeleteRule deletes a rule that has no targets. A rule that does not
// exist is already deleted: EventBridge answers success.
func (s *Service) DeleteRule(ctx context.Context, scope Scope, bus *string, name string) error {
	var c checks
	if c.name(name, "name"); c.err() != nil {
		return c.err()
	}
	_, err := decided(func() (struct{}, error) {
		r, err := s.readRule(ctx, scope, bus, name)
		if awserr.Code(err) == CodeNotFound && checkBus(scope, bus) == nil {
			return struct{}{}, s.authorize(ctx, scope, "events:DeleteRule", ruleARN(scope, name), nil, nil)
		}
		if err != nil {
			return struct{}{}, err
		}
		if err := s.authorize(ctx, scope, "events:DeleteRule", r.ARN, r.Tags, nil); err != nil {
			return struct{}{}, err
		}
		if len(r.Targets) > 0 {
			return struct{}{}, awserr.Errorf(CodeValidation, "Rule can't be deleted since it has targets.")
		}
		return struct{}{}, s.update(ctx, scope, call{"DeleteRule", map[string]any{"name": name, "eventBusName": DefaultBus}}, []string{r.ARN},
			func(tx metadata.Tx) error { return write[Rule](ctx, tx, scope, metadata.EventRule, name, r.Rev, nil) })
	})
	return err
}

// SetRuleState enables (EnableRule) or disables (DisableRule) a rule.
func (s *Service) SetRuleState(ctx context.Context, scope Scope, bus *string, name string, enabled bool) error {
	var c checks
	if c.name(name, "name"); c.err() != nil {
		return c.err()
	}
	action, state := "EnableRule", StateEnabled
	if !enabled {
		action, state = "DisableRule", StateDisabled
	}
	_, err := s.changeRule(ctx, scope, bus, name, action, map[string]any{"name": name, "eventBusName": DefaultBus}, func(r *Rule) error {
		if enabled && r.State == StateEnabledAll {
			return nil
		}
		r.State = state
		return nil
	})
	return err
}

// changeRule reads a rule, authorizes action on it, lets change alter a
// copy, and writes the copy with its record.
func (s *Service) changeRule(ctx context.Context, scope Scope, bus *string, name, action string, params map[string]any, change func(*Rule) error) (*Rule, error) {
	return decided(func() (*Rule, error) {
		r, err := s.readRule(ctx, scope, bus, name)
		if err != nil {
			return nil, err
		}
		if err := s.authorize(ctx, scope, "events:"+action, r.ARN, r.Tags, nil); err != nil {
			return nil, err
		}
		was := r.Rev
		if err := change(r); err != nil {
			return nil, err
		}
		r.Rev, r.Changed = was+1, s.now().UTC()
		return r, s.update(ctx, scope, call{action, params}, []string{r.ARN}, func(tx metadata.Tx) error {
			return write(ctx, tx, scope, metadata.EventRule, name, was, r)
		})
	})
}

// FailedEntry is a target PutTargets or RemoveTargets did not change,
// and why.
type FailedEntry struct {
	TargetID, ErrorCode, ErrorMessage string
}

// PutTargets adds targets to a rule, or replaces those with the same IDs.
// A target must be an API destination of the rule's account and region
// that exists; any other is a failed entry, and the others are still
// put.
func (s *Service) PutTargets(ctx context.Context, scope Scope, bus *string, rule string, targets []Target) ([]FailedEntry, error) {
	var c checks
	c.name(rule, "rule")
	if len(targets) < 1 || len(targets) > 10 {
		c.lengthOf(nil, len(targets), "targets", 1, 10)
	}
	for i, t := range targets {
		m := fmt.Sprintf("targets.%d.member.", i+1)
		c.length(t.ID, m+"id", 1, 64)
		if t.ID != "" {
			c.pattern(t.ID, m+"id", targetIDPattern)
		}
		c.length(t.ARN, m+"arn", 1, 1600)
		if t.Input != nil {
			c.length(*t.Input, m+"input", 0, 8192)
		}
		c.length(t.InputPath, m+"inputPath", 0, 256)
		if t.RoleARN != "" {
			c.length(t.RoleARN, m+"roleArn", 1, 1600)
		}
		if it := t.InputTransformer; it != nil {
			c.length(it.Template, m+"inputTransformer.inputTemplate", 1, 8192)
			if len(it.PathsMap) > 100 {
				c.lengthOf(nil, len(it.PathsMap), m+"inputTransformer.inputPathsMap", 0, 100)
			}
			for k, v := range it.PathsMap {
				c.length(k, m+"inputTransformer.inputPathsMap.key", 1, 256)
				if k != "" {
					c.pattern(k, m+"inputTransformer.inputPathsMap.key", pathKeyPattern)
				}
				c.length(v, m+"inputTransformer.inputPathsMap.value", 0, 256)
			}
		}
		if rp := t.RetryPolicy; rp != nil {
			if rp.MaximumRetryAttempts != nil {
				c.number(*rp.MaximumRetryAttempts, m+"retryPolicy.maximumRetryAttempts", 0, 185)
			}
			if rp.MaximumEventAgeInSeconds != nil {
				c.number(*rp.MaximumEventAgeInSeconds, m+"retryPolicy.maximumEventAgeInSeconds", 60, 86400)
			}
		}
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	for _, t := range targets {
		n := 0
		if t.Input != nil {
			n++
		}
		if t.InputPath != "" {
			n++
		}
		if t.InputTransformer != nil {
			n++
		}
		if n > 1 {
			return nil, awserr.Errorf(CodeValidation, "Only one of Input, InputPath, or InputTransformer must be provided.")
		}
	}
	dests, err := list[APIDestination](ctx, s.meta, scope, metadata.EventAPIDestination)
	if err != nil {
		return nil, err
	}
	var failed []FailedEntry
	var good []Target
	for _, t := range targets {
		if msg := targetProblem(scope, t.ARN, dests); msg != "" {
			failed = append(failed, FailedEntry{TargetID: t.ID, ErrorCode: CodeValidation, ErrorMessage: msg})
			continue
		}
		good = append(good, t)
	}
	if len(good) == 0 {
		return failed, nil
	}
	ids := make([]string, len(good))
	for i, t := range good {
		ids[i] = t.ID
	}
	_, err = s.changeRule(ctx, scope, bus, rule, "PutTargets", map[string]any{"rule": rule, "eventBusName": DefaultBus, "targets": ids}, func(r *Rule) error {
		for _, t := range good {
			if i := slices.IndexFunc(r.Targets, func(x Target) bool { return x.ID == t.ID }); i >= 0 {
				r.Targets[i] = t
			} else {
				r.Targets = append(r.Targets, t)
			}
		}
		if len(r.Targets) > maxTargetsPerRule {
			return limitExceeded()
		}
		slices.SortFunc(r.Targets, func(a, b Target) int { return strings.Compare(a.ID, b.ID) })
		return nil
	})
	return failed, err
}

// targetProblem says why an ARN cannot be a target here ("" if it can).
func targetProblem(scope Scope, arn string, dests []*APIDestination) string {
	a, ok := awsid.Parse(arn)
	if !ok || a.Service != "events" || !strings.HasPrefix(a.Resource, "api-destination/") {
		return fmt.Sprintf("Target %s is not supported: ecrd delivers events only to API destinations (arn:aws:events:%s:%s:api-destination/...).", arn, scope.Region, scope.Account)
	}
	if a.Region != scope.Region || a.AccountID != scope.Account {
		return fmt.Sprintf("Target %s is not supported: an API destination target must be of the rule's account %s and region %s.", arn, scope.Account, scope.Region)
	}
	for _, d := range dests {
		if d.ARN == arn {
			return ""
		}
	}
	return fmt.Sprintf("API destination %s does not exist.", arn)
}

// RemoveTargets removes targets from a rule by ID; an ID the rule does
// not have is already removed.
func (s *Service) RemoveTargets(ctx context.Context, scope Scope, bus *string, rule string, ids []string) ([]FailedEntry, error) {
	var c checks
	c.name(rule, "rule")
	if len(ids) < 1 || len(ids) > 100 {
		c.lengthOf(nil, len(ids), "ids", 1, 100)
	}
	for i, id := range ids {
		c.length(id, fmt.Sprintf("ids.%d.member", i+1), 1, 64)
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	_, err := s.changeRule(ctx, scope, bus, rule, "RemoveTargets", map[string]any{"rule": rule, "eventBusName": DefaultBus, "ids": ids}, func(r *Rule) error {
		r.Targets = slices.DeleteFunc(r.Targets, func(t Target) bool { return slices.Contains(ids, t.ID) })
		return nil
	})
	return nil, err
}

// ListTargetsByRule lists a rule's targets in ID order, a page at a time.
func (s *Service) ListTargetsByRule(ctx context.Context, scope Scope, bus *string, rule string, token *string, limit *int) ([]Target, string, error) {
	var c checks
	if c.name(rule, "rule"); c.err() != nil {
		return nil, "", c.err()
	}
	r, err := s.readRule(ctx, scope, bus, rule)
	if err != nil {
		return nil, "", err
	}
	if err := s.authorize(ctx, scope, "events:ListTargetsByRule", r.ARN, r.Tags, nil); err != nil {
		return nil, "", err
	}
	return pageOf(r.Targets, func(t Target) string { return t.ID }, token, limit)
}

// ListRuleNamesByTarget lists the names of the rules that have a target
// of ARN arn, in name order, a page at a time.
func (s *Service) ListRuleNamesByTarget(ctx context.Context, scope Scope, bus *string, arn string, token *string, limit *int) ([]string, string, error) {
	var c checks
	if c.length(arn, "targetArn", 1, 1600); c.err() != nil {
		return nil, "", c.err()
	}
	if err := checkBus(scope, bus); err != nil {
		return nil, "", err
	}
	if err := s.authorize(ctx, scope, "events:ListRuleNamesByTarget", awsid.ARN("events", scope.Region, scope.Account, "rule/*"), nil, nil); err != nil {
		return nil, "", err
	}
	rules, err := s.rules(ctx, scope)
	if err != nil {
		return nil, "", err
	}
	var names []string
	for _, r := range rules {
		if slices.ContainsFunc(r.Targets, func(t Target) bool { return t.ARN == arn }) {
			names = append(names, r.Name)
		}
	}
	return pageOf(names, func(n string) string { return n }, token, limit)
}

// ruleOfARN finds the rule an ARN names, for the tagging operations.
func (s *Service) ruleOfARN(ctx context.Context, scope Scope, arn string) (string, error) {
	var c checks
	if c.length(arn, "resourceARN", 1, 1600); c.err() != nil {
		return "", c.err()
	}
	a, ok := awsid.Parse(arn)
	if !ok || a.Service != "events" {
		return "", awserr.Errorf(CodeValidation, "Parameter ResourceARN is not valid. Reason: %s is not an EventBridge ARN.", arn)
	}
	name, ok := strings.CutPrefix(a.Resource, "rule/")
	if !ok {
		return "", awserr.Errorf(CodeValidation, "Parameter ResourceARN is not valid. Reason: ecrd tags only rules.")
	}
	if bus, rule, nested := strings.Cut(name, "/"); nested {
		return "", awserr.Errorf(CodeNotFound, "Rule %s does not exist on EventBus %s.", rule, bus)
	}
	if a.Region != scope.Region || a.AccountID != scope.Account {
		return "", ruleNotFound(name)
	}
	return name, nil
}

// TagResource adds tags to a rule, or changes their values.
func (s *Service) TagResource(ctx context.Context, scope Scope, arn string, tags []Tag) error {
	name, err := s.ruleOfARN(ctx, scope, arn)
	if err != nil {
		return err
	}
	var c checks
	if c.tags(tags, "tags"); c.err() != nil {
		return c.err()
	}
	keys := make([]string, len(tags))
	for i, t := range tags {
		keys[i] = t.Key
	}
	_, err = s.changeRule(ctx, scope, nil, name, "TagResource", map[string]any{"resourceARN": arn, "tagKeys": keys}, func(r *Rule) error {
		for _, t := range tags {
			if i := slices.IndexFunc(r.Tags, func(x Tag) bool { return x.Key == t.Key }); i >= 0 {
				r.Tags[i] = t
			} else {
				r.Tags = append(r.Tags, t)
			}
		}
		if len(r.Tags) > maxTags {
			return limitExceeded()
		}
		return nil
	})
	return err
}

// UntagResource removes tags from a rule by key.
func (s *Service) UntagResource(ctx context.Context, scope Scope, arn string, keys []string) error {
	name, err := s.ruleOfARN(ctx, scope, arn)
	if err != nil {
		return err
	}
	_, err = s.changeRule(ctx, scope, nil, name, "UntagResource", map[string]any{"resourceARN": arn, "tagKeys": keys}, func(r *Rule) error {
		r.Tags = slices.DeleteFunc(r.Tags, func(t Tag) bool { return slices.Contains(keys, t.Key) })
		return nil
	})
	return err
}

// ListTagsForResource returns a rule's tags.
func (s *Service) ListTagsForResource(ctx context.Context, scope Scope, arn string) ([]Tag, error) {
	name, err := s.ruleOfARN(ctx, scope, arn)
	if err != nil {
		return nil, err
	}
	r, err := s.readRule(ctx, scope, nil, name)
	if err != nil {
		return nil, err
	}
	return r.Tags, s.authorize(ctx, scope, "events:ListTagsForResource", r.ARN, r.Tags, nil)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
