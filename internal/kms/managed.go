package kms

import (
	"context"
	"errors"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/metadata"
)

// ECRAlias names the AWS managed key ECR encrypts repositories with when
// a repository asks for KMS encryption without naming a key.
const ECRAlias = "alias/aws/ecr"

// ecrKeyPolicy is the managed key's policy, after the policies AWS gives
// its managed keys: the account's principals may use the key through ECR
// (kms:ViaService), which ecrd's ECR does on their behalf without asking
// this policy; directly, they may only read its metadata. Nobody may
// change, disable or delete it.
func ecrKeyPolicy(scope Scope) string {
	return `{"Version":"2012-10-17","Id":"auto-ecr-1","Statement":[` +
		`{"Sid":"Allow access through Amazon ECR for all principals in the account that are authorized to use Amazon ECR","Effect":"Allow",` +
		`"Principal":{"AWS":"*"},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:CreateGrant","kms:DescribeKey"],"Resource":"*",` +
		`"Condition":{"StringEquals":{"kms:CallerAccount":"` + scope.Account + `","kms:ViaService":"ecr.` + scope.Region + `.amazonaws.com"}}},` +
		`{"Sid":"Allow direct access to key metadata to the account","Effect":"Allow",` +
		`"Principal":{"AWS":"` + awsid.Root(scope.Account) + `"},"Action":["kms:Describe*","kms:Get*","kms:List*","kms:RevokeGrant"],"Resource":"*"}]}`
}

// ECRManagedKey returns the account's AWS managed key for ECR in a region
// (alias/aws/ecr), creating it and its alias on first use, as AWS does.
// It does not authorize: ECR calls it on behalf of an authorized
// repository operation. The key rotates every year, as AWS managed keys
// do.
func (s *Service) ECRManagedKey(ctx context.Context, account, region string) (Key, error) {
	scope := Scope{Account: account, Region: region}
	if a, err := loadAlias(ctx, s.meta, scope, ECRAlias); err == nil {
		d, err := s.readKey(ctx, scope, a.TargetKeyID)
		if err == nil {
			return d.Key, nil
		}
		if awserr.Code(err) != CodeNotFound {
			return Key{}, err
		}
	} else if awserr.Code(err) != CodeNotFound {
		return Key{}, err
	}
	d, err := s.newKey(scope, "Default key for ECR", ManagerAWS, ecrKeyPolicy(scope))
	if err != nil {
		return Key{}, err
	}
	now := s.now().UTC()
	d.Rotation = Rotation{Enabled: true, PeriodInDays: defaultRotationDays, NextRotation: now.Add(days(defaultRotationDays))}
	var out Key
	created := call{action: "CreateKey", params: map[string]any{"description": d.Description, "keyUsage": d.KeyUsage, "keySpec": d.KeySpec, "origin": d.Origin}}
	aliased := call{action: "CreateAlias", params: map[string]any{"aliasName": ECRAlias, "targetKeyId": d.ID}}
	err = s.update(ctx, func(tx metadata.Tx, rec record) error {
		// Another request may have made it meanwhile: write transactions
		// are serialized, so looking again here settles it.
		if a, err := loadAlias(ctx, tx, scope, ECRAlias); err == nil {
			cur, err := s.loadKey(ctx, tx, scope, a.TargetKeyID)
			if err == nil {
				out = cur.Key
				return nil
			}
			if awserr.Code(err) != CodeNotFound {
				return err
			}
			if err := tx.DeleteIAMEntity(ctx, account, metadata.KMSAlias, aliasEntity(region, ECRAlias)); err != nil {
				return err
			}
		} else if awserr.Code(err) != CodeNotFound {
			return err
		}
		if err := saveKey(ctx, tx, d, true); err != nil {
			return err
		}
		a := &Alias{Name: ECRAlias, ARN: aliasARN(scope, ECRAlias), TargetKeyID: d.ID, Created: now, Updated: now}
		out = d.Key
		if err := saveAlias(ctx, tx, scope, a, true); err != nil {
			return err
		}
		if err := rec(scope, created, d.ARN); err != nil {
			return err
		}
		return rec(scope, aliased, a.ARN, d.ARN)
	})
	if errors.Is(err, metadata.ErrNotFound) {
		return Key{}, awserr.Errorf(CodeNotFound, "Account %s does not exist", account)
	}
	if err != nil {
		return Key{}, err
	}
	return out, nil
}
