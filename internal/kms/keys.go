package kms

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/metadata"
)

// DefaultKeyPolicy is the key policy KMS gives a key created without
// one: it delegates the key to the account's IAM.
func DefaultKeyPolicy(account string) string {
	return `{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow",` +
		`"Principal":{"AWS":"` + awsid.Root(account) + `"},"Action":"kms:*","Resource":"*"}]}`
}

// CreateKeyInput is what CreateKey takes; zero values are "not given".
type CreateKeyInput struct {
	Policy                         string
	Description                    string
	KeyUsage                       string
	KeySpec                        string
	CustomerMasterKeySpec          string // deprecated alias of KeySpec
	Origin                         string
	CustomKeyStoreID               string
	XksKeyID                       string
	Tags                           []Tag
	BypassPolicyLockoutSafetyCheck bool
	MultiRegion                    bool
}

// CreateKey creates a key, enabled, with its first key material: a
// symmetric encryption key unless KeySpec (with KeyUsage) says otherwise.
func (s *Service) CreateKey(ctx context.Context, scope Scope, in CreateKeyInput) (Key, error) {
	var v validation
	v.length(in.Description, "description", 0, maxDescriptionLength)
	if in.Policy != "" {
		v.length(in.Policy, "policy", 1, maxPolicyLength)
	}
	v.enum(in.KeyUsage, "keyUsage", keyUsages)
	v.enum(in.KeySpec, "keySpec", keySpecs)
	v.enum(in.CustomerMasterKeySpec, "customerMasterKeySpec", cmkSpecs)
	v.enum(in.Origin, "origin", origins)
	if err := v.err(); err != nil {
		return Key{}, err
	}
	if in.KeySpec != "" && in.CustomerMasterKeySpec != "" {
		return Key{}, awserr.Errorf(CodeValidation, "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.")
	}
	spec := firstOf(in.KeySpec, in.CustomerMasterKeySpec, SpecSymmetric)
	if spec != SpecSymmetric && in.KeyUsage == "" {
		return Key{}, awserr.Errorf(CodeValidation, "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.")
	}
	usage := firstOf(in.KeyUsage, UsageEncryptDecrypt)
	if !slices.Contains(specUsages[spec], usage) {
		return Key{}, awserr.Errorf(CodeValidation, "KeyUsage %s is not compatible with KeySpec %s", usage, spec)
	}
	if !served(spec, usage) {
		return Key{}, awserr.Errorf(CodeUnsupported, "ecrd does not make keys of KeySpec %s with KeyUsage %s: it makes symmetric encryption keys, RSA keys (RSA_2048, RSA_3072, RSA_4096) that sign or encrypt, and ECDSA keys (ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521) that sign", spec, usage)
	}
	if in.Origin != "" && in.Origin != OriginAWSKMS {
		return Key{}, awserr.Errorf(CodeUnsupported, "ecrd supports only key material that KMS generates: Origin %s is not supported; omit Origin or give AWS_KMS", in.Origin)
	}
	if in.CustomKeyStoreID != "" || in.XksKeyID != "" {
		return Key{}, awserr.Errorf(CodeUnsupported, "ecrd has no custom key stores: omit CustomKeyStoreId and XksKeyId")
	}
	if in.MultiRegion {
		return Key{}, awserr.Errorf(CodeUnsupported, "ecrd does not support multi-Region keys: create the key with MultiRegion false")
	}
	if err := validTags(in.Tags); err != nil {
		return Key{}, err
	}
	if err := s.authorizeAccount(ctx, "kms:CreateKey", "*", scope.Account, requestTags(ctx, in.Tags)); err != nil {
		return Key{}, err
	}
	d, err := s.newKeyOf(scope, in.Description, ManagerCustomer, DefaultKeyPolicy(scope.Account), spec, usage)
	if err != nil {
		return Key{}, err
	}
	d.Tags = slices.Clone(in.Tags)
	if in.Policy != "" {
		pol, err := parseKeyPolicy(in.Policy)
		if err != nil {
			return Key{}, err
		}
		d.Policy = in.Policy
		if !in.BypassPolicyLockoutSafetyCheck {
			if err := s.checkLockout(ctx, &d.Key, pol); err != nil {
				return Key{}, err
			}
		}
	}
	c := call{action: "CreateKey", params: map[string]any{"description": in.Description, "keyUsage": usage, "keySpec": spec,
		"origin": OriginAWSKMS, "bypassPolicyLockoutSafetyCheck": in.BypassPolicyLockoutSafetyCheck, "multiRegion": false}}
	if in.Policy != "" {
		c.params["policy"] = in.Policy
	}
	if len(in.Tags) > 0 {
		c.params["tags"] = wireTags(in.Tags)
	}
	err = s.update(ctx, func(tx metadata.Tx, rec record) error {
		if err := s.purgeDeleted(ctx, tx, scope, rec); err != nil {
			return err
		}
		if err := saveKey(ctx, tx, d, true); err != nil {
			return err
		}
		return rec(scope, c, d.ARN)
	})
	if err != nil {
		return Key{}, err
	}
	return d.Key, nil
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// newKey makes a symmetric encryption key document with a new ID and its
// first material.
func (s *Service) newKey(scope Scope, description, manager, policy string) (*keyDoc, error) {
	return s.newKeyOf(scope, description, manager, policy, SpecSymmetric, UsageEncryptDecrypt)
}

// newKeyOf makes a key document of a spec and usage with a new ID and its
// first material (an asymmetric key's key pair, generated here).
func (s *Service) newKeyOf(scope Scope, description, manager, policy, spec, usage string) (*keyDoc, error) {
	id := awsid.NewUUID()
	now := s.now().UTC()
	d := &keyDoc{Key: Key{
		ID: id, ARN: keyARN(scope, id), Account: scope.Account, Region: scope.Region,
		Description: description, CreationDate: now, State: StateEnabled,
		KeyUsage: usage, KeySpec: spec, Origin: OriginAWSKMS, KeyManager: manager,
		Policy: policy, Rotation: Rotation{PeriodInDays: defaultRotationDays},
	}}
	if spec != SpecSymmetric {
		// Only symmetric keys rotate, and only their material ID shows.
		d.Rotation = Rotation{}
		if err := s.addKeyPair(d); err != nil {
			return nil, err
		}
		return d, nil
	}
	if err := s.addMaterial(d); err != nil {
		return nil, err
	}
	return d, nil
}

// addMaterial adds a key material version and makes it current.
func (s *Service) addMaterial(d *keyDoc) error {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	idb := make([]byte, 32)
	if _, err := rand.Read(idb); err != nil {
		return err
	}
	version := 1
	if n := len(d.Materials); n > 0 {
		version = d.Materials[n-1].Version + 1
	}
	m := material{Version: version, ID: hex.EncodeToString(idb), Sealed: s.keys.Seal(raw, materialContext(d.ARN, version)), Created: s.now().UTC()}
	d.Materials = append(d.Materials, m)
	d.CurrentMaterialID = m.ID
	return nil
}

// purgeDeleted removes the keys of a scope whose deletion has come due,
// with their grants and the aliases that named them, and records each
// key's deletion, which KMS makes on its own. Reads already treat such
// keys as gone; this only reclaims their documents.
func (s *Service) purgeDeleted(ctx context.Context, tx metadata.Tx, scope Scope, rec record) error {
	es, err := tx.IAMEntities(ctx, scope.Account, metadata.KMSKey)
	if err != nil {
		return err
	}
	prefix := scope.Region + "/"
	live := map[string]bool{}
	for _, e := range es {
		if !strings.HasPrefix(e.Name, prefix) {
			continue
		}
		id := strings.TrimPrefix(e.Name, prefix)
		if _, err := s.loadKey(ctx, tx, scope, id); awserr.Code(err) == CodeNotFound {
			if err := tx.DeleteIAMEntity(ctx, scope.Account, metadata.KMSKey, e.Name); err != nil {
				return err
			}
			// Its grants go with it.
			if err := saveGrants(ctx, tx, scope.Account, scope.Region, id, nil); err != nil {
				return err
			}
			if err := rec(scope, call{action: "DeleteKey", params: map[string]any{"keyId": id}, byKMS: true}, keyARN(scope, id)); err != nil {
				return err
			}
			continue
		} else if err != nil {
			return err
		}
		live[id] = true
	}
	aliases, err := listAliases(ctx, tx, scope)
	if err != nil {
		return err
	}
	for _, a := range aliases {
		if !live[a.TargetKeyID] {
			if err := tx.DeleteIAMEntity(ctx, scope.Account, metadata.KMSAlias, aliasEntity(scope.Region, a.Name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// change resolves the key keyRef names and authorizes a on it (key),
// checks it with pre (nil: nothing more) before the transaction, then
// runs fn on the key's current document in a write transaction, saves it
// and records c. fn re-checks the key's state against what the
// transaction reads; the transaction refuses a stale decision (see
// decided).
func (s *Service) change(ctx context.Context, scope Scope, keyRef string, a access, pre func(d *keyDoc) error, c call, fn func(d *keyDoc) error) (Key, error) {
	var out Key
	err := s.decided(func() error {
		d, err := s.key(ctx, scope, keyRef, a)
		if err != nil {
			return err
		}
		if pre != nil {
			if err := pre(d); err != nil {
				return err
			}
		}
		out, err = s.changeDecided(ctx, d, c, fn)
		return err
	})
	return out, err
}

// changeDecided runs fn on the current document of key d, resolved and
// authorized before, in a write transaction, saves it and records c.
func (s *Service) changeDecided(ctx context.Context, d *keyDoc, c call, fn func(d *keyDoc) error) (Key, error) {
	var out Key
	scope := Scope{Account: d.Account, Region: d.Region}
	err := s.update(ctx, func(tx metadata.Tx, rec record) error {
		cur, err := s.loadKey(ctx, tx, scope, d.ID)
		if err != nil {
			return err
		}
		if err := decidedOn(&d.Key, &cur.Key); err != nil {
			return err
		}
		if err := fn(cur); err != nil {
			return err
		}
		out = cur.Key
		if err := saveKey(ctx, tx, cur, false); err != nil {
			return err
		}
		return rec(scope, c, cur.ARN)
	})
	return out, err
}

// DescribeKey returns a key's metadata. The key may be named by ID, ARN,
// alias name or alias ARN; describing alias/aws/ecr creates it.
func (s *Service) DescribeKey(ctx context.Context, scope Scope, keyRef string) (Key, error) {
	d, err := s.key(ctx, scope, keyRef, access{action: "kms:DescribeKey", aliases: true, crossAccount: true})
	if err != nil {
		return Key{}, err
	}
	return d.Key, nil
}

// ListKeys lists the keys of the scope in key ID order, limit at a time
// (nil: 100, at most 1000), after marker (the last key ID of the
// previous page). next is the marker of the next page, "" at the end.
func (s *Service) ListKeys(ctx context.Context, scope Scope, limit *int, marker string) (keys []Key, next string, err error) {
	var v validation
	n := v.limit(limit, 100, 1000)
	v.marker(marker)
	if err := v.err(); err != nil {
		return nil, "", err
	}
	if err := s.authorizeAccount(ctx, "kms:ListKeys", "*", scope.Account, nil); err != nil {
		return nil, "", err
	}
	docs, err := s.listKeys(ctx, s.meta, scope)
	if err != nil {
		return nil, "", err
	}
	for _, d := range docs {
		if marker != "" && d.ID <= marker {
			continue
		}
		if len(keys) == n {
			return keys, keys[n-1].ID, nil
		}
		keys = append(keys, d.Key)
	}
	return keys, "", nil
}

// checkPolicyName accepts the one key policy name there is.
func checkPolicyName(name string) error {
	var v validation
	v.length(name, "policyName", 1, 128)
	if v.err() == nil {
		v.pattern(name, "policyName", policyNameRE)
	}
	if err := v.err(); err != nil {
		return err
	}
	if name != "default" {
		return awserr.Errorf(CodeNotFound, "No such policy exists: a key has one policy, named default")
	}
	return nil
}

// KeyPolicy returns a key's policy. policyName "" means "default", the
// only one.
func (s *Service) KeyPolicy(ctx context.Context, scope Scope, keyRef, policyName string) (string, error) {
	if err := checkPolicyName(firstOf(policyName, "default")); err != nil {
		return "", err
	}
	d, err := s.key(ctx, scope, keyRef, access{action: "kms:GetKeyPolicy"})
	if err != nil {
		return "", err
	}
	return d.Policy, nil
}

// ListKeyPolicies lists a key's policy names: there is one, "default".
func (s *Service) ListKeyPolicies(ctx context.Context, scope Scope, keyRef string) ([]string, error) {
	if _, err := s.key(ctx, scope, keyRef, access{action: "kms:ListKeyPolicies"}); err != nil {
		return nil, err
	}
	return []string{"default"}, nil
}

// PutKeyPolicy replaces a key's policy. Unless bypass is set, the new
// policy must still let the caller change it.
func (s *Service) PutKeyPolicy(ctx context.Context, scope Scope, keyRef, policyName, policy string, bypass bool) error {
	var v validation
	v.length(policy, "policy", 1, maxPolicyLength)
	if err := v.err(); err != nil {
		return err
	}
	if err := checkPolicyName(firstOf(policyName, "default")); err != nil {
		return err
	}
	// The new policy must still let the caller change it.
	lockout := func(d *keyDoc) error {
		pol, err := parseKeyPolicy(policy)
		if err != nil || bypass {
			return err
		}
		return s.checkLockout(ctx, &d.Key, pol)
	}
	c := onKey("PutKeyPolicy", keyRef, "policyName", firstOf(policyName, "default"), "policy", policy, "bypassPolicyLockoutSafetyCheck", bypass)
	_, err := s.change(ctx, scope, keyRef, access{action: "kms:PutKeyPolicy"}, lockout, c, func(d *keyDoc) error {
		d.Policy = policy
		return nil
	})
	return err
}

// EnableKeyRotation turns automatic rotation on, every periodDays (nil:
// 365) days from now.
func (s *Service) EnableKeyRotation(ctx context.Context, scope Scope, keyRef string, periodDays *int) error {
	period := defaultRotationDays
	if periodDays != nil {
		var v validation
		v.number(*periodDays, "rotationPeriodInDays", minRotationPeriod, maxRotationPeriod)
		if err := v.err(); err != nil {
			return err
		}
		period = *periodDays
	}
	_, err := s.change(ctx, scope, keyRef, access{action: "kms:EnableKeyRotation", state: usable}, rotates, onKey("EnableKeyRotation", keyRef, "rotationPeriodInDays", period), func(d *keyDoc) error {
		if err := usable(&d.Key); err != nil {
			return err
		}
		d.Rotation.Enabled = true
		d.Rotation.PeriodInDays = period
		d.Rotation.NextRotation = s.now().UTC().Add(days(period))
		return nil
	})
	return err
}

// DisableKeyRotation turns automatic rotation off.
func (s *Service) DisableKeyRotation(ctx context.Context, scope Scope, keyRef string) error {
	_, err := s.change(ctx, scope, keyRef, access{action: "kms:DisableKeyRotation", state: usable}, rotates, onKey("DisableKeyRotation", keyRef), func(d *keyDoc) error {
		if err := usable(&d.Key); err != nil {
			return err
		}
		d.Rotation.Enabled = false
		d.Rotation.NextRotation = time.Time{}
		return nil
	})
	return err
}

// rotates refuses rotation settings on keys that do not rotate: only
// symmetric encryption keys do, as on AWS.
func rotates(d *keyDoc) error {
	if d.KeySpec != SpecSymmetric {
		return awserr.Errorf(CodeUnsupported, "%s key spec %s does not support rotation: only symmetric encryption keys rotate.", d.ARN, d.KeySpec)
	}
	return nil
}

// KeyRotationStatus returns a key (for its ARN) and its rotation setting
// (never enabled for keys that do not rotate).
func (s *Service) KeyRotationStatus(ctx context.Context, scope Scope, keyRef string) (Key, error) {
	d, err := s.key(ctx, scope, keyRef, access{action: "kms:GetKeyRotationStatus", crossAccount: true})
	if err != nil {
		return Key{}, err
	}
	return d.Key, nil
}

// RotateKeyOnDemand rotates a key's material now: new ciphertexts use the
// new material, old ones still decrypt. AWS allows ten per key.
func (s *Service) RotateKeyOnDemand(ctx context.Context, scope Scope, keyRef string) (Key, error) {
	return s.change(ctx, scope, keyRef, access{action: "kms:RotateKeyOnDemand", state: usable}, rotates, onKey("RotateKeyOnDemand", keyRef), func(d *keyDoc) error {
		if err := usable(&d.Key); err != nil {
			return err
		}
		if d.Rotation.OnDemand >= maxOnDemandRotations {
			return awserr.Errorf(CodeLimitExceeded, "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: %s", d.ARN)
		}
		d.Rotation.OnDemand++
		return s.addMaterial(d)
	})
}

// ScheduleKeyDeletion schedules a key's deletion in pendingDays (nil: 30)
// days. The key is PendingDeletion at once: it can no longer be used,
// and CancelKeyDeletion can still save it until the date.
func (s *Service) ScheduleKeyDeletion(ctx context.Context, scope Scope, keyRef string, pendingDays *int) (Key, error) {
	window := defaultPendingWindow
	if pendingDays != nil {
		var v validation
		v.number(*pendingDays, "pendingWindowInDays", minPendingWindow, maxPendingWindow)
		if err := v.err(); err != nil {
			return Key{}, err
		}
		window = *pendingDays
	}
	return s.change(ctx, scope, keyRef, access{action: "kms:ScheduleKeyDeletion", state: notPending}, nil, onKey("ScheduleKeyDeletion", keyRef, "pendingWindowInDays", window), func(d *keyDoc) error {
		if err := notPending(&d.Key); err != nil {
			return err
		}
		d.State = StatePendingDeletion
		d.PendingWindowInDays = window
		d.DeletionDate = s.now().UTC().Add(days(window))
		return nil
	})
}

// CancelKeyDeletion cancels a scheduled deletion. The key comes back
// disabled, as on AWS: enable it to use it again.
func (s *Service) CancelKeyDeletion(ctx context.Context, scope Scope, keyRef string) (Key, error) {
	return s.change(ctx, scope, keyRef, access{action: "kms:CancelKeyDeletion", state: pending}, nil, onKey("CancelKeyDeletion", keyRef), func(d *keyDoc) error {
		if err := pending(&d.Key); err != nil {
			return err
		}
		d.State = StateDisabled
		d.PendingWindowInDays = 0
		d.DeletionDate = time.Time{}
		return nil
	})
}

// EnableKey enables a disabled key.
func (s *Service) EnableKey(ctx context.Context, scope Scope, keyRef string) error {
	return s.setState(ctx, scope, keyRef, "kms:EnableKey", StateEnabled)
}

// DisableKey disables a key: it can no longer encrypt or decrypt.
func (s *Service) DisableKey(ctx context.Context, scope Scope, keyRef string) error {
	return s.setState(ctx, scope, keyRef, "kms:DisableKey", StateDisabled)
}

func (s *Service) setState(ctx context.Context, scope Scope, keyRef, action, state string) error {
	_, err := s.change(ctx, scope, keyRef, access{action: action, state: notPending}, nil, onKey(strings.TrimPrefix(action, "kms:"), keyRef), func(d *keyDoc) error {
		if err := notPending(&d.Key); err != nil {
			return err
		}
		d.State = state
		return nil
	})
	return err
}

// UpdateKeyDescription replaces a key's description.
func (s *Service) UpdateKeyDescription(ctx context.Context, scope Scope, keyRef, description string) error {
	var v validation
	v.length(description, "description", 0, maxDescriptionLength)
	if err := v.err(); err != nil {
		return err
	}
	_, err := s.change(ctx, scope, keyRef, access{action: "kms:UpdateKeyDescription", state: notPending}, nil, onKey("UpdateKeyDescription", keyRef, "description", description), func(d *keyDoc) error {
		if err := notPending(&d.Key); err != nil {
			return err
		}
		d.Description = description
		return nil
	})
	return err
}

// TagResource adds tags to a key, replacing those with the same keys
// (tag keys are case-sensitive, as in KMS).
func (s *Service) TagResource(ctx context.Context, scope Scope, keyRef string, tags []Tag) error {
	if err := validTags(tags); err != nil {
		return err
	}
	_, err := s.change(ctx, scope, keyRef, access{action: "kms:TagResource", state: notPending}, nil, onKey("TagResource", keyRef, "tags", wireTags(tags)), func(d *keyDoc) error {
		if err := notPending(&d.Key); err != nil {
			return err
		}
		merged := slices.Clone(d.Tags)
		for _, t := range tags {
			if i := slices.IndexFunc(merged, func(h Tag) bool { return h.Key == t.Key }); i >= 0 {
				merged[i] = t
			} else {
				merged = append(merged, t)
			}
		}
		if len(merged) > maxTags {
			return awserr.Errorf(CodeTag, "Too many tags")
		}
		d.Tags = merged
		return nil
	})
	return err
}

// UntagResource removes tags from a key by key; keys it does not have
// are ignored.
func (s *Service) UntagResource(ctx context.Context, scope Scope, keyRef string, tagKeys []string) error {
	var v validation
	for i, k := range tagKeys {
		v.length(k, fmt.Sprintf("tagKeys.%d.member", i+1), 1, maxTagKey)
	}
	if err := v.err(); err != nil {
		return err
	}
	_, err := s.change(ctx, scope, keyRef, access{action: "kms:UntagResource", state: notPending}, nil, onKey("UntagResource", keyRef, "tagKeys", tagKeys), func(d *keyDoc) error {
		if err := notPending(&d.Key); err != nil {
			return err
		}
		d.Tags = slices.DeleteFunc(d.Tags, func(t Tag) bool { return slices.Contains(tagKeys, t.Key) })
		return nil
	})
	return err
}

// ListResourceTags lists a key's tags in key order, limit at a time (nil:
// 50, at most 50), after marker (the last tag key of the previous page).
func (s *Service) ListResourceTags(ctx context.Context, scope Scope, keyRef string, limit *int, marker string) (tags []Tag, next string, err error) {
	var v validation
	n := v.limit(limit, 50, 50)
	v.marker(marker)
	if err := v.err(); err != nil {
		return nil, "", err
	}
	d, err := s.key(ctx, scope, keyRef, access{action: "kms:ListResourceTags"})
	if err != nil {
		return nil, "", err
	}
	all := slices.SortedFunc(slices.Values(d.Tags), func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
	for _, t := range all {
		if marker != "" && t.Key <= marker {
			continue
		}
		if len(tags) == n {
			return tags, tags[n-1].Key, nil
		}
		tags = append(tags, t)
	}
	return tags, "", nil
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

// errMaterial is a stored key whose material cannot be read: the server
// key that sealed it is gone from the keyring.
var errMaterial = errors.New("the key material cannot be unsealed: is the server key that sealed it still in the keyring?")
