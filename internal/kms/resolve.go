package kms

import (
	"context"
	"strings"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/awsid"
)

// ref is a key reference as a request gives it: a key ID, a key ARN, an
// alias name or an alias ARN, parsed.
type ref struct {
	scope Scope  // where the key or alias lives
	id    string // the key ID, for key IDs and key ARNs
	alias string // the alias name (alias/...), for alias names and ARNs
	raw   string
}

// parseRef reads a key reference made in scope. aliases says whether the
// operation takes aliases (most management operations take only key IDs
// and key ARNs, as on AWS).
func parseRef(s string, scope Scope, aliases bool) (ref, error) {
	r := ref{scope: scope, raw: s}
	switch {
	case strings.HasPrefix(s, "arn:"):
		a, ok := awsid.Parse(s)
		if !ok || a.Service != "kms" || a.Region == "" {
			return r, invalidARN(s)
		}
		res := a.Resource
		switch {
		case strings.HasPrefix(res, "key/"):
			r.id = strings.TrimPrefix(res, "key/")
		case strings.HasPrefix(res, "alias/") && aliases:
			r.alias = res
		case strings.HasPrefix(res, "alias/"):
			return r, awserr.Errorf(CodeNotFound, "Invalid keyId '%s'", s)
		default:
			return r, invalidARN(s)
		}
		if a.Region != scope.Region {
			// A key lives in one region: the request's region decides
			// which KMS answers, as on AWS.
			return r, awserr.Errorf(CodeNotFound, "Invalid arn %s", a.Region)
		}
		r.scope = Scope{Account: a.AccountID, Region: a.Region}
		if r.alias != "" {
			return r, nil
		}
	case strings.HasPrefix(s, "alias/"):
		if !aliases {
			return r, awserr.Errorf(CodeNotFound, "Invalid keyId '%s'", s)
		}
		r.alias = s
		return r, nil
	default:
		r.id = s
	}
	if !awsid.ValidUUID(r.id) {
		return r, awserr.Errorf(CodeNotFound, "Invalid keyId '%s'", r.id)
	}
	r.id = strings.ToLower(r.id)
	return r, nil
}

func invalidARN(s string) error {
	return awserr.Errorf(CodeInvalidArn, "%s is not a KMS key or alias ARN: use arn:aws:kms:<region>:<account>:key/<key-id> or arn:aws:kms:<region>:<account>:alias/<name>", s)
}

// resolve finds the key a reference names (a shared document: see
// readKey). An alias resolves to its target; alias/aws/ecr is created on
// first use in the caller's own account (autoCreate), as AWS creates its
// managed keys.
func (s *Service) resolve(ctx context.Context, rf ref, autoCreate bool) (*keyDoc, error) {
	if rf.alias == "" {
		return s.readKey(ctx, rf.scope, rf.id)
	}
	a, err := loadAlias(ctx, s.meta, rf.scope, rf.alias)
	if err != nil {
		if awserr.Code(err) == CodeNotFound && (rf.alias == ECRAlias || rf.alias == SecretsManagerAlias) && autoCreate {
			create := s.ECRManagedKey
			if rf.alias == SecretsManagerAlias {
				create = s.SecretsManagerManagedKey
			}
			k, err := create(ctx, rf.scope.Account, rf.scope.Region)
			if err != nil {
				return nil, err
			}
			return s.readKey(ctx, rf.scope, k.ID)
		}
		return nil, err
	}
	return s.readKey(ctx, rf.scope, a.TargetKeyID)
}

// access is how an operation reaches a key.
type access struct {
	action  string // the IAM action: kms:DescribeKey ...
	aliases bool   // the reference may be an alias
	// crossAccount: the operation may name another account's key by ARN.
	// For the others KMS looks only in the caller's account, so another
	// account's key is NotFoundException.
	crossAccount bool
	state        func(*Key) error // the key states the operation accepts (nil: all)
	encCtx       map[string]string
}

// key resolves a reference, authorizes the operation on the key and
// checks the key's state, in that order, as KMS does.
func (s *Service) key(ctx context.Context, scope Scope, keyRef string, a access) (*keyDoc, error) {
	var v validation
	v.keyRef(keyRef, "keyId")
	if err := v.err(); err != nil {
		return nil, err
	}
	rf, err := parseRef(keyRef, scope, a.aliases)
	if err != nil {
		return nil, err
	}
	if rf.scope.Account != scope.Account && !a.crossAccount {
		return nil, awserr.Errorf(CodeNotFound, "Key '%s' does not exist", keyRef)
	}
	d, err := s.resolve(ctx, rf, rf.scope.Account == callerAccount(ctx))
	if err != nil {
		return nil, err
	}
	if err := s.authorizeKey(ctx, a.action, &d.Key, a.encCtx); err != nil {
		return nil, err
	}
	if a.state != nil {
		if err := a.state(&d.Key); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Key state rules, with KMS's errors.

// usable: enabled (encryption, rotation).
func usable(k *Key) error {
	switch k.State {
	case StateDisabled:
		return awserr.Errorf(CodeDisabled, "%s is disabled.", k.ARN)
	case StatePendingDeletion:
		return awserr.Errorf(CodeInvalidState, "%s is pending deletion.", k.ARN)
	}
	return nil
}

// notPending: enabled or disabled (most management operations).
func notPending(k *Key) error {
	if k.State == StatePendingDeletion {
		return awserr.Errorf(CodeInvalidState, "%s is pending deletion.", k.ARN)
	}
	return nil
}

// pending: pending deletion (CancelKeyDeletion).
func pending(k *Key) error {
	if k.State != StatePendingDeletion {
		return awserr.Errorf(CodeInvalidState, "%s is not pending deletion.", k.ARN)
	}
	return nil
}
