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
	return s.managedKey(ctx, scope, ECRAlias, "Default key for ECR", ecrKeyPolicy(scope))
}

// SecretsManagerAlias names the AWS managed key Secrets Manager encrypts
// a secret's values with when the secret names no key.
const SecretsManagerAlias = "alias/aws/secretsmanager"

// secretsManagerKeyPolicy is that key's policy, after AWS's: the
// account's principals may use it through Secrets Manager only.
func secretsManagerKeyPolicy(scope Scope) string {
	return `{"Version":"2012-10-17","Id":"auto-secretsmanager-2","Statement":[` +
		`{"Sid":"Allow access through AWS Secrets Manager for all principals in the account that are authorized to use AWS Secrets Manager","Effect":"Allow",` +
		`"Principal":{"AWS":"*"},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:CreateGrant","kms:DescribeKey"],"Resource":"*",` +
		`"Condition":{"StringEquals":{"kms:CallerAccount":"` + scope.Account + `","kms:ViaService":"secretsmanager.` + scope.Region + `.amazonaws.com"}}},` +
		`{"Sid":"Allow direct access to key metadata to the account","Effect":"Allow",` +
		`"Principal":{"AWS":"` + awsid.Root(scope.Account) + `"},"Action":["kms:Describe*","kms:Get*","kms:List*","kms:RevokeGrant"],"Resource":"*"}]}`
}

// SecretsManagerManagedKey returns the account's AWS managed key for
// Secrets Manager in a region (alias/aws/secretsmanager), creating it on
// first use as ECRManagedKey does. It does not authorize.
func (s *Service) SecretsManagerManagedKey(ctx context.Context, account, region string) (Key, error) {
	scope := Scope{Account: account, Region: region}
	return s.managedKey(ctx, scope, SecretsManagerAlias, "Default key that protects my Secrets Manager data when no other key is defined", secretsManagerKeyPolicy(scope))
}

// ViaService marks a request made by another AWS service on its caller's
// behalf (kms:ViaService, e.g. "secretsmanager.us-east-1.amazonaws.com"),
// which key policies such as the managed keys' read.
func ViaService(ctx context.Context, service string) context.Context {
	prev := requestConditions(ctx)
	return withConditions(ctx, func(set func(k, v string)) {
		if prev != nil {
			prev(set)
		}
		set("kms:ViaService", service)
	})
}

// managedKey returns the AWS managed key an alias names, creating the key
// and its alias on first use.
func (s *Service) managedKey(ctx context.Context, scope Scope, alias, description, policy string) (Key, error) {
	account, region := scope.Account, scope.Region
	if a, err := loadAlias(ctx, s.meta, scope, alias); err == nil {
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
	d, err := s.newKey(scope, description, ManagerAWS, policy)
	if err != nil {
		return Key{}, err
	}
	now := s.now().UTC()
	d.Rotation = Rotation{Enabled: true, PeriodInDays: defaultRotationDays, NextRotation: now.Add(days(defaultRotationDays))}
	var out Key
	created := call{action: "CreateKey", params: map[string]any{"description": d.Description, "keyUsage": d.KeyUsage, "keySpec": d.KeySpec, "origin": d.Origin}}
	aliased := call{action: "CreateAlias", params: map[string]any{"aliasName": alias, "targetKeyId": d.ID}}
	err = s.update(ctx, func(tx metadata.Tx, rec record) error {
		// Another request may have made it meanwhile: write transactions
		// are serialized, so looking again here settles it.
		if a, err := loadAlias(ctx, tx, scope, alias); err == nil {
			cur, err := s.loadKey(ctx, tx, scope, a.TargetKeyID)
			if err == nil {
				out = cur.Key
				return nil
			}
			if awserr.Code(err) != CodeNotFound {
				return err
			}
			if err := tx.DeleteIAMEntity(ctx, account, metadata.KMSAlias, aliasEntity(region, alias)); err != nil {
				return err
			}
		} else if awserr.Code(err) != CodeNotFound {
			return err
		}
		if err := saveKey(ctx, tx, d, true); err != nil {
			return err
		}
		a := &Alias{Name: alias, ARN: aliasARN(scope, alias), TargetKeyID: d.ID, Created: now, Updated: now}
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
