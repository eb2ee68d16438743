package eventbridge

// The operations: request and response shapes after the EventBridge model
// (eventbridge-2015-10-07), member names letter for letter. Inputs hold
// pointers so that an absent member differs from an empty one.

import (
	"context"
	"strings"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	core "github.com/ecrd/ecrd/internal/events"
)

type empty struct{}

type tag struct {
	Key   *string `json:"Key"`
	Value *string `json:"Value"`
}

type tagOut struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func tagsIn(in []tag, list string, req *awsjson.Required) []core.Tag {
	out := make([]core.Tag, len(in))
	for i, t := range in {
		req.Check(t.Key == nil, awsjson.MemberPath(list, i)+".key")
		req.Check(t.Value == nil, awsjson.MemberPath(list, i)+".value")
		out[i] = core.Tag{Key: deref(t.Key), Value: deref(t.Value)}
	}
	return out
}

// Rules.

type putRuleInput struct {
	Name               *string `json:"Name"`
	Description        *string `json:"Description"`
	EventBusName       *string `json:"EventBusName"`
	EventPattern       *string `json:"EventPattern"`
	RoleArn            *string `json:"RoleArn"`
	ScheduleExpression *string `json:"ScheduleExpression"`
	State              *string `json:"State"`
	Tags               []tag   `json:"Tags"`
}

type putRuleOutput struct {
	RuleArn string `json:"RuleArn"`
}

func (h *Handler) putRule(ctx context.Context, s core.Scope, in *putRuleInput) (*putRuleOutput, error) {
	var req awsjson.Required
	req.Check(in.Name == nil, "name")
	tags := tagsIn(in.Tags, "tags", &req)
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	arn, err := h.svc.PutRule(ctx, s, core.PutRuleInput{Name: *in.Name, EventBusName: in.EventBusName, Description: in.Description,
		EventPattern: in.EventPattern, ScheduleExpression: in.ScheduleExpression, RoleARN: in.RoleArn, State: deref(in.State), Tags: tags})
	if err != nil {
		return nil, err
	}
	return &putRuleOutput{RuleArn: arn}, nil
}

type ruleInput struct {
	Name         *string `json:"Name"`
	EventBusName *string `json:"EventBusName"`
	Force        bool    `json:"Force"`
}

func (in *ruleInput) name() (string, error) {
	var req awsjson.Required
	req.Check(in.Name == nil, "name")
	return deref(in.Name), req.Err(core.CodeValidation)
}

type ruleOut struct {
	Arn                string  `json:"Arn"`
	Name               string  `json:"Name"`
	EventBusName       string  `json:"EventBusName"`
	Description        *string `json:"Description,omitempty"`
	EventPattern       *string `json:"EventPattern,omitempty"`
	RoleArn            *string `json:"RoleArn,omitempty"`
	ScheduleExpression *string `json:"ScheduleExpression,omitempty"`
	State              string  `json:"State"`
	CreatedBy          string  `json:"CreatedBy,omitempty"`
}

func ruleOf(r *core.Rule) ruleOut {
	return ruleOut{Arn: r.ARN, Name: r.Name, EventBusName: core.DefaultBus, Description: strp(r.Description),
		EventPattern: strp(r.EventPattern), RoleArn: strp(r.RoleARN), ScheduleExpression: strp(r.ScheduleExpression), State: r.State}
}

func (h *Handler) describeRule(ctx context.Context, s core.Scope, in *ruleInput) (*ruleOut, error) {
	name, err := in.name()
	if err != nil {
		return nil, err
	}
	r, err := h.svc.DescribeRule(ctx, s, in.EventBusName, name)
	if err != nil {
		return nil, err
	}
	out := ruleOf(r)
	out.CreatedBy = r.Account
	return &out, nil
}

type listRulesInput struct {
	EventBusName *string `json:"EventBusName"`
	NamePrefix   *string `json:"NamePrefix"`
	NextToken    *string `json:"NextToken"`
	Limit        *int32  `json:"Limit"`
}

type listRulesOutput struct {
	Rules     []ruleOut `json:"Rules"`
	NextToken string    `json:"NextToken,omitempty"`
}

func (h *Handler) listRules(ctx context.Context, s core.Scope, in *listRulesInput) (*listRulesOutput, error) {
	rules, next, err := h.svc.ListRules(ctx, s, in.EventBusName, deref(in.NamePrefix), in.NextToken, intp(in.Limit))
	if err != nil {
		return nil, err
	}
	out := &listRulesOutput{Rules: []ruleOut{}, NextToken: next}
	for _, r := range rules {
		out.Rules = append(out.Rules, ruleOf(r))
	}
	return out, nil
}

func (h *Handler) deleteRule(ctx context.Context, s core.Scope, in *ruleInput) (*empty, error) {
	name, err := in.name()
	if err != nil {
		return nil, err
	}
	return &empty{}, h.svc.DeleteRule(ctx, s, in.EventBusName, name)
}

func (h *Handler) enableRule(ctx context.Context, s core.Scope, in *ruleInput) (*empty, error) {
	name, err := in.name()
	if err != nil {
		return nil, err
	}
	return &empty{}, h.svc.SetRuleState(ctx, s, in.EventBusName, name, true)
}

func (h *Handler) disableRule(ctx context.Context, s core.Scope, in *ruleInput) (*empty, error) {
	name, err := in.name()
	if err != nil {
		return nil, err
	}
	return &empty{}, h.svc.SetRuleState(ctx, s, in.EventBusName, name, false)
}

// Targets.

type retryPolicy struct {
	MaximumEventAgeInSeconds *int32 `json:"MaximumEventAgeInSeconds,omitempty"`
	MaximumRetryAttempts     *int32 `json:"MaximumRetryAttempts,omitempty"`
}

type inputTransformer struct {
	InputPathsMap map[string]string `json:"InputPathsMap,omitempty"`
	InputTemplate *string           `json:"InputTemplate"`
}

type deadLetterConfig struct {
	Arn *string `json:"Arn,omitempty"`
}

type httpParameters struct {
	HeaderParameters      map[string]string `json:"HeaderParameters,omitempty"`
	PathParameterValues   []string          `json:"PathParameterValues,omitempty"`
	QueryStringParameters map[string]string `json:"QueryStringParameters,omitempty"`
}

// target is Target. The parameters of target types other than API
// destinations are read only to be refused.
type target struct {
	Id               *string           `json:"Id"`
	Arn              *string           `json:"Arn"`
	RoleArn          *string           `json:"RoleArn,omitempty"`
	Input            *string           `json:"Input,omitempty"`
	InputPath        *string           `json:"InputPath,omitempty"`
	InputTransformer *inputTransformer `json:"InputTransformer,omitempty"`
	RetryPolicy      *retryPolicy      `json:"RetryPolicy,omitempty"`
	DeadLetterConfig *deadLetterConfig `json:"DeadLetterConfig,omitempty"`
	HttpParameters   *httpParameters   `json:"HttpParameters,omitempty"`

	AppSyncParameters           *struct{} `json:"AppSyncParameters,omitempty"`
	BatchParameters             *struct{} `json:"BatchParameters,omitempty"`
	EcsParameters               *struct{} `json:"EcsParameters,omitempty"`
	KinesisParameters           *struct{} `json:"KinesisParameters,omitempty"`
	RedshiftDataParameters      *struct{} `json:"RedshiftDataParameters,omitempty"`
	RunCommandParameters        *struct{} `json:"RunCommandParameters,omitempty"`
	SageMakerPipelineParameters *struct{} `json:"SageMakerPipelineParameters,omitempty"`
	SqsParameters               *struct{} `json:"SqsParameters,omitempty"`
}

// other names a parameter set of another target type, if the target has
// one.
func (t *target) other() string {
	for name, set := range map[string]bool{"AppSyncParameters": t.AppSyncParameters != nil, "BatchParameters": t.BatchParameters != nil,
		"EcsParameters": t.EcsParameters != nil, "KinesisParameters": t.KinesisParameters != nil,
		"RedshiftDataParameters": t.RedshiftDataParameters != nil, "RunCommandParameters": t.RunCommandParameters != nil,
		"SageMakerPipelineParameters": t.SageMakerPipelineParameters != nil, "SqsParameters": t.SqsParameters != nil} {
		if set {
			return name
		}
	}
	return ""
}

func targetIn(t target, i int, req *awsjson.Required) core.Target {
	m := awsjson.MemberPath("targets", i)
	req.Check(t.Id == nil, m+".id")
	req.Check(t.Arn == nil, m+".arn")
	out := core.Target{ID: deref(t.Id), ARN: deref(t.Arn), RoleARN: deref(t.RoleArn), Input: t.Input, InputPath: deref(t.InputPath)}
	if it := t.InputTransformer; it != nil {
		req.Check(it.InputTemplate == nil, m+".inputTransformer.inputTemplate")
		out.InputTransformer = &core.InputTransformer{PathsMap: it.InputPathsMap, Template: deref(it.InputTemplate)}
	}
	if rp := t.RetryPolicy; rp != nil {
		out.RetryPolicy = &core.RetryPolicy{MaximumEventAgeInSeconds: intp(rp.MaximumEventAgeInSeconds), MaximumRetryAttempts: intp(rp.MaximumRetryAttempts)}
	}
	if d := t.DeadLetterConfig; d != nil {
		out.DeadLetterConfig = &core.DeadLetterConfig{ARN: deref(d.Arn)}
	}
	if p := t.HttpParameters; p != nil {
		out.HTTPParameters = &core.HTTPParameters{HeaderParameters: p.HeaderParameters, PathParameterValues: p.PathParameterValues, QueryStringParameters: p.QueryStringParameters}
	}
	return out
}

func targetOut(t core.Target) target {
	out := target{Id: &t.ID, Arn: &t.ARN, RoleArn: strp(t.RoleARN), Input: t.Input, InputPath: strp(t.InputPath)}
	if it := t.InputTransformer; it != nil {
		out.InputTransformer = &inputTransformer{InputPathsMap: it.PathsMap, InputTemplate: &it.Template}
	}
	if rp := t.RetryPolicy; rp != nil {
		out.RetryPolicy = &retryPolicy{}
		if rp.MaximumEventAgeInSeconds != nil {
			out.RetryPolicy.MaximumEventAgeInSeconds = int32p(*rp.MaximumEventAgeInSeconds)
		}
		if rp.MaximumRetryAttempts != nil {
			out.RetryPolicy.MaximumRetryAttempts = int32p(*rp.MaximumRetryAttempts)
		}
	}
	if d := t.DeadLetterConfig; d != nil {
		out.DeadLetterConfig = &deadLetterConfig{Arn: strp(d.ARN)}
	}
	if p := t.HTTPParameters; p != nil {
		out.HttpParameters = &httpParameters{HeaderParameters: p.HeaderParameters, PathParameterValues: p.PathParameterValues, QueryStringParameters: p.QueryStringParameters}
	}
	return out
}

type putTargetsInput struct {
	Rule         *string  `json:"Rule"`
	EventBusName *string  `json:"EventBusName"`
	Targets      []target `json:"Targets"`
}

type failedEntry struct {
	TargetId     string `json:"TargetId"`
	ErrorCode    string `json:"ErrorCode"`
	ErrorMessage string `json:"ErrorMessage"`
}

type targetsOutput struct {
	FailedEntries    []failedEntry `json:"FailedEntries"`
	FailedEntryCount int           `json:"FailedEntryCount"`
}

func targetsResult(failed []core.FailedEntry) *targetsOutput {
	out := &targetsOutput{FailedEntries: []failedEntry{}, FailedEntryCount: len(failed)}
	for _, f := range failed {
		out.FailedEntries = append(out.FailedEntries, failedEntry{TargetId: f.TargetID, ErrorCode: f.ErrorCode, ErrorMessage: f.ErrorMessage})
	}
	return out
}

func (h *Handler) putTargets(ctx context.Context, s core.Scope, in *putTargetsInput) (*targetsOutput, error) {
	var req awsjson.Required
	req.Check(in.Rule == nil, "rule")
	req.Check(in.Targets == nil, "targets")
	var ts []core.Target
	var refused []core.FailedEntry
	for i, t := range in.Targets {
		ct := targetIn(t, i, &req)
		if other := t.other(); other != "" {
			refused = append(refused, core.FailedEntry{TargetID: ct.ID, ErrorCode: core.CodeValidation,
				ErrorMessage: "Parameter " + other + " is not supported: ecrd delivers events only to API destinations."})
			continue
		}
		ts = append(ts, ct)
	}
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	if len(ts) == 0 && len(refused) > 0 {
		return targetsResult(refused), nil
	}
	failed, err := h.svc.PutTargets(ctx, s, in.EventBusName, deref(in.Rule), ts)
	if err != nil {
		return nil, err
	}
	return targetsResult(append(refused, failed...)), nil
}

type removeTargetsInput struct {
	Rule         *string  `json:"Rule"`
	EventBusName *string  `json:"EventBusName"`
	Ids          []string `json:"Ids"`
	Force        bool     `json:"Force"`
}

func (h *Handler) removeTargets(ctx context.Context, s core.Scope, in *removeTargetsInput) (*targetsOutput, error) {
	var req awsjson.Required
	req.Check(in.Rule == nil, "rule")
	req.Check(in.Ids == nil, "ids")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	failed, err := h.svc.RemoveTargets(ctx, s, in.EventBusName, *in.Rule, in.Ids)
	if err != nil {
		return nil, err
	}
	return targetsResult(failed), nil
}

type listTargetsInput struct {
	Rule         *string `json:"Rule"`
	EventBusName *string `json:"EventBusName"`
	NextToken    *string `json:"NextToken"`
	Limit        *int32  `json:"Limit"`
}

type listTargetsOutput struct {
	Targets   []target `json:"Targets"`
	NextToken string   `json:"NextToken,omitempty"`
}

func (h *Handler) listTargetsByRule(ctx context.Context, s core.Scope, in *listTargetsInput) (*listTargetsOutput, error) {
	var req awsjson.Required
	req.Check(in.Rule == nil, "rule")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	ts, next, err := h.svc.ListTargetsByRule(ctx, s, in.EventBusName, *in.Rule, in.NextToken, intp(in.Limit))
	if err != nil {
		return nil, err
	}
	out := &listTargetsOutput{Targets: []target{}, NextToken: next}
	for _, t := range ts {
		out.Targets = append(out.Targets, targetOut(t))
	}
	return out, nil
}

type listRuleNamesInput struct {
	TargetArn    *string `json:"TargetArn"`
	EventBusName *string `json:"EventBusName"`
	NextToken    *string `json:"NextToken"`
	Limit        *int32  `json:"Limit"`
}

type listRuleNamesOutput struct {
	RuleNames []string `json:"RuleNames"`
	NextToken string   `json:"NextToken,omitempty"`
}

func (h *Handler) listRuleNamesByTarget(ctx context.Context, s core.Scope, in *listRuleNamesInput) (*listRuleNamesOutput, error) {
	var req awsjson.Required
	req.Check(in.TargetArn == nil, "targetArn")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	names, next, err := h.svc.ListRuleNamesByTarget(ctx, s, in.EventBusName, *in.TargetArn, in.NextToken, intp(in.Limit))
	if err != nil {
		return nil, err
	}
	if names == nil {
		names = []string{}
	}
	return &listRuleNamesOutput{RuleNames: names, NextToken: next}, nil
}

// Tags.

type tagResourceInput struct {
	ResourceARN *string  `json:"ResourceARN"`
	Tags        []tag    `json:"Tags"`
	TagKeys     []string `json:"TagKeys"`
}

type listTagsOutput struct {
	Tags []tagOut `json:"Tags"`
}

func (h *Handler) tagResource(ctx context.Context, s core.Scope, in *tagResourceInput) (*empty, error) {
	var req awsjson.Required
	req.Check(in.ResourceARN == nil, "resourceARN")
	req.Check(in.Tags == nil, "tags")
	tags := tagsIn(in.Tags, "tags", &req)
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	return &empty{}, h.svc.TagResource(ctx, s, *in.ResourceARN, tags)
}

func (h *Handler) untagResource(ctx context.Context, s core.Scope, in *tagResourceInput) (*empty, error) {
	var req awsjson.Required
	req.Check(in.ResourceARN == nil, "resourceARN")
	req.Check(in.TagKeys == nil, "tagKeys")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	return &empty{}, h.svc.UntagResource(ctx, s, *in.ResourceARN, in.TagKeys)
}

func (h *Handler) listTagsForResource(ctx context.Context, s core.Scope, in *tagResourceInput) (*listTagsOutput, error) {
	var req awsjson.Required
	req.Check(in.ResourceARN == nil, "resourceARN")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	tags, err := h.svc.ListTagsForResource(ctx, s, *in.ResourceARN)
	if err != nil {
		return nil, err
	}
	out := &listTagsOutput{Tags: []tagOut{}}
	for _, t := range tags {
		out.Tags = append(out.Tags, tagOut(t))
	}
	return out, nil
}

// Event buses: ecrd has each registry's default bus.

type eventBusInput struct {
	Name *string `json:"Name"`
}

type eventBusOut struct {
	Arn  string `json:"Arn"`
	Name string `json:"Name"`
}

func (h *Handler) describeEventBus(ctx context.Context, s core.Scope, in *eventBusInput) (*eventBusOut, error) {
	arn, err := h.svc.EventBus(ctx, s, in.Name)
	if err != nil {
		return nil, err
	}
	return &eventBusOut{Arn: arn, Name: core.DefaultBus}, nil
}

type listEventBusesInput struct {
	NamePrefix *string `json:"NamePrefix"`
	NextToken  *string `json:"NextToken"`
	Limit      *int32  `json:"Limit"`
}

type listEventBusesOutput struct {
	EventBuses []eventBusOut `json:"EventBuses"`
}

func (h *Handler) listEventBuses(ctx context.Context, s core.Scope, in *listEventBusesInput) (*listEventBusesOutput, error) {
	arn, err := h.svc.EventBus(ctx, s, nil)
	if err != nil {
		return nil, err
	}
	out := &listEventBusesOutput{EventBuses: []eventBusOut{}}
	if strings.HasPrefix(core.DefaultBus, deref(in.NamePrefix)) {
		out.EventBuses = append(out.EventBuses, eventBusOut{Arn: arn, Name: core.DefaultBus})
	}
	return out, nil
}
