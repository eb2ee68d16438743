package secretsmanager

// The operations: request and response shapes after the Secrets Manager
// model (secretsmanager-2017-10-17), member names letter for letter.
// Inputs hold pointers so that an absent member differs from an empty one.

import (
	"context"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	"github.com/ecrd/ecrd/internal/awserr"
	core "github.com/ecrd/ecrd/internal/secrets"
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

func tagsIn(in []tag, req *awsjson.Required) []core.Tag {
	out := make([]core.Tag, len(in))
	for i, t := range in {
		req.Check(t.Key == nil, awsjson.MemberPath("tags", i)+".key")
		req.Check(t.Value == nil, awsjson.MemberPath("tags", i)+".value")
		out[i] = core.Tag{Key: deref(t.Key), Value: deref(t.Value)}
	}
	return out
}

func tagsOut(tags []core.Tag) []tagOut {
	if len(tags) == 0 {
		return nil
	}
	out := make([]tagOut, len(tags))
	for i, t := range tags {
		out[i] = tagOut(t)
	}
	return out
}

type written struct {
	ARN           string   `json:"ARN"`
	Name          string   `json:"Name"`
	VersionId     *string  `json:"VersionId,omitempty"`
	VersionStages []string `json:"VersionStages,omitempty"`
}

type createSecretInput struct {
	Name                        *string `json:"Name"`
	ClientRequestToken          *string `json:"ClientRequestToken"`
	Description                 *string `json:"Description"`
	KmsKeyId                    *string `json:"KmsKeyId"`
	SecretBinary                []byte  `json:"SecretBinary"`
	SecretString                *string `json:"SecretString"`
	Tags                        []tag   `json:"Tags"`
	AddReplicaRegions           []any   `json:"AddReplicaRegions"`
	ForceOverwriteReplicaSecret bool    `json:"ForceOverwriteReplicaSecret"`
}

func (h *Handler) createSecret(ctx context.Context, s core.Scope, in *createSecretInput) (*written, error) {
	var req awsjson.Required
	req.Check(in.Name == nil, "name")
	tags := tagsIn(in.Tags, &req)
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	if len(in.AddReplicaRegions) > 0 {
		return nil, unsupported("AddReplicaRegions")
	}
	w, err := h.svc.CreateSecret(ctx, s, core.CreateInput{Name: *in.Name, Token: in.ClientRequestToken, Description: in.Description,
		KmsKeyID: in.KmsKeyId, Value: core.Value{String: in.SecretString, Binary: in.SecretBinary}, Tags: tags})
	if err != nil {
		return nil, err
	}
	return &written{ARN: w.ARN, Name: w.Name, VersionId: strp(w.VersionID)}, nil
}

type secretIDInput struct {
	SecretId *string `json:"SecretId"`
}

func (in *secretIDInput) id() (string, error) {
	var req awsjson.Required
	req.Check(in.SecretId == nil, "secretId")
	return deref(in.SecretId), req.Err(core.CodeValidation)
}

type describeSecretOutput struct {
	ARN                string              `json:"ARN"`
	Name               string              `json:"Name"`
	Description        *string             `json:"Description,omitempty"`
	KmsKeyId           *string             `json:"KmsKeyId,omitempty"`
	LastChangedDate    *awsjson.Timestamp  `json:"LastChangedDate,omitempty"`
	DeletedDate        *awsjson.Timestamp  `json:"DeletedDate,omitempty"`
	CreatedDate        *awsjson.Timestamp  `json:"CreatedDate,omitempty"`
	Tags               []tagOut            `json:"Tags,omitempty"`
	VersionIdsToStages map[string][]string `json:"VersionIdsToStages,omitempty"`
}

func stagesOf(sec *core.Secret) map[string][]string {
	if len(sec.Versions) == 0 {
		return nil
	}
	m := map[string][]string{}
	for _, v := range sec.Versions {
		if len(v.Stages) > 0 {
			m[v.ID] = sortedStages(v.Stages)
		}
	}
	return m
}

func describe(sec *core.Secret) describeSecretOutput {
	out := describeSecretOutput{ARN: sec.ARN, Name: sec.Name, Description: strp(sec.Description), KmsKeyId: strp(sec.KmsKeyID),
		LastChangedDate: ts(sec.Changed), CreatedDate: ts(sec.Created), Tags: tagsOut(sec.Tags)}
	if sec.Deleted != nil {
		out.DeletedDate = ts(*sec.Deleted)
	}
	return out
}

func (h *Handler) describeSecret(ctx context.Context, s core.Scope, in *secretIDInput) (*describeSecretOutput, error) {
	id, err := in.id()
	if err != nil {
		return nil, err
	}
	sec, err := h.svc.DescribeSecret(ctx, s, id)
	if err != nil {
		return nil, err
	}
	out := describe(sec)
	out.VersionIdsToStages = stagesOf(sec)
	return &out, nil
}

type getSecretValueInput struct {
	SecretId     *string `json:"SecretId"`
	VersionId    *string `json:"VersionId"`
	VersionStage *string `json:"VersionStage"`
}

type getSecretValueOutput struct {
	ARN           string             `json:"ARN"`
	Name          string             `json:"Name"`
	VersionId     string             `json:"VersionId"`
	SecretBinary  []byte             `json:"SecretBinary,omitempty"`
	SecretString  *string            `json:"SecretString,omitempty"`
	VersionStages []string           `json:"VersionStages,omitempty"`
	CreatedDate   *awsjson.Timestamp `json:"CreatedDate,omitempty"`
}

func (h *Handler) getSecretValue(ctx context.Context, s core.Scope, in *getSecretValueInput) (*getSecretValueOutput, error) {
	var req awsjson.Required
	req.Check(in.SecretId == nil, "secretId")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	v, err := h.svc.GetSecretValue(ctx, s, core.GetValueInput{SecretID: *in.SecretId, VersionID: in.VersionId, VersionStage: in.VersionStage})
	if err != nil {
		return nil, err
	}
	return &getSecretValueOutput{ARN: v.ARN, Name: v.Name, VersionId: v.VersionID, SecretBinary: v.Binary, SecretString: v.String,
		VersionStages: sortedStages(v.Stages), CreatedDate: ts(v.Created)}, nil
}

type putSecretValueInput struct {
	SecretId           *string  `json:"SecretId"`
	ClientRequestToken *string  `json:"ClientRequestToken"`
	SecretBinary       []byte   `json:"SecretBinary"`
	SecretString       *string  `json:"SecretString"`
	VersionStages      []string `json:"VersionStages"`
	RotationToken      *string  `json:"RotationToken"`
}

func (h *Handler) putSecretValue(ctx context.Context, s core.Scope, in *putSecretValueInput) (*written, error) {
	var req awsjson.Required
	req.Check(in.SecretId == nil, "secretId")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	w, err := h.svc.PutSecretValue(ctx, s, core.PutValueInput{SecretID: *in.SecretId, Token: in.ClientRequestToken,
		Value: core.Value{String: in.SecretString, Binary: in.SecretBinary}, Stages: in.VersionStages})
	if err != nil {
		return nil, err
	}
	return &written{ARN: w.ARN, Name: w.Name, VersionId: strp(w.VersionID), VersionStages: sortedStages(w.Stages)}, nil
}

type updateSecretInput struct {
	SecretId           *string `json:"SecretId"`
	ClientRequestToken *string `json:"ClientRequestToken"`
	Description        *string `json:"Description"`
	KmsKeyId           *string `json:"KmsKeyId"`
	SecretBinary       []byte  `json:"SecretBinary"`
	SecretString       *string `json:"SecretString"`
}

func (h *Handler) updateSecret(ctx context.Context, s core.Scope, in *updateSecretInput) (*written, error) {
	var req awsjson.Required
	req.Check(in.SecretId == nil, "secretId")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	w, err := h.svc.UpdateSecret(ctx, s, core.UpdateInput{SecretID: *in.SecretId, Token: in.ClientRequestToken, Description: in.Description,
		KmsKeyID: in.KmsKeyId, Value: core.Value{String: in.SecretString, Binary: in.SecretBinary}})
	if err != nil {
		return nil, err
	}
	return &written{ARN: w.ARN, Name: w.Name, VersionId: strp(w.VersionID)}, nil
}

type deleteSecretInput struct {
	SecretId                   *string `json:"SecretId"`
	RecoveryWindowInDays       *int64  `json:"RecoveryWindowInDays"`
	ForceDeleteWithoutRecovery *bool   `json:"ForceDeleteWithoutRecovery"`
}

type deleteSecretOutput struct {
	ARN          string             `json:"ARN"`
	Name         string             `json:"Name"`
	DeletionDate *awsjson.Timestamp `json:"DeletionDate,omitempty"`
}

func (h *Handler) deleteSecret(ctx context.Context, s core.Scope, in *deleteSecretInput) (*deleteSecretOutput, error) {
	var req awsjson.Required
	req.Check(in.SecretId == nil, "secretId")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	d, err := h.svc.DeleteSecret(ctx, s, *in.SecretId, in.RecoveryWindowInDays, in.ForceDeleteWithoutRecovery)
	if err != nil {
		return nil, err
	}
	return &deleteSecretOutput{ARN: d.ARN, Name: d.Name, DeletionDate: ts(d.Date)}, nil
}

func (h *Handler) restoreSecret(ctx context.Context, s core.Scope, in *secretIDInput) (*written, error) {
	id, err := in.id()
	if err != nil {
		return nil, err
	}
	w, err := h.svc.RestoreSecret(ctx, s, id)
	if err != nil {
		return nil, err
	}
	return &written{ARN: w.ARN, Name: w.Name}, nil
}

type filter struct {
	Key    *string  `json:"Key"`
	Values []string `json:"Values"`
}

type listSecretsInput struct {
	Filters                []filter `json:"Filters"`
	IncludePlannedDeletion *bool    `json:"IncludePlannedDeletion"`
	MaxResults             *int32   `json:"MaxResults"`
	NextToken              *string  `json:"NextToken"`
	SortOrder              *string  `json:"SortOrder"`
	SortBy                 *string  `json:"SortBy"`
}

type secretListEntry struct {
	ARN                    string              `json:"ARN"`
	Name                   string              `json:"Name"`
	Description            *string             `json:"Description,omitempty"`
	KmsKeyId               *string             `json:"KmsKeyId,omitempty"`
	LastChangedDate        *awsjson.Timestamp  `json:"LastChangedDate,omitempty"`
	DeletedDate            *awsjson.Timestamp  `json:"DeletedDate,omitempty"`
	CreatedDate            *awsjson.Timestamp  `json:"CreatedDate,omitempty"`
	Tags                   []tagOut            `json:"Tags,omitempty"`
	SecretVersionsToStages map[string][]string `json:"SecretVersionsToStages,omitempty"`
}

type listSecretsOutput struct {
	SecretList []secretListEntry `json:"SecretList"`
	NextToken  *string           `json:"NextToken,omitempty"`
}

func (h *Handler) listSecrets(ctx context.Context, s core.Scope, in *listSecretsInput) (*listSecretsOutput, error) {
	filters := make([]core.Filter, len(in.Filters))
	for i, f := range in.Filters {
		filters[i] = core.Filter{Key: deref(f.Key), Values: f.Values}
	}
	list, next, err := h.svc.ListSecrets(ctx, s, core.ListInput{Filters: filters, IncludePlannedDeletion: deref(in.IncludePlannedDeletion),
		MaxResults: intp(in.MaxResults), NextToken: in.NextToken, SortOrder: deref(in.SortOrder)})
	if err != nil {
		return nil, err
	}
	out := &listSecretsOutput{SecretList: make([]secretListEntry, len(list)), NextToken: strp(next)}
	for i, sec := range list {
		d := describe(sec)
		out.SecretList[i] = secretListEntry{ARN: d.ARN, Name: d.Name, Description: d.Description, KmsKeyId: d.KmsKeyId,
			LastChangedDate: d.LastChangedDate, DeletedDate: d.DeletedDate, CreatedDate: d.CreatedDate, Tags: d.Tags,
			SecretVersionsToStages: stagesOf(sec)}
	}
	return out, nil
}

type listVersionsInput struct {
	SecretId          *string `json:"SecretId"`
	IncludeDeprecated *bool   `json:"IncludeDeprecated"`
	MaxResults        *int32  `json:"MaxResults"`
	NextToken         *string `json:"NextToken"`
}

type versionEntry struct {
	VersionId     string             `json:"VersionId"`
	VersionStages []string           `json:"VersionStages,omitempty"`
	CreatedDate   *awsjson.Timestamp `json:"CreatedDate,omitempty"`
	KmsKeyIds     []string           `json:"KmsKeyIds,omitempty"`
}

type listVersionsOutput struct {
	ARN       string         `json:"ARN"`
	Name      string         `json:"Name"`
	Versions  []versionEntry `json:"Versions"`
	NextToken *string        `json:"NextToken,omitempty"`
}

func (h *Handler) listSecretVersionIds(ctx context.Context, s core.Scope, in *listVersionsInput) (*listVersionsOutput, error) {
	var req awsjson.Required
	req.Check(in.SecretId == nil, "secretId")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	p, err := h.svc.ListSecretVersionIds(ctx, s, *in.SecretId, deref(in.IncludeDeprecated), intp(in.MaxResults), in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &listVersionsOutput{ARN: p.Secret.ARN, Name: p.Secret.Name, Versions: make([]versionEntry, len(p.Versions)), NextToken: strp(p.Next)}
	for i, v := range p.Versions {
		out.Versions[i] = versionEntry{VersionId: v.ID, VersionStages: sortedStages(v.Stages), CreatedDate: ts(v.Created), KmsKeyIds: []string{v.KeyARN}}
	}
	return out, nil
}

type updateStageInput struct {
	SecretId            *string `json:"SecretId"`
	VersionStage        *string `json:"VersionStage"`
	MoveToVersionId     *string `json:"MoveToVersionId"`
	RemoveFromVersionId *string `json:"RemoveFromVersionId"`
}

func (h *Handler) updateSecretVersionStage(ctx context.Context, s core.Scope, in *updateStageInput) (*written, error) {
	var req awsjson.Required
	req.Check(in.SecretId == nil, "secretId")
	req.Check(in.VersionStage == nil, "versionStage")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	w, err := h.svc.UpdateSecretVersionStage(ctx, s, core.UpdateStageInput{SecretID: *in.SecretId, Stage: *in.VersionStage,
		MoveToVersionID: in.MoveToVersionId, RemoveFromVersionID: in.RemoveFromVersionId})
	if err != nil {
		return nil, err
	}
	return &written{ARN: w.ARN, Name: w.Name}, nil
}

type tagResourceInput struct {
	SecretId *string `json:"SecretId"`
	Tags     []tag   `json:"Tags"`
}

func (h *Handler) tagResource(ctx context.Context, s core.Scope, in *tagResourceInput) (*empty, error) {
	var req awsjson.Required
	req.Check(in.SecretId == nil, "secretId")
	req.Check(in.Tags == nil, "tags")
	tags := tagsIn(in.Tags, &req)
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	return &empty{}, h.svc.TagResource(ctx, s, *in.SecretId, tags)
}

type untagResourceInput struct {
	SecretId *string  `json:"SecretId"`
	TagKeys  []string `json:"TagKeys"`
}

func (h *Handler) untagResource(ctx context.Context, s core.Scope, in *untagResourceInput) (*empty, error) {
	var req awsjson.Required
	req.Check(in.SecretId == nil, "secretId")
	req.Check(in.TagKeys == nil, "tagKeys")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	return &empty{}, h.svc.UntagResource(ctx, s, *in.SecretId, in.TagKeys)
}

type policyOutput struct {
	ARN            string  `json:"ARN"`
	Name           string  `json:"Name"`
	ResourcePolicy *string `json:"ResourcePolicy,omitempty"`
}

func (h *Handler) getResourcePolicy(ctx context.Context, s core.Scope, in *secretIDInput) (*policyOutput, error) {
	id, err := in.id()
	if err != nil {
		return nil, err
	}
	sec, err := h.svc.GetResourcePolicy(ctx, s, id)
	if err != nil {
		return nil, err
	}
	return &policyOutput{ARN: sec.ARN, Name: sec.Name, ResourcePolicy: strp(sec.Policy)}, nil
}

type putPolicyInput struct {
	SecretId          *string `json:"SecretId"`
	ResourcePolicy    *string `json:"ResourcePolicy"`
	BlockPublicPolicy *bool   `json:"BlockPublicPolicy"`
}

func (h *Handler) putResourcePolicy(ctx context.Context, s core.Scope, in *putPolicyInput) (*policyOutput, error) {
	var req awsjson.Required
	req.Check(in.SecretId == nil, "secretId")
	req.Check(in.ResourcePolicy == nil, "resourcePolicy")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	w, err := h.svc.PutResourcePolicy(ctx, s, *in.SecretId, *in.ResourcePolicy, in.BlockPublicPolicy)
	if err != nil {
		return nil, err
	}
	return &policyOutput{ARN: w.ARN, Name: w.Name}, nil
}

func (h *Handler) deleteResourcePolicy(ctx context.Context, s core.Scope, in *secretIDInput) (*policyOutput, error) {
	id, err := in.id()
	if err != nil {
		return nil, err
	}
	w, err := h.svc.DeleteResourcePolicy(ctx, s, id)
	if err != nil {
		return nil, err
	}
	return &policyOutput{ARN: w.ARN, Name: w.Name}, nil
}

// unsupported refuses a member ecrd does not serve (replication to
// other regions) rather than ignore it.
func unsupported(member string) error {
	return awserr.Errorf(core.CodeInvalidRequest, "%s is not supported: ecrd does not replicate secrets to other regions.", member)
}
