package kms

// The operations: request and response shapes after the KMS model
// (kms-2014-11-01), member names letter for letter. Inputs hold pointers
// so that an absent member differs from an empty one.

import (
	"context"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	core "github.com/ecrd/ecrd/internal/kms"
)

type tag struct {
	TagKey   *string `json:"TagKey"`
	TagValue *string `json:"TagValue"`
}

type tagOut struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
}

// tagsIn converts request tags, requiring both members of each.
func tagsIn(in []tag, req *awsjson.Required) []core.Tag {
	out := make([]core.Tag, len(in))
	for i, t := range in {
		req.Check(t.TagKey == nil, awsjson.MemberPath("tags", i)+".tagKey")
		req.Check(t.TagValue == nil, awsjson.MemberPath("tags", i)+".tagValue")
		out[i] = core.Tag{Key: deref(t.TagKey), Value: deref(t.TagValue)}
	}
	return out
}

// keyMetadata is KeyMetadata: what DescribeKey and CreateKey return, and
// what Terraform's aws_kms_key reads.
type keyMetadata struct {
	AWSAccountId                string             `json:"AWSAccountId"`
	KeyId                       string             `json:"KeyId"`
	Arn                         string             `json:"Arn"`
	CreationDate                *awsjson.Timestamp `json:"CreationDate,omitempty"`
	Enabled                     bool               `json:"Enabled"`
	Description                 string             `json:"Description"`
	KeyUsage                    string             `json:"KeyUsage"`
	KeyState                    string             `json:"KeyState"`
	DeletionDate                *awsjson.Timestamp `json:"DeletionDate,omitempty"`
	PendingDeletionWindowInDays int                `json:"PendingDeletionWindowInDays,omitempty"`
	Origin                      string             `json:"Origin"`
	KeyManager                  string             `json:"KeyManager"`
	CustomerMasterKeySpec       string             `json:"CustomerMasterKeySpec"`
	KeySpec                     string             `json:"KeySpec"`
	EncryptionAlgorithms        []string           `json:"EncryptionAlgorithms,omitempty"`
	SigningAlgorithms           []string           `json:"SigningAlgorithms,omitempty"`
	MultiRegion                 bool               `json:"MultiRegion"`
	CurrentKeyMaterialId        string             `json:"CurrentKeyMaterialId,omitempty"`
}

func metadataOf(k core.Key) *keyMetadata {
	return &keyMetadata{
		AWSAccountId: k.Account, KeyId: k.ID, Arn: k.ARN, CreationDate: awsjson.NewTimestamp(k.CreationDate),
		Enabled: k.Enabled(), Description: k.Description, KeyUsage: k.KeyUsage, KeyState: k.State,
		DeletionDate: awsjson.NewTimestamp(k.DeletionDate), PendingDeletionWindowInDays: k.PendingWindowInDays,
		Origin: k.Origin, KeyManager: k.KeyManager, CustomerMasterKeySpec: k.KeySpec, KeySpec: k.KeySpec,
		EncryptionAlgorithms: k.EncryptionAlgorithms(), SigningAlgorithms: k.SigningAlgorithms(),
		MultiRegion: k.MultiRegion, CurrentKeyMaterialId: k.CurrentMaterialID,
	}
}

type keyIDInput struct {
	KeyId *string `json:"KeyId"`
}

// keyID requires the KeyId member.
func (in *keyIDInput) keyID() (string, error) {
	var req awsjson.Required
	req.Check(in.KeyId == nil, "keyId")
	return deref(in.KeyId), req.Err(core.CodeValidation)
}

type empty struct{}

type keyMetadataOutput struct {
	KeyMetadata *keyMetadata `json:"KeyMetadata"`
}

type createKeyInput struct {
	Policy                         *string `json:"Policy"`
	Description                    *string `json:"Description"`
	KeyUsage                       *string `json:"KeyUsage"`
	KeySpec                        *string `json:"KeySpec"`
	CustomerMasterKeySpec          *string `json:"CustomerMasterKeySpec"`
	Origin                         *string `json:"Origin"`
	CustomKeyStoreId               *string `json:"CustomKeyStoreId"`
	XksKeyId                       *string `json:"XksKeyId"`
	Tags                           []tag   `json:"Tags"`
	BypassPolicyLockoutSafetyCheck *bool   `json:"BypassPolicyLockoutSafetyCheck"`
	MultiRegion                    *bool   `json:"MultiRegion"`
}

func (h *Handler) createKey(ctx context.Context, scope core.Scope, in *createKeyInput) (*keyMetadataOutput, error) {
	var req awsjson.Required
	tags := tagsIn(in.Tags, &req)
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	k, err := h.svc.CreateKey(ctx, scope, core.CreateKeyInput{
		Policy: deref(in.Policy), Description: deref(in.Description), KeyUsage: deref(in.KeyUsage),
		KeySpec: deref(in.KeySpec), CustomerMasterKeySpec: deref(in.CustomerMasterKeySpec), Origin: deref(in.Origin),
		CustomKeyStoreID: deref(in.CustomKeyStoreId), XksKeyID: deref(in.XksKeyId), Tags: tags,
		BypassPolicyLockoutSafetyCheck: deref(in.BypassPolicyLockoutSafetyCheck), MultiRegion: deref(in.MultiRegion),
	})
	if err != nil {
		return nil, err
	}
	return &keyMetadataOutput{metadataOf(k)}, nil
}

type describeKeyInput struct {
	keyIDInput
	GrantTokens []string `json:"GrantTokens"`
}

func (h *Handler) describeKey(ctx context.Context, scope core.Scope, in *describeKeyInput) (*keyMetadataOutput, error) {
	id, err := in.keyID()
	if err != nil {
		return nil, err
	}
	if err := h.svc.CheckGrantTokens(in.GrantTokens); err != nil {
		return nil, err
	}
	k, err := h.svc.DescribeKey(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	return &keyMetadataOutput{metadataOf(k)}, nil
}

type pageInput struct {
	Limit  *int32  `json:"Limit"`
	Marker *string `json:"Marker"`
}

type keyListEntry struct {
	KeyId  string `json:"KeyId"`
	KeyArn string `json:"KeyArn"`
}

type listKeysOutput struct {
	Keys       []keyListEntry `json:"Keys"`
	NextMarker string         `json:"NextMarker,omitempty"`
	Truncated  bool           `json:"Truncated"`
}

func (h *Handler) listKeys(ctx context.Context, scope core.Scope, in *pageInput) (*listKeysOutput, error) {
	keys, next, err := h.svc.ListKeys(ctx, scope, intp(in.Limit), deref(in.Marker))
	if err != nil {
		return nil, err
	}
	out := &listKeysOutput{Keys: make([]keyListEntry, len(keys)), NextMarker: next, Truncated: next != ""}
	for i, k := range keys {
		out.Keys[i] = keyListEntry{KeyId: k.ID, KeyArn: k.ARN}
	}
	return out, nil
}

type getKeyPolicyInput struct {
	keyIDInput
	PolicyName *string `json:"PolicyName"`
}

type getKeyPolicyOutput struct {
	Policy     string `json:"Policy"`
	PolicyName string `json:"PolicyName"`
}

func (h *Handler) getKeyPolicy(ctx context.Context, scope core.Scope, in *getKeyPolicyInput) (*getKeyPolicyOutput, error) {
	id, err := in.keyID()
	if err != nil {
		return nil, err
	}
	pol, err := h.svc.KeyPolicy(ctx, scope, id, deref(in.PolicyName))
	if err != nil {
		return nil, err
	}
	return &getKeyPolicyOutput{Policy: pol, PolicyName: "default"}, nil
}

type putKeyPolicyInput struct {
	keyIDInput
	PolicyName                     *string `json:"PolicyName"`
	Policy                         *string `json:"Policy"`
	BypassPolicyLockoutSafetyCheck *bool   `json:"BypassPolicyLockoutSafetyCheck"`
}

func (h *Handler) putKeyPolicy(ctx context.Context, scope core.Scope, in *putKeyPolicyInput) (*empty, error) {
	var req awsjson.Required
	req.Check(in.KeyId == nil, "keyId")
	req.Check(in.Policy == nil, "policy")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	return &empty{}, h.svc.PutKeyPolicy(ctx, scope, *in.KeyId, deref(in.PolicyName), *in.Policy, deref(in.BypassPolicyLockoutSafetyCheck))
}

type listKeyPoliciesOutput struct {
	PolicyNames []string `json:"PolicyNames"`
	Truncated   bool     `json:"Truncated"`
}

func (h *Handler) listKeyPolicies(ctx context.Context, scope core.Scope, in *keyIDInput) (*listKeyPoliciesOutput, error) {
	id, err := in.keyID()
	if err != nil {
		return nil, err
	}
	names, err := h.svc.ListKeyPolicies(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	return &listKeyPoliciesOutput{PolicyNames: names}, nil
}

type enableKeyRotationInput struct {
	keyIDInput
	RotationPeriodInDays *int32 `json:"RotationPeriodInDays"`
}

func (h *Handler) enableKeyRotation(ctx context.Context, scope core.Scope, in *enableKeyRotationInput) (*empty, error) {
	id, err := in.keyID()
	if err != nil {
		return nil, err
	}
	return &empty{}, h.svc.EnableKeyRotation(ctx, scope, id, intp(in.RotationPeriodInDays))
}

func (h *Handler) disableKeyRotation(ctx context.Context, scope core.Scope, in *keyIDInput) (*empty, error) {
	id, err := in.keyID()
	if err != nil {
		return nil, err
	}
	return &empty{}, h.svc.DisableKeyRotation(ctx, scope, id)
}

type rotationStatusOutput struct {
	KeyId                string             `json:"KeyId"`
	KeyRotationEnabled   bool               `json:"KeyRotationEnabled"`
	RotationPeriodInDays int                `json:"RotationPeriodInDays,omitempty"`
	NextRotationDate     *awsjson.Timestamp `json:"NextRotationDate,omitempty"`
}

func (h *Handler) getKeyRotationStatus(ctx context.Context, scope core.Scope, in *keyIDInput) (*rotationStatusOutput, error) {
	id, err := in.keyID()
	if err != nil {
		return nil, err
	}
	k, err := h.svc.KeyRotationStatus(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	out := &rotationStatusOutput{KeyId: k.ARN, KeyRotationEnabled: k.Rotation.Enabled}
	if k.Rotation.Enabled {
		// Only an enabled rotation has a period and a next date, as on AWS.
		out.RotationPeriodInDays = k.Rotation.PeriodInDays
		out.NextRotationDate = awsjson.NewTimestamp(k.Rotation.NextRotation)
	}
	return out, nil
}

type keyIDOutput struct {
	KeyId string `json:"KeyId"`
}

func (h *Handler) rotateKeyOnDemand(ctx context.Context, scope core.Scope, in *keyIDInput) (*keyIDOutput, error) {
	id, err := in.keyID()
	if err != nil {
		return nil, err
	}
	k, err := h.svc.RotateKeyOnDemand(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	return &keyIDOutput{KeyId: k.ARN}, nil
}

type scheduleKeyDeletionInput struct {
	keyIDInput
	PendingWindowInDays *int32 `json:"PendingWindowInDays"`
}

type scheduleKeyDeletionOutput struct {
	KeyId               string             `json:"KeyId"`
	DeletionDate        *awsjson.Timestamp `json:"DeletionDate,omitempty"`
	KeyState            string             `json:"KeyState"`
	PendingWindowInDays int                `json:"PendingWindowInDays"`
}

func (h *Handler) scheduleKeyDeletion(ctx context.Context, scope core.Scope, in *scheduleKeyDeletionInput) (*scheduleKeyDeletionOutput, error) {
	id, err := in.keyID()
	if err != nil {
		return nil, err
	}
	k, err := h.svc.ScheduleKeyDeletion(ctx, scope, id, intp(in.PendingWindowInDays))
	if err != nil {
		return nil, err
	}
	return &scheduleKeyDeletionOutput{KeyId: k.ARN, DeletionDate: awsjson.NewTimestamp(k.DeletionDate), KeyState: k.State, PendingWindowInDays: k.PendingWindowInDays}, nil
}

func (h *Handler) cancelKeyDeletion(ctx context.Context, scope core.Scope, in *keyIDInput) (*keyIDOutput, error) {
	id, err := in.keyID()
	if err != nil {
		return nil, err
	}
	k, err := h.svc.CancelKeyDeletion(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	return &keyIDOutput{KeyId: k.ARN}, nil
}

func (h *Handler) enableKey(ctx context.Context, scope core.Scope, in *keyIDInput) (*empty, error) {
	id, err := in.keyID()
	if err != nil {
		return nil, err
	}
	return &empty{}, h.svc.EnableKey(ctx, scope, id)
}

func (h *Handler) disableKey(ctx context.Context, scope core.Scope, in *keyIDInput) (*empty, error) {
	id, err := in.keyID()
	if err != nil {
		return nil, err
	}
	return &empty{}, h.svc.DisableKey(ctx, scope, id)
}

type updateKeyDescriptionInput struct {
	keyIDInput
	Description *string `json:"Description"`
}

func (h *Handler) updateKeyDescription(ctx context.Context, scope core.Scope, in *updateKeyDescriptionInput) (*empty, error) {
	var req awsjson.Required
	req.Check(in.KeyId == nil, "keyId")
	req.Check(in.Description == nil, "description")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	return &empty{}, h.svc.UpdateKeyDescription(ctx, scope, *in.KeyId, *in.Description)
}

type tagResourceInput struct {
	keyIDInput
	Tags []tag `json:"Tags"`
}

func (h *Handler) tagResource(ctx context.Context, scope core.Scope, in *tagResourceInput) (*empty, error) {
	var req awsjson.Required
	req.Check(in.KeyId == nil, "keyId")
	req.Check(in.Tags == nil, "tags")
	tags := tagsIn(in.Tags, &req)
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	return &empty{}, h.svc.TagResource(ctx, scope, *in.KeyId, tags)
}

type untagResourceInput struct {
	keyIDInput
	TagKeys []string `json:"TagKeys"`
}

func (h *Handler) untagResource(ctx context.Context, scope core.Scope, in *untagResourceInput) (*empty, error) {
	var req awsjson.Required
	req.Check(in.KeyId == nil, "keyId")
	req.Check(in.TagKeys == nil, "tagKeys")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	return &empty{}, h.svc.UntagResource(ctx, scope, *in.KeyId, in.TagKeys)
}

type listResourceTagsInput struct {
	keyIDInput
	pageInput
}

type listResourceTagsOutput struct {
	Tags       []tagOut `json:"Tags"`
	NextMarker string   `json:"NextMarker,omitempty"`
	Truncated  bool     `json:"Truncated"`
}

func (h *Handler) listResourceTags(ctx context.Context, scope core.Scope, in *listResourceTagsInput) (*listResourceTagsOutput, error) {
	id, err := in.keyID()
	if err != nil {
		return nil, err
	}
	tags, next, err := h.svc.ListResourceTags(ctx, scope, id, intp(in.Limit), deref(in.Marker))
	if err != nil {
		return nil, err
	}
	out := &listResourceTagsOutput{Tags: make([]tagOut, len(tags)), NextMarker: next, Truncated: next != ""}
	for i, t := range tags {
		out.Tags[i] = tagOut{TagKey: t.Key, TagValue: t.Value}
	}
	return out, nil
}

type aliasInput struct {
	AliasName   *string `json:"AliasName"`
	TargetKeyId *string `json:"TargetKeyId"`
}

func (in *aliasInput) names(target bool) (string, string, error) {
	var req awsjson.Required
	req.Check(in.AliasName == nil, "aliasName")
	if target {
		req.Check(in.TargetKeyId == nil, "targetKeyId")
	}
	return deref(in.AliasName), deref(in.TargetKeyId), req.Err(core.CodeValidation)
}

func (h *Handler) createAlias(ctx context.Context, scope core.Scope, in *aliasInput) (*empty, error) {
	name, target, err := in.names(true)
	if err != nil {
		return nil, err
	}
	return &empty{}, h.svc.CreateAlias(ctx, scope, name, target)
}

func (h *Handler) updateAlias(ctx context.Context, scope core.Scope, in *aliasInput) (*empty, error) {
	name, target, err := in.names(true)
	if err != nil {
		return nil, err
	}
	return &empty{}, h.svc.UpdateAlias(ctx, scope, name, target)
}

func (h *Handler) deleteAlias(ctx context.Context, scope core.Scope, in *aliasInput) (*empty, error) {
	name, _, err := in.names(false)
	if err != nil {
		return nil, err
	}
	return &empty{}, h.svc.DeleteAlias(ctx, scope, name)
}

type listAliasesInput struct {
	KeyId *string `json:"KeyId"`
	pageInput
}

type aliasListEntry struct {
	AliasName       string             `json:"AliasName"`
	AliasArn        string             `json:"AliasArn"`
	TargetKeyId     string             `json:"TargetKeyId,omitempty"`
	CreationDate    *awsjson.Timestamp `json:"CreationDate,omitempty"`
	LastUpdatedDate *awsjson.Timestamp `json:"LastUpdatedDate,omitempty"`
}

type listAliasesOutput struct {
	Aliases    []aliasListEntry `json:"Aliases"`
	NextMarker string           `json:"NextMarker,omitempty"`
	Truncated  bool             `json:"Truncated"`
}

func (h *Handler) listAliases(ctx context.Context, scope core.Scope, in *listAliasesInput) (*listAliasesOutput, error) {
	aliases, next, err := h.svc.ListAliases(ctx, scope, deref(in.KeyId), intp(in.Limit), deref(in.Marker))
	if err != nil {
		return nil, err
	}
	out := &listAliasesOutput{Aliases: make([]aliasListEntry, len(aliases)), NextMarker: next, Truncated: next != ""}
	for i, a := range aliases {
		out.Aliases[i] = aliasListEntry{AliasName: a.Name, AliasArn: a.ARN, TargetKeyId: a.TargetKeyID,
			CreationDate: awsjson.NewTimestamp(a.Created), LastUpdatedDate: awsjson.NewTimestamp(a.Updated)}
	}
	return out, nil
}

type generateDataKeyInput struct {
	keyIDInput
	KeySpec           *string           `json:"KeySpec"`
	NumberOfBytes     *int32            `json:"NumberOfBytes"`
	EncryptionContext map[string]string `json:"EncryptionContext"`
	GrantTokens       []string          `json:"GrantTokens"`
	DryRun            *bool             `json:"DryRun"`
}

type generateDataKeyOutput struct {
	CiphertextBlob []byte `json:"CiphertextBlob"`
	Plaintext      []byte `json:"Plaintext,omitempty"`
	KeyId          string `json:"KeyId"`
	KeyMaterialId  string `json:"KeyMaterialId,omitempty"`
}

func (in *generateDataKeyInput) toCore(svc *core.Service) (core.DataKeyInput, error) {
	id, err := in.keyID()
	if err == nil {
		err = svc.CheckGrantTokens(in.GrantTokens)
	}
	return core.DataKeyInput{KeyID: id, KeySpec: deref(in.KeySpec), NumberOfBytes: intp(in.NumberOfBytes),
		EncryptionContext: in.EncryptionContext, DryRun: deref(in.DryRun)}, err
}

func (h *Handler) generateDataKey(ctx context.Context, scope core.Scope, in *generateDataKeyInput) (*generateDataKeyOutput, error) {
	c, err := in.toCore(h.svc)
	if err != nil {
		return nil, err
	}
	dk, err := h.svc.GenerateDataKey(ctx, scope, c)
	if err != nil {
		return nil, err
	}
	return &generateDataKeyOutput{CiphertextBlob: dk.CiphertextBlob, Plaintext: dk.Plaintext, KeyId: dk.KeyARN, KeyMaterialId: dk.KeyMaterialID}, nil
}

func (h *Handler) generateDataKeyWithoutPlaintext(ctx context.Context, scope core.Scope, in *generateDataKeyInput) (*generateDataKeyOutput, error) {
	c, err := in.toCore(h.svc)
	if err != nil {
		return nil, err
	}
	dk, err := h.svc.GenerateDataKeyWithoutPlaintext(ctx, scope, c)
	if err != nil {
		return nil, err
	}
	return &generateDataKeyOutput{CiphertextBlob: dk.CiphertextBlob, KeyId: dk.KeyARN, KeyMaterialId: dk.KeyMaterialID}, nil
}

type encryptInput struct {
	keyIDInput
	Plaintext           []byte            `json:"Plaintext"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	EncryptionAlgorithm *string           `json:"EncryptionAlgorithm"`
	GrantTokens         []string          `json:"GrantTokens"`
	DryRun              *bool             `json:"DryRun"`
}

type encryptOutput struct {
	CiphertextBlob      []byte `json:"CiphertextBlob"`
	KeyId               string `json:"KeyId"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
}

func (h *Handler) encrypt(ctx context.Context, scope core.Scope, in *encryptInput) (*encryptOutput, error) {
	var req awsjson.Required
	req.Check(in.KeyId == nil, "keyId")
	req.Check(in.Plaintext == nil, "plaintext")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	if err := h.svc.CheckGrantTokens(in.GrantTokens); err != nil {
		return nil, err
	}
	e, err := h.svc.Encrypt(ctx, scope, core.EncryptInput{KeyID: *in.KeyId, Plaintext: in.Plaintext, EncryptionContext: in.EncryptionContext,
		EncryptionAlgorithm: deref(in.EncryptionAlgorithm), DryRun: deref(in.DryRun)})
	if err != nil {
		return nil, err
	}
	return &encryptOutput{CiphertextBlob: e.CiphertextBlob, KeyId: e.KeyARN, EncryptionAlgorithm: e.EncryptionAlgorithm}, nil
}

type decryptInput struct {
	KeyId               *string           `json:"KeyId"`
	CiphertextBlob      []byte            `json:"CiphertextBlob"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	EncryptionAlgorithm *string           `json:"EncryptionAlgorithm"`
	GrantTokens         []string          `json:"GrantTokens"`
	DryRun              *bool             `json:"DryRun"`
}

type decryptOutput struct {
	Plaintext           []byte `json:"Plaintext"`
	KeyId               string `json:"KeyId"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
	KeyMaterialId       string `json:"KeyMaterialId,omitempty"`
}

func (h *Handler) decrypt(ctx context.Context, scope core.Scope, in *decryptInput) (*decryptOutput, error) {
	var req awsjson.Required
	req.Check(in.CiphertextBlob == nil, "ciphertextBlob")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	if err := h.svc.CheckGrantTokens(in.GrantTokens); err != nil {
		return nil, err
	}
	d, err := h.svc.Decrypt(ctx, scope, core.DecryptInput{CiphertextBlob: in.CiphertextBlob, KeyID: deref(in.KeyId),
		EncryptionContext: in.EncryptionContext, EncryptionAlgorithm: deref(in.EncryptionAlgorithm), DryRun: deref(in.DryRun)})
	if err != nil {
		return nil, err
	}
	return &decryptOutput{Plaintext: d.Plaintext, KeyId: d.KeyARN, EncryptionAlgorithm: d.EncryptionAlgorithm, KeyMaterialId: d.KeyMaterialID}, nil
}
