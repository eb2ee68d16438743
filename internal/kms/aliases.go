package kms

import (
	"context"
	"errors"
	"strings"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/metadata"
)

// checkAliasName checks an alias name a customer gives: the model's
// constraints, the alias/ prefix, and the alias/aws/ prefix that AWS
// keeps for its managed keys.
func checkAliasName(name string) error {
	var v validation
	v.length(name, "aliasName", 1, maxAliasLength)
	if v.err() == nil {
		v.pattern(name, "aliasName", aliasNameRE)
	}
	if err := v.err(); err != nil {
		return err
	}
	if !strings.HasPrefix(name, "alias/") || name == "alias/" {
		return awserr.Errorf(CodeValidation, `Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html`)
	}
	if strings.HasPrefix(name, "alias/aws/") {
		return awserr.Errorf(CodeInvalidAliasName, "Alias %s starts with alias/aws/, which is reserved for AWS managed keys: choose another name", name)
	}
	return nil
}

// target resolves the key an alias is to name: a key of the caller's
// scope, by key ID or key ARN, not pending deletion; the caller must be
// allowed action on it by its key policy.
func (s *Service) target(ctx context.Context, scope Scope, keyRef, action string) (*keyDoc, error) {
	var v validation
	v.keyRef(keyRef, "targetKeyId")
	if err := v.err(); err != nil {
		return nil, err
	}
	return s.key(ctx, scope, keyRef, access{action: action, state: notPending})
}

// CreateAlias gives a key of the scope a friendly name. The caller needs
// kms:CreateAlias on the alias (identity policies) and on the key (its
// key policy).
func (s *Service) CreateAlias(ctx context.Context, scope Scope, name, targetKeyRef string) error {
	if err := checkAliasName(name); err != nil {
		return err
	}
	arn := aliasARN(scope, name)
	if err := s.authorizeAccount(ctx, "kms:CreateAlias", arn, scope.Account, nil); err != nil {
		return err
	}
	c := call{action: "CreateAlias", params: map[string]any{"aliasName": name, "targetKeyId": targetKeyRef}}
	return s.decided(func() error {
		d, err := s.target(ctx, scope, targetKeyRef, "kms:CreateAlias")
		if err != nil {
			return err
		}
		return s.update(ctx, func(tx metadata.Tx, rec record) error {
			k, err := s.targetDecidedOn(ctx, tx, d)
			if err != nil {
				return err
			}
			old, err := loadAlias(ctx, tx, scope, name)
			switch {
			case err == nil:
				// An alias of a deleted key went with it.
				if _, kerr := s.loadKey(ctx, tx, scope, old.TargetKeyID); awserr.Code(kerr) != CodeNotFound {
					return awserr.Errorf(CodeAlreadyExists, "An alias with the name %s already exists", old.ARN)
				}
				if err := tx.DeleteIAMEntity(ctx, scope.Account, metadata.KMSAlias, aliasEntity(scope.Region, old.Name)); err != nil {
					return err
				}
			case awserr.Code(err) != CodeNotFound:
				return err
			}
			now := s.now().UTC()
			a := &Alias{Name: name, ARN: arn, TargetKeyID: d.ID, Created: now, Updated: now}
			err = saveAlias(ctx, tx, scope, a, true)
			if errors.Is(err, metadata.ErrExists) {
				return awserr.Errorf(CodeAlreadyExists, "An alias with the name %s already exists", arn)
			}
			if err != nil {
				return err
			}
			return rec(scope, c, arn, k.ARN)
		})
	})
}

// targetDecidedOn reads, in a transaction, the key d an alias is to name,
// which must not be pending deletion and must be as the decision to
// allow the change read it.
func (s *Service) targetDecidedOn(ctx context.Context, tx metadata.Tx, d *keyDoc) (*keyDoc, error) {
	k, err := s.loadKey(ctx, tx, Scope{Account: d.Account, Region: d.Region}, d.ID)
	if err != nil {
		return nil, err
	}
	if err := decidedOn(&d.Key, &k.Key); err != nil {
		return nil, err
	}
	return k, notPending(&k.Key)
}

// aliasDecision authorizes action on an alias of the scope: on the alias
// (identity policies), and on the key it names by its key policy, unless
// that key is gone. It returns the alias and the key, as read (nil when
// gone).
func (s *Service) aliasDecision(ctx context.Context, scope Scope, name, action string) (*Alias, *keyDoc, error) {
	a, err := loadAlias(ctx, s.meta, scope, name)
	if err != nil {
		return nil, nil, err
	}
	if err := s.authorizeAccount(ctx, action, a.ARN, scope.Account, nil); err != nil {
		return nil, nil, err
	}
	k, err := s.readKey(ctx, scope, a.TargetKeyID)
	if awserr.Code(err) == CodeNotFound {
		return a, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	return a, k, s.authorizeKey(ctx, action, &k.Key, nil)
}

// aliasDecidedOn reads, in a transaction, an alias that a change was
// decided on (aliasDecision's a and k): it must still name key k, as the
// decision read it. A key gone since stays gone (key IDs are never
// reused), and a decision with it asked more than one without it.
func (s *Service) aliasDecidedOn(ctx context.Context, tx metadata.Tx, scope Scope, a *Alias, k *keyDoc) (*Alias, error) {
	cur, err := loadAlias(ctx, tx, scope, a.Name)
	if awserr.Code(err) == CodeNotFound {
		return nil, awserr.Errorf(CodeNotFound, "Alias %s is not found.", a.ARN)
	} else if err != nil {
		return nil, err
	}
	if cur.TargetKeyID != a.TargetKeyID {
		return nil, &staleError{arn: a.ARN}
	}
	if k == nil {
		return cur, nil
	}
	now, err := s.loadKey(ctx, tx, scope, k.ID)
	if awserr.Code(err) == CodeNotFound {
		return cur, nil
	} else if err != nil {
		return nil, err
	}
	return cur, decidedOn(&k.Key, &now.Key)
}

// UpdateAlias points an alias at another key of the scope. The caller
// needs kms:UpdateAlias on the alias, and on both keys by their policies.
func (s *Service) UpdateAlias(ctx context.Context, scope Scope, name, targetKeyRef string) error {
	if err := checkAliasName(name); err != nil {
		return err
	}
	c := call{action: "UpdateAlias", params: map[string]any{"aliasName": name, "targetKeyId": targetKeyRef}}
	return s.decided(func() error {
		a, old, err := s.aliasDecision(ctx, scope, name, "kms:UpdateAlias")
		if err != nil {
			return err
		}
		d, err := s.target(ctx, scope, targetKeyRef, "kms:UpdateAlias")
		if err != nil {
			return err
		}
		return s.update(ctx, func(tx metadata.Tx, rec record) error {
			cur, err := s.aliasDecidedOn(ctx, tx, scope, a, old)
			if err != nil {
				return err
			}
			k, err := s.targetDecidedOn(ctx, tx, d)
			if err != nil {
				return err
			}
			cur.TargetKeyID, cur.Updated = d.ID, s.now().UTC()
			if err := saveAlias(ctx, tx, scope, cur, false); err != nil {
				return err
			}
			return rec(scope, c, cur.ARN, k.ARN)
		})
	})
}

// DeleteAlias removes an alias; its key stays. The caller needs
// kms:DeleteAlias on the alias, and on the key by its policy.
func (s *Service) DeleteAlias(ctx context.Context, scope Scope, name string) error {
	if err := checkAliasName(name); err != nil {
		return err
	}
	c := call{action: "DeleteAlias", params: map[string]any{"aliasName": name}}
	return s.decided(func() error {
		a, k, err := s.aliasDecision(ctx, scope, name, "kms:DeleteAlias")
		if err != nil {
			return err
		}
		err = s.update(ctx, func(tx metadata.Tx, rec record) error {
			cur, err := s.aliasDecidedOn(ctx, tx, scope, a, k)
			if err != nil {
				return err
			}
			if err := tx.DeleteIAMEntity(ctx, scope.Account, metadata.KMSAlias, aliasEntity(scope.Region, cur.Name)); err != nil {
				return err
			}
			return rec(scope, c, a.ARN, keyARN(scope, a.TargetKeyID))
		})
		if errors.Is(err, metadata.ErrNotFound) {
			return awserr.Errorf(CodeNotFound, "Alias %s is not found.", a.ARN)
		}
		return err
	})
}

// ListAliases lists the aliases of the scope in name order, or only those
// of one key (keyRef, by key ID or ARN), limit at a time (nil: 50, at
// most 100), after marker (the last alias name of the previous page).
func (s *Service) ListAliases(ctx context.Context, scope Scope, keyRef string, limit *int, marker string) (aliases []Alias, next string, err error) {
	var v validation
	n := v.limit(limit, 50, 100)
	v.marker(marker)
	if keyRef != "" {
		v.keyRef(keyRef, "keyId")
	}
	if err := v.err(); err != nil {
		return nil, "", err
	}
	if err := s.authorizeAccount(ctx, "kms:ListAliases", "*", scope.Account, nil); err != nil {
		return nil, "", err
	}
	only := ""
	if keyRef != "" {
		rf, err := parseRef(keyRef, scope, false)
		if err != nil {
			return nil, "", err
		}
		if rf.scope.Account != scope.Account {
			return nil, "", awserr.Errorf(CodeNotFound, "Key '%s' does not exist", keyRef)
		}
		d, err := s.readKey(ctx, rf.scope, rf.id)
		if err != nil {
			return nil, "", err
		}
		only = d.ID
	}
	docs, err := s.listKeys(ctx, s.meta, scope)
	if err != nil {
		return nil, "", err
	}
	live := make(map[string]bool, len(docs))
	for _, d := range docs {
		live[d.ID] = true
	}
	all, err := listAliases(ctx, s.meta, scope)
	if err != nil {
		return nil, "", err
	}
	for _, a := range all {
		if !live[a.TargetKeyID] || (only != "" && a.TargetKeyID != only) || (marker != "" && strings.ToLower(a.Name) <= strings.ToLower(marker)) {
			continue
		}
		if len(aliases) == n {
			return aliases, aliases[n-1].Name, nil
		}
		aliases = append(aliases, *a)
	}
	return aliases, "", nil
}
