package secrets

import (
	"context"
	"crypto/subtle"
	"slices"
	"time"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/awsid"
)

// CreateInput is CreateSecret's request.
type CreateInput struct {
	Name        string
	Token       *string
	Description *string
	KmsKeyID    *string
	Value       Value
	Tags        []Tag
}

// Written is what a change of a secret answers: the secret's ARN and name
// and the version it made ("" for none).
type Written struct {
	ARN, Name, VersionID string
	Stages               []string
}

// CreateSecret makes a secret, with a first version (labelled AWSCURRENT)
// if a value is given. A retry with the same ClientRequestToken and value
// answers the secret it made.
func (s *Service) CreateSecret(ctx context.Context, scope Scope, in CreateInput) (Written, error) {
	if err := checkName(in.Name); err != nil {
		return Written{}, err
	}
	var v validation
	checkToken(in.Token, "clientRequestToken", &v)
	if in.Description != nil {
		v.length(*in.Description, "description", 0, maxDescriptionLength)
	}
	if in.KmsKeyID != nil {
		v.length(*in.KmsKeyID, "kmsKeyId", 0, 2048)
	}
	if err := checkValue(in.Value, &v); err != nil {
		return Written{}, err
	}
	if err := checkTags(in.Tags, &v); err != nil {
		return Written{}, err
	}
	versionID := tokenOr(in.Token)
	return decided(func() (Written, error) {
		cur, err := loadRaw(ctx, s.meta, scope, in.Name)
		if err != nil {
			return Written{}, err
		}
		was := 0
		if cur != nil {
			if !s.gone(cur) {
				if cur.Deleted != nil {
					return Written{}, awserr.Errorf(CodeInvalidRequest, "You can't create this secret because a secret with this name is already scheduled for deletion.")
				}
				if w, ok, err := s.sameVersion(ctx, cur, in.Token, in.Value); err != nil || ok {
					return w, err
				}
				return Written{}, awserr.Errorf(CodeExists, "The operation failed because the secret %s already exists.", in.Name)
			}
			was = cur.Rev
		}
		now := s.now().UTC()
		sec := &Secret{Rev: was + 1, Name: in.Name, ARN: newARN(scope, in.Name), Account: scope.Account, Region: scope.Region,
			Description: deref(in.Description), KmsKeyID: deref(in.KmsKeyID), Tags: slices.Clone(in.Tags), Created: now, Changed: now}
		if err := s.authorize(ctx, sec, "secretsmanager:CreateSecret", in.Tags); err != nil {
			return Written{}, err
		}
		out := Written{ARN: sec.ARN, Name: sec.Name}
		if in.Value.given() {
			ver, err := s.sealVersion(ctx, sec, versionID, in.Value.bytes(), in.Value.Binary != nil)
			if err != nil {
				return Written{}, err
			}
			ver.Stages = []string{StageCurrent}
			sec.Versions = []Version{ver}
			out.VersionID = ver.ID
		}
		params := map[string]any{"name": in.Name}
		if sec.Description != "" {
			params["description"] = sec.Description
		}
		if sec.KmsKeyID != "" {
			params["kmsKeyId"] = sec.KmsKeyID
		}
		if in.Token != nil {
			params["clientRequestToken"] = *in.Token
		}
		// The record of a deleted secret whose name is reused is the
		// new one's: write it over the old at the old's revision.
		old := sec
		if cur != nil {
			old = &Secret{Name: cur.Name, ARN: sec.ARN, Account: cur.Account, Region: cur.Region}
		}
		return out, s.change(ctx, old, was, sec, "CreateSecret", params)
	})
}

// sameVersion reports whether a secret already has the version a retried
// request would make: one whose ID is the request's token, with the same
// value. A version with that ID and another value is
// ResourceExistsException.
func (s *Service) sameVersion(ctx context.Context, sec *Secret, token *string, val Value) (Written, bool, error) {
	if token == nil {
		return Written{}, false, nil
	}
	i := slices.IndexFunc(sec.Versions, func(v Version) bool { return v.ID == *token })
	if i < 0 {
		return Written{}, false, nil
	}
	v := &sec.Versions[i]
	pt, err := s.openVersion(ctx, sec, v, false)
	if err != nil {
		return Written{}, false, err
	}
	if !val.given() || v.Binary != (val.Binary != nil) || subtle.ConstantTimeCompare(pt, val.bytes()) != 1 {
		return Written{}, false, awserr.Errorf(CodeExists, "You can't modify an existing version, you can only create a new version.")
	}
	return Written{ARN: sec.ARN, Name: sec.Name, VersionID: v.ID, Stages: slices.Clone(v.Stages)}, true, nil
}

func tokenOr(token *string) string {
	if token != nil {
		return *token
	}
	return awsid.NewUUID()
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// addVersion adds a version to a secret with its labels (none given, or
// the secret has no current version: AWSCURRENT too), moving each from the version that had it; the version that
// loses AWSCURRENT gets AWSPREVIOUS. The oldest unlabelled versions go
// beyond Secrets Manager's hundred.
func addVersion(sec *Secret, v Version, stages []string) error {
	hasCurrent := slices.ContainsFunc(sec.Versions, func(v Version) bool { return slices.Contains(v.Stages, StageCurrent) })
	if len(stages) == 0 {
		stages = []string{StageCurrent}
	} else if !hasCurrent && !slices.Contains(stages, StageCurrent) {
		// A secret's first version is current whatever labels it is given.
		stages = append(slices.Clone(stages), StageCurrent)
	}
	v.Stages = slices.Clone(stages)
	for _, st := range stages {
		moveStage(sec, st, "")
	}
	sec.Versions = append(sec.Versions, v)
	for len(sec.Versions) > maxVersions {
		i := slices.IndexFunc(sec.Versions, func(v Version) bool { return len(v.Stages) == 0 })
		if i < 0 {
			return awserr.Errorf(CodeLimitExceeded, "You can't create more than %d versions of a secret that each have a staging label. Remove a staging label from a version first.", maxVersions)
		}
		sec.Versions = slices.Delete(sec.Versions, i, i+1)
	}
	return nil
}

// moveStage takes a label from the version that has it and gives it to
// version to ("" : to the one the caller adds). Moving AWSCURRENT gives
// its old version AWSPREVIOUS.
func moveStage(sec *Secret, stage, to string) {
	for i := range sec.Versions {
		v := &sec.Versions[i]
		if v.ID == to || !slices.Contains(v.Stages, stage) {
			continue
		}
		v.Stages = slices.DeleteFunc(v.Stages, func(s string) bool { return s == stage })
		if stage == StageCurrent {
			moveStage(sec, StagePrevious, v.ID)
			if !slices.Contains(v.Stages, StagePrevious) {
				v.Stages = append(v.Stages, StagePrevious)
			}
		}
	}
	if to != "" {
		for i := range sec.Versions {
			if v := &sec.Versions[i]; v.ID == to && !slices.Contains(v.Stages, stage) {
				v.Stages = append(v.Stages, stage)
			}
		}
	}
}

// writable reads a secret a change may change: it exists and is not
// scheduled for deletion, and the caller may do action on it.
func (s *Service) writable(ctx context.Context, scope Scope, id, action string, requestTags []Tag) (*Secret, error) {
	sec, err := s.find(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, sec, action, requestTags); err != nil {
		return nil, err
	}
	if sec.Deleted != nil {
		return nil, markedForDeletion()
	}
	return sec, nil
}

// PutValueInput is PutSecretValue's request.
type PutValueInput struct {
	SecretID string
	Token    *string
	Value    Value
	Stages   []string
}

// PutSecretValue adds a version to a secret.
func (s *Service) PutSecretValue(ctx context.Context, scope Scope, in PutValueInput) (Written, error) {
	var v validation
	if err := checkSecretID(in.SecretID); err != nil {
		return Written{}, err
	}
	checkToken(in.Token, "clientRequestToken", &v)
	for i, st := range in.Stages {
		v.length(st, "versionStages."+itoa(i+1)+".member", 1, 256)
	}
	if err := checkValue(in.Value, &v); err != nil {
		return Written{}, err
	}
	if len(in.Stages) > maxStagesPerVersion {
		return Written{}, awserr.Errorf(CodeInvalidParameter, "You can't attach more than %d staging labels to a version.", maxStagesPerVersion)
	}
	if !in.Value.given() {
		return Written{}, awserr.Errorf(CodeInvalidRequest, "You must provide either SecretString or SecretBinary.")
	}
	versionID := tokenOr(in.Token)
	return decided(func() (Written, error) {
		sec, err := s.writable(ctx, scope, in.SecretID, "secretsmanager:PutSecretValue", nil)
		if err != nil {
			return Written{}, err
		}
		if w, ok, err := s.sameVersion(ctx, sec, in.Token, in.Value); err != nil || ok {
			return w, err
		}
		return s.newVersion(ctx, sec, versionID, in.Value, in.Stages, "PutSecretValue", map[string]any{"secretId": in.SecretID})
	})
}

// newVersion seals a value and writes it as a new version of sec.
func (s *Service) newVersion(ctx context.Context, sec *Secret, versionID string, val Value, stages []string, action string, params map[string]any) (Written, error) {
	ver, err := s.sealVersion(ctx, sec, versionID, val.bytes(), val.Binary != nil)
	if err != nil {
		return Written{}, err
	}
	next := clone(sec)
	if err := addVersion(next, ver, stages); err != nil {
		return Written{}, err
	}
	next.Rev, next.Changed = sec.Rev+1, s.now().UTC()
	params["clientRequestToken"] = versionID
	if len(stages) > 0 {
		params["versionStages"] = stages
	}
	added := next.Versions[len(next.Versions)-1]
	return Written{ARN: sec.ARN, Name: sec.Name, VersionID: ver.ID, Stages: added.Stages}, s.change(ctx, sec, sec.Rev, next, action, params)
}

func clone(sec *Secret) *Secret {
	n := *sec
	n.Tags = slices.Clone(sec.Tags)
	n.Versions = make([]Version, len(sec.Versions))
	for i, v := range sec.Versions {
		v.Stages = slices.Clone(v.Stages)
		n.Versions[i] = v
	}
	return &n
}

// UpdateInput is UpdateSecret's request.
type UpdateInput struct {
	SecretID    string
	Token       *string
	Description *string
	KmsKeyID    *string
	Value       Value
}

// UpdateSecret changes a secret's description or key, and adds a
// version (labelled AWSCURRENT) if a value is given. A new key encrypts
// the versions made from then on.
func (s *Service) UpdateSecret(ctx context.Context, scope Scope, in UpdateInput) (Written, error) {
	var v validation
	if err := checkSecretID(in.SecretID); err != nil {
		return Written{}, err
	}
	checkToken(in.Token, "clientRequestToken", &v)
	if in.Description != nil {
		v.length(*in.Description, "description", 0, maxDescriptionLength)
	}
	if in.KmsKeyID != nil {
		v.length(*in.KmsKeyID, "kmsKeyId", 0, 2048)
	}
	if err := checkValue(in.Value, &v); err != nil {
		return Written{}, err
	}
	versionID := tokenOr(in.Token)
	return decided(func() (Written, error) {
		sec, err := s.writable(ctx, scope, in.SecretID, "secretsmanager:UpdateSecret", nil)
		if err != nil {
			return Written{}, err
		}
		if w, ok, err := s.sameVersion(ctx, sec, in.Token, in.Value); err != nil || ok {
			return w, err
		}
		next := clone(sec)
		params := map[string]any{"secretId": in.SecretID}
		if in.Description != nil {
			next.Description = *in.Description
			params["description"] = *in.Description
		}
		if in.KmsKeyID != nil {
			next.KmsKeyID = *in.KmsKeyID
			params["kmsKeyId"] = *in.KmsKeyID
		}
		if in.Value.given() {
			// The new version is sealed under the key the update names.
			return s.newVersion(ctx, next, versionID, in.Value, nil, "UpdateSecret", params)
		}
		next.Rev, next.Changed = sec.Rev+1, s.now().UTC()
		return Written{ARN: sec.ARN, Name: sec.Name}, s.change(ctx, sec, sec.Rev, next, "UpdateSecret", params)
	})
}

// DescribeSecret returns a secret's metadata (a secret scheduled for
// deletion too, with its DeletedDate).
func (s *Service) DescribeSecret(ctx context.Context, scope Scope, id string) (*Secret, error) {
	sec, err := s.find(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, sec, "secretsmanager:DescribeSecret", nil); err != nil {
		return nil, err
	}
	return sec, nil
}

// GetValueInput is GetSecretValue's request.
type GetValueInput struct {
	SecretID     string
	VersionID    *string
	VersionStage *string
}

// SecretValue is a version's value, decrypted.
type SecretValue struct {
	ARN, Name, VersionID string
	Stages               []string
	Created              time.Time
	String               *string
	Binary               []byte
}

// GetSecretValue decrypts a version of a secret: the one VersionID names,
// or the one VersionStage labels (AWSCURRENT by default).
func (s *Service) GetSecretValue(ctx context.Context, scope Scope, in GetValueInput) (SecretValue, error) {
	var v validation
	if err := checkSecretID(in.SecretID); err != nil {
		return SecretValue{}, err
	}
	if in.VersionID != nil {
		v.length(*in.VersionID, "versionId", minTokenLength, maxTokenLength)
	}
	if in.VersionStage != nil {
		v.length(*in.VersionStage, "versionStage", 1, 256)
	}
	if err := v.err(); err != nil {
		return SecretValue{}, err
	}
	sec, err := s.find(ctx, scope, in.SecretID)
	if err != nil {
		return SecretValue{}, err
	}
	if err := s.authorize(ctx, sec, "secretsmanager:GetSecretValue", nil); err != nil {
		return SecretValue{}, err
	}
	if sec.Deleted != nil {
		return SecretValue{}, markedForDeletion()
	}
	ver, err := pickVersion(sec, in.VersionID, in.VersionStage)
	if err != nil {
		return SecretValue{}, err
	}
	pt, err := s.openVersion(ctx, sec, ver, false)
	if err != nil {
		return SecretValue{}, err
	}
	out := SecretValue{ARN: sec.ARN, Name: sec.Name, VersionID: ver.ID, Stages: slices.Clone(ver.Stages), Created: ver.Created}
	if ver.Binary {
		out.Binary = pt
	} else {
		str := string(pt)
		out.String = &str
	}
	return out, nil
}

func pickVersion(sec *Secret, id, stage *string) (*Version, error) {
	for i := range sec.Versions {
		v := &sec.Versions[i]
		switch {
		case id != nil && v.ID != *id:
		case stage != nil && !slices.Contains(v.Stages, *stage):
		case id == nil && stage == nil && !slices.Contains(v.Stages, StageCurrent):
		default:
			return v, nil
		}
	}
	switch {
	case id != nil && stage != nil:
		return nil, awserr.Errorf(CodeNotFound, "Secrets Manager can't find the specified secret value for VersionId: %s and staging label: %s", *id, *stage)
	case id != nil:
		return nil, awserr.Errorf(CodeNotFound, "Secrets Manager can't find the specified secret value for VersionId: %s", *id)
	case stage != nil:
		return nil, awserr.Errorf(CodeNotFound, "Secrets Manager can't find the specified secret value for staging label: %s", *stage)
	}
	return nil, awserr.Errorf(CodeNotFound, "Secrets Manager can't find the specified secret value for staging label: %s", StageCurrent)
}

// ValueForService returns the current value (SecretString) of the secret
// with this ARN in account, read by a service acting for the account
// (ECR's pull-through cache): IAM does not apply, the secret's resource
// policy does not either; the KMS key must be usable (enabled, not
// pending deletion). Errors: ErrSecretNotFound, ErrSecretAccess
// (scheduled for deletion, another account's, or no current string
// value), ErrSecretDecrypt.
func (s *Service) ValueForService(ctx context.Context, account, arn string) (string, error) {
	a, ok := awsid.Parse(arn)
	if !ok || a.Service != "secretsmanager" {
		return "", ErrSecretNotFound
	}
	if a.AccountID != account {
		return "", ErrSecretAccess
	}
	sec, err := s.find(ctx, Scope{Account: a.AccountID, Region: a.Region}, arn)
	if awserr.Code(err) == CodeNotFound || awserr.Code(err) == CodeValidation {
		return "", ErrSecretNotFound
	}
	if err != nil {
		return "", err
	}
	if sec.Deleted != nil {
		return "", ErrSecretAccess
	}
	ver, err := pickVersion(sec, nil, nil)
	if err != nil || ver.Binary {
		return "", ErrSecretAccess
	}
	pt, err := s.openVersion(ctx, sec, ver, true)
	if c := awserr.Code(err); c == CodeDecryptionFailure || c == CodeAccessDenied {
		return "", ErrSecretDecrypt
	}
	if err != nil {
		return "", err
	}
	return string(pt), nil
}

// Deleted is what DeleteSecret answers.
type Deleted struct {
	ARN, Name string
	Date      time.Time
}

// DeleteSecret schedules a secret's deletion after a recovery window (7
// to 30 days, 30 by default), or deletes it at once
// (ForceDeleteWithoutRecovery), a secret already scheduled too.
func (s *Service) DeleteSecret(ctx context.Context, scope Scope, id string, window *int64, force *bool) (Deleted, error) {
	if err := checkSecretID(id); err != nil {
		return Deleted{}, err
	}
	if window != nil && force != nil && *force {
		return Deleted{}, awserr.Errorf(CodeInvalidParameter, "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	days := int64(30)
	if window != nil {
		if *window < 7 || *window > 30 {
			return Deleted{}, awserr.Errorf(CodeInvalidParameter, "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
		}
		days = *window
	}
	forced := force != nil && *force
	return decided(func() (Deleted, error) {
		sec, err := s.find(ctx, scope, id)
		if err != nil {
			return Deleted{}, err
		}
		if err := s.authorize(ctx, sec, "secretsmanager:DeleteSecret", nil); err != nil {
			return Deleted{}, err
		}
		now := s.now().UTC()
		params := map[string]any{"secretId": id}
		if forced {
			params["forceDeleteWithoutRecovery"] = true
			return Deleted{ARN: sec.ARN, Name: sec.Name, Date: now}, s.change(ctx, sec, sec.Rev, nil, "DeleteSecret", params)
		}
		if sec.Deleted != nil {
			return Deleted{}, markedForDeletion()
		}
		params["recoveryWindowInDays"] = days
		next := clone(sec)
		next.Rev, next.Deleted, next.Purge = sec.Rev+1, &now, now.Add(time.Duration(days)*24*time.Hour)
		return Deleted{ARN: sec.ARN, Name: sec.Name, Date: next.Purge}, s.change(ctx, sec, sec.Rev, next, "DeleteSecret", params)
	})
}

// RestoreSecret cancels a secret's scheduled deletion.
func (s *Service) RestoreSecret(ctx context.Context, scope Scope, id string) (Written, error) {
	if err := checkSecretID(id); err != nil {
		return Written{}, err
	}
	return decided(func() (Written, error) {
		sec, err := s.find(ctx, scope, id)
		if err != nil {
			return Written{}, err
		}
		if err := s.authorize(ctx, sec, "secretsmanager:RestoreSecret", nil); err != nil {
			return Written{}, err
		}
		out := Written{ARN: sec.ARN, Name: sec.Name}
		if sec.Deleted == nil {
			return out, nil
		}
		next := clone(sec)
		next.Rev, next.Deleted, next.Purge, next.Changed = sec.Rev+1, nil, time.Time{}, s.now().UTC()
		return out, s.change(ctx, sec, sec.Rev, next, "RestoreSecret", map[string]any{"secretId": id})
	})
}

// UpdateStageInput is UpdateSecretVersionStage's request.
type UpdateStageInput struct {
	SecretID            string
	Stage               string
	MoveToVersionID     *string
	RemoveFromVersionID *string
}

// UpdateSecretVersionStage moves a staging label to a version, or
// removes it from one. AWSCURRENT can only move; moving it labels the
// version that had it AWSPREVIOUS.
func (s *Service) UpdateSecretVersionStage(ctx context.Context, scope Scope, in UpdateStageInput) (Written, error) {
	var v validation
	if err := checkSecretID(in.SecretID); err != nil {
		return Written{}, err
	}
	v.length(in.Stage, "versionStage", 1, 256)
	if in.MoveToVersionID != nil {
		v.length(*in.MoveToVersionID, "moveToVersionId", minTokenLength, maxTokenLength)
	}
	if in.RemoveFromVersionID != nil {
		v.length(*in.RemoveFromVersionID, "removeFromVersionId", minTokenLength, maxTokenLength)
	}
	if err := v.err(); err != nil {
		return Written{}, err
	}
	return decided(func() (Written, error) {
		sec, err := s.writable(ctx, scope, in.SecretID, "secretsmanager:UpdateSecretVersionStage", nil)
		if err != nil {
			return Written{}, err
		}
		holder := ""
		for _, ver := range sec.Versions {
			if slices.Contains(ver.Stages, in.Stage) {
				holder = ver.ID
			}
		}
		has := func(id string) bool {
			return slices.ContainsFunc(sec.Versions, func(v Version) bool { return v.ID == id })
		}
		next := clone(sec)
		params := map[string]any{"secretId": in.SecretID, "versionStage": in.Stage}
		switch {
		case in.MoveToVersionID != nil:
			to := *in.MoveToVersionID
			if !has(to) {
				return Written{}, awserr.Errorf(CodeInvalidParameter, "The version ID %s doesn't exist for the secret.", to)
			}
			if holder != "" && holder != to && deref(in.RemoveFromVersionID) != holder {
				return Written{}, awserr.Errorf(CodeInvalidParameter, "The parameter RemoveFromVersionId doesn't match the version %s that the staging label %s is currently attached to.", holder, in.Stage)
			}
			params["moveToVersionId"] = to
			moveStage(next, in.Stage, to)
		case in.RemoveFromVersionID != nil:
			from := *in.RemoveFromVersionID
			if in.Stage == StageCurrent {
				return Written{}, awserr.Errorf(CodeInvalidParameter, "You can only move staging label AWSCURRENT to a different secret version. It can’t be completely removed.")
			}
			if holder != from {
				return Written{}, awserr.Errorf(CodeInvalidParameter, "The staging label %s isn't attached to the version %s.", in.Stage, from)
			}
			params["removeFromVersionId"] = from
			for i := range next.Versions {
				if next.Versions[i].ID == from {
					next.Versions[i].Stages = slices.DeleteFunc(next.Versions[i].Stages, func(s string) bool { return s == in.Stage })
				}
			}
		default:
			return Written{}, awserr.Errorf(CodeInvalidParameter, "You must specify either MoveToVersionId or RemoveFromVersionId.")
		}
		for _, ver := range next.Versions {
			if len(ver.Stages) > maxStagesPerVersion {
				return Written{}, awserr.Errorf(CodeLimitExceeded, "You can't attach more than %d staging labels to a version.", maxStagesPerVersion)
			}
		}
		next.Rev, next.Changed = sec.Rev+1, s.now().UTC()
		return Written{ARN: sec.ARN, Name: sec.Name}, s.change(ctx, sec, sec.Rev, next, "UpdateSecretVersionStage", params)
	})
}

// TagResource adds tags to a secret, replacing the values of keys it has.
func (s *Service) TagResource(ctx context.Context, scope Scope, id string, tags []Tag) error {
	var v validation
	if err := checkSecretID(id); err != nil {
		return err
	}
	if err := checkTags(tags, &v); err != nil {
		return err
	}
	_, err := decided(func() (struct{}, error) {
		sec, err := s.writable(ctx, scope, id, "secretsmanager:TagResource", tags)
		if err != nil {
			return struct{}{}, err
		}
		next := clone(sec)
		for _, t := range tags {
			if i := slices.IndexFunc(next.Tags, func(x Tag) bool { return x.Key == t.Key }); i >= 0 {
				next.Tags[i].Value = t.Value
			} else {
				next.Tags = append(next.Tags, t)
			}
		}
		if len(next.Tags) > maxTags {
			return struct{}{}, awserr.Errorf(CodeInvalidParameter, "Number of tags exceeds the limit of %d tags per secret.", maxTags)
		}
		next.Rev = sec.Rev + 1
		keys := make([]string, len(tags))
		for i, t := range tags {
			keys[i] = t.Key
		}
		return struct{}{}, s.change(ctx, sec, sec.Rev, next, "TagResource", map[string]any{"secretId": id, "tagKeys": keys})
	})
	return err
}

// UntagResource removes tags from a secret.
func (s *Service) UntagResource(ctx context.Context, scope Scope, id string, keys []string) error {
	var v validation
	if err := checkSecretID(id); err != nil {
		return err
	}
	for i, k := range keys {
		v.length(k, "tagKeys."+itoa(i+1)+".member", 1, 128)
	}
	if err := v.err(); err != nil {
		return err
	}
	_, err := decided(func() (struct{}, error) {
		sec, err := s.writable(ctx, scope, id, "secretsmanager:UntagResource", nil)
		if err != nil {
			return struct{}{}, err
		}
		next := clone(sec)
		next.Tags = slices.DeleteFunc(next.Tags, func(t Tag) bool { return slices.Contains(keys, t.Key) })
		next.Rev = sec.Rev + 1
		return struct{}{}, s.change(ctx, sec, sec.Rev, next, "UntagResource", map[string]any{"secretId": id, "tagKeys": keys})
	})
	return err
}

// GetResourcePolicy returns a secret's resource policy ("" for none).
func (s *Service) GetResourcePolicy(ctx context.Context, scope Scope, id string) (*Secret, error) {
	sec, err := s.find(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, sec, "secretsmanager:GetResourcePolicy", nil); err != nil {
		return nil, err
	}
	return sec, nil
}

// PutResourcePolicy attaches a resource policy to a secret. With
// blockPublic (the default), a policy that grants anyone access is
// refused.
func (s *Service) PutResourcePolicy(ctx context.Context, scope Scope, id, policy string, blockPublic *bool) (Written, error) {
	var v validation
	if err := checkSecretID(id); err != nil {
		return Written{}, err
	}
	v.length(policy, "resourcePolicy", 1, maxPolicyLength)
	if err := v.err(); err != nil {
		return Written{}, err
	}
	if err := checkPolicy(policy, blockPublic == nil || *blockPublic); err != nil {
		return Written{}, err
	}
	return s.setPolicy(ctx, scope, id, policy, "secretsmanager:PutResourcePolicy", "PutResourcePolicy")
}

// DeleteResourcePolicy removes a secret's resource policy.
func (s *Service) DeleteResourcePolicy(ctx context.Context, scope Scope, id string) (Written, error) {
	if err := checkSecretID(id); err != nil {
		return Written{}, err
	}
	return s.setPolicy(ctx, scope, id, "", "secretsmanager:DeleteResourcePolicy", "DeleteResourcePolicy")
}

func (s *Service) setPolicy(ctx context.Context, scope Scope, id, policy, action, op string) (Written, error) {
	return decided(func() (Written, error) {
		sec, err := s.writable(ctx, scope, id, action, nil)
		if err != nil {
			return Written{}, err
		}
		out := Written{ARN: sec.ARN, Name: sec.Name}
		if sec.Policy == policy {
			return out, nil
		}
		next := clone(sec)
		next.Rev, next.Policy = sec.Rev+1, policy
		params := map[string]any{"secretId": id}
		if policy != "" {
			params["resourcePolicy"] = policy
		}
		return out, s.change(ctx, sec, sec.Rev, next, op, params)
	})
}
