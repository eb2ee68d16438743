package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// kmsClient returns a KMS client of the server signed with creds, which
// does not retry.
func kmsClient(e *ecrd, creds aws.CredentialsProvider) *kms.Client {
	return kms.New(kms.Options{Region: testRegion, BaseEndpoint: aws.String(e.URL()), Credentials: creds, Retryer: closedConnRetryer()})
}

// rawKMS sends a signed KMS request by hand, its body as is.
func rawKMS(t *testing.T, e *ecrd, target string, body []byte) httpAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.URL()+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService."+target)
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "kms", testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	return ecrDo(t, http.DefaultClient, req)
}

var kmsKeyIDRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// wantKeyMetadata checks the KeyMetadata fields Terraform's aws_kms_key
// reads.
func wantKeyMetadata(t *testing.T, what string, m *kmstypes.KeyMetadata, description string, state kmstypes.KeyState, manager kmstypes.KeyManagerType) {
	t.Helper()
	if m == nil {
		t.Fatalf("%s: no KeyMetadata", what)
	}
	id := aws.ToString(m.KeyId)
	if !kmsKeyIDRE.MatchString(id) || aws.ToString(m.Arn) != "arn:aws:kms:"+testRegion+":"+testAccount+":key/"+id {
		t.Errorf("%s: KeyId %q Arn %q", what, id, aws.ToString(m.Arn))
	}
	//lint:ignore SA1019 Terraform still reads CustomerMasterKeySpec, so ecrd fills it
	cmkSpec := m.CustomerMasterKeySpec
	if aws.ToString(m.AWSAccountId) != testAccount || aws.ToString(m.Description) != description || m.KeyState != state ||
		m.Enabled != (state == kmstypes.KeyStateEnabled) || m.KeyUsage != kmstypes.KeyUsageTypeEncryptDecrypt ||
		m.KeySpec != kmstypes.KeySpecSymmetricDefault || cmkSpec != kmstypes.CustomerMasterKeySpecSymmetricDefault ||
		m.Origin != kmstypes.OriginTypeAwsKms || m.KeyManager != manager || m.MultiRegion == nil || *m.MultiRegion ||
		len(m.EncryptionAlgorithms) != 1 || m.EncryptionAlgorithms[0] != kmstypes.EncryptionAlgorithmSpecSymmetricDefault {
		t.Errorf("%s: KeyMetadata %+v", what, *m)
	}
	if m.CreationDate == nil || time.Since(*m.CreationDate) > time.Minute || time.Since(*m.CreationDate) < -time.Minute {
		t.Errorf("%s: CreationDate %v", what, m.CreationDate)
	}
}

// TestKMSKeys runs every KMS operation ecrd serves once, as the root of
// the account, checking what each returns.
func TestKMSKeys(t *testing.T) {
	e := startBareECRD(t, t.TempDir())
	ctx := context.Background()
	c := kmsClient(e, static(testAccessKey, testSecret))

	created, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("registry key"),
		Tags: []kmstypes.Tag{{TagKey: aws.String("team"), TagValue: aws.String("platform")}}})
	ecrMust(t, "CreateKey", err)
	wantKeyMetadata(t, "CreateKey", created.KeyMetadata, "registry key", kmstypes.KeyStateEnabled, kmstypes.KeyManagerTypeCustomer)
	id, arn := aws.ToString(created.KeyMetadata.KeyId), aws.ToString(created.KeyMetadata.Arn)
	if created.KeyMetadata.DeletionDate != nil {
		t.Errorf("a new key has a DeletionDate")
	}
	for _, ref := range []string{id, arn} {
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref)})
		ecrMust(t, "DescribeKey "+ref, err)
		wantKeyMetadata(t, "DescribeKey", d.KeyMetadata, "registry key", kmstypes.KeyStateEnabled, kmstypes.KeyManagerTypeCustomer)
	}

	second, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	ecrMust(t, "CreateKey without input", err)
	id2 := aws.ToString(second.KeyMetadata.KeyId)
	var listed []string
	var marker *string
	for {
		out, err := c.ListKeys(ctx, &kms.ListKeysInput{Limit: aws.Int32(1), Marker: marker})
		ecrMust(t, "ListKeys", err)
		for _, k := range out.Keys {
			if aws.ToString(k.KeyArn) != "arn:aws:kms:"+testRegion+":"+testAccount+":key/"+aws.ToString(k.KeyId) {
				t.Errorf("ListKeys entry %+v", k)
			}
			listed = append(listed, aws.ToString(k.KeyId))
		}
		if !out.Truncated {
			break
		}
		marker = out.NextMarker
	}
	if len(listed) != 2 || !(listed[0] == id && listed[1] == id2 || listed[0] == id2 && listed[1] == id) {
		t.Errorf("ListKeys listed %v, want %s and %s", listed, id, id2)
	}

	pol, err := c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("default")})
	ecrMust(t, "GetKeyPolicy", err)
	var doc struct {
		Id        string
		Statement []struct {
			Sid       string
			Effect    string
			Principal struct{ AWS string }
			Action    string
			Resource  string
		}
	}
	if err := json.Unmarshal([]byte(aws.ToString(pol.Policy)), &doc); err != nil || doc.Id != "key-default-1" || len(doc.Statement) != 1 ||
		doc.Statement[0].Sid != "Enable IAM User Permissions" || doc.Statement[0].Principal.AWS != "arn:aws:iam::"+testAccount+":root" ||
		doc.Statement[0].Action != "kms:*" || doc.Statement[0].Resource != "*" || aws.ToString(pol.PolicyName) != "default" {
		t.Errorf("the default key policy: %s (%v)", aws.ToString(pol.Policy), err)
	}
	lp, err := c.ListKeyPolicies(ctx, &kms.ListKeyPoliciesInput{KeyId: aws.String(id)})
	if err != nil || len(lp.PolicyNames) != 1 || lp.PolicyNames[0] != "default" || lp.Truncated {
		t.Errorf("ListKeyPolicies: %+v, %v", lp, err)
	}
	newPolicy := `{"Version":"2012-10-17","Id":"custom","Statement":[{"Sid":"admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testAccount + `:root"},"Action":"kms:*","Resource":"*"}]}`
	_, err = c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("default"), Policy: aws.String(newPolicy)})
	ecrMust(t, "PutKeyPolicy", err)
	pol, err = c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id)})
	if err != nil || aws.ToString(pol.Policy) != newPolicy {
		t.Errorf("GetKeyPolicy after PutKeyPolicy: %s, %v", aws.ToString(pol.Policy), err)
	}

	rot, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(id)})
	if err != nil || rot.KeyRotationEnabled || rot.RotationPeriodInDays != nil || aws.ToString(rot.KeyId) != arn {
		t.Errorf("GetKeyRotationStatus of a new key: %+v, %v", rot, err)
	}
	_, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(180)})
	ecrMust(t, "EnableKeyRotation", err)
	rot, err = c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(arn)})
	if err != nil || !rot.KeyRotationEnabled || aws.ToInt32(rot.RotationPeriodInDays) != 180 || rot.NextRotationDate == nil ||
		time.Until(*rot.NextRotationDate) < 179*24*time.Hour {
		t.Errorf("GetKeyRotationStatus after EnableKeyRotation: %+v, %v", rot, err)
	}
	_, err = c.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: aws.String(id)})
	ecrMust(t, "DisableKeyRotation", err)
	if rot, _ = c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(id)}); rot.KeyRotationEnabled {
		t.Error("rotation still enabled after DisableKeyRotation")
	}

	_, err = c.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: aws.String(id), Description: aws.String("renamed")})
	ecrMust(t, "UpdateKeyDescription", err)
	if d, _ := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)}); aws.ToString(d.KeyMetadata.Description) != "renamed" {
		t.Errorf("description after UpdateKeyDescription: %q", aws.ToString(d.KeyMetadata.Description))
	}

	_, err = c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(id), Tags: []kmstypes.Tag{
		{TagKey: aws.String("env"), TagValue: aws.String("prod")}, {TagKey: aws.String("team"), TagValue: aws.String("infra")}}})
	ecrMust(t, "TagResource", err)
	_, err = c.UntagResource(ctx, &kms.UntagResourceInput{KeyId: aws.String(id), TagKeys: []string{"env"}})
	ecrMust(t, "UntagResource", err)
	tags, err := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(id)})
	if err != nil || tags.Truncated || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].TagKey) != "team" || aws.ToString(tags.Tags[0].TagValue) != "infra" {
		t.Errorf("ListResourceTags: %+v, %v", tags, err)
	}

	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/registry"), TargetKeyId: aws.String(id)})
	ecrMust(t, "CreateAlias", err)
	aliases, err := c.ListAliases(ctx, &kms.ListAliasesInput{KeyId: aws.String(id)})
	if err != nil || len(aliases.Aliases) != 1 || aws.ToString(aliases.Aliases[0].AliasName) != "alias/registry" ||
		aws.ToString(aliases.Aliases[0].AliasArn) != "arn:aws:kms:"+testRegion+":"+testAccount+":alias/registry" ||
		aws.ToString(aliases.Aliases[0].TargetKeyId) != id || aliases.Aliases[0].CreationDate == nil || aliases.Aliases[0].LastUpdatedDate == nil {
		t.Errorf("ListAliases: %+v, %v", aliases, err)
	}
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/registry")})
	if err != nil || aws.ToString(d.KeyMetadata.KeyId) != id {
		t.Errorf("DescribeKey by alias: %v", err)
	}
	_, err = c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/registry"), TargetKeyId: aws.String(id2)})
	ecrMust(t, "UpdateAlias", err)
	d, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("arn:aws:kms:" + testRegion + ":" + testAccount + ":alias/registry")})
	if err != nil || aws.ToString(d.KeyMetadata.KeyId) != id2 {
		t.Errorf("DescribeKey by alias ARN after UpdateAlias: %v", err)
	}
	_, err = c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/registry")})
	ecrMust(t, "DeleteAlias", err)
	if aliases, _ = c.ListAliases(ctx, &kms.ListAliasesInput{}); len(aliases.Aliases) != 0 {
		t.Errorf("aliases after DeleteAlias: %+v", aliases.Aliases)
	}

	encCtx := map[string]string{"repository": "team/app"}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("registry secret"), EncryptionContext: encCtx})
	if err != nil || aws.ToString(enc.KeyId) != arn || enc.EncryptionAlgorithm != kmstypes.EncryptionAlgorithmSpecSymmetricDefault || len(enc.CiphertextBlob) == 0 {
		t.Fatalf("Encrypt: %+v, %v", enc, err)
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx})
	if err != nil || string(dec.Plaintext) != "registry secret" || aws.ToString(dec.KeyId) != arn || dec.EncryptionAlgorithm != kmstypes.EncryptionAlgorithmSpecSymmetricDefault {
		t.Errorf("Decrypt: %+v, %v", dec, err)
	}
	dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: kmstypes.DataKeySpecAes256, EncryptionContext: encCtx})
	if err != nil || len(dk.Plaintext) != 32 || aws.ToString(dk.KeyId) != arn {
		t.Fatalf("GenerateDataKey: %v", err)
	}
	dec, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: encCtx, KeyId: aws.String(arn)})
	if err != nil || !bytes.Equal(dec.Plaintext, dk.Plaintext) {
		t.Errorf("Decrypt of a data key: %v", err)
	}
	wp, err := c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: aws.String(id), NumberOfBytes: aws.Int32(64)})
	ecrMust(t, "GenerateDataKeyWithoutPlaintext", err)
	dec, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: wp.CiphertextBlob})
	if err != nil || len(dec.Plaintext) != 64 {
		t.Errorf("Decrypt of a data key made without plaintext: %v", err)
	}
	rotated, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	if err != nil || aws.ToString(rotated.KeyId) != arn {
		t.Fatalf("RotateKeyOnDemand: %+v, %v", rotated, err)
	}
	dec, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx})
	if err != nil || string(dec.Plaintext) != "registry secret" {
		t.Errorf("Decrypt after rotation of a ciphertext made before: %v", err)
	}

	_, err = c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)})
	ecrMust(t, "DisableKey", err)
	d, _ = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	wantKeyMetadata(t, "DescribeKey of a disabled key", d.KeyMetadata, "renamed", kmstypes.KeyStateDisabled, kmstypes.KeyManagerTypeCustomer)
	_, err = c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)})
	ecrMust(t, "EnableKey", err)

	sched, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
	if err != nil || aws.ToString(sched.KeyId) != arn || sched.KeyState != kmstypes.KeyStatePendingDeletion || aws.ToInt32(sched.PendingWindowInDays) != 7 ||
		sched.DeletionDate == nil || time.Until(*sched.DeletionDate) < 7*24*time.Hour-time.Minute {
		t.Fatalf("ScheduleKeyDeletion: %+v, %v", sched, err)
	}
	d, _ = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	wantKeyMetadata(t, "DescribeKey of a key pending deletion", d.KeyMetadata, "renamed", kmstypes.KeyStatePendingDeletion, kmstypes.KeyManagerTypeCustomer)
	if d.KeyMetadata.DeletionDate == nil || !d.KeyMetadata.DeletionDate.Equal(*sched.DeletionDate) || aws.ToInt32(d.KeyMetadata.PendingDeletionWindowInDays) != 7 {
		t.Errorf("DeletionDate %v, PendingDeletionWindowInDays %v", d.KeyMetadata.DeletionDate, d.KeyMetadata.PendingDeletionWindowInDays)
	}
	canceled, err := c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)})
	if err != nil || aws.ToString(canceled.KeyId) != arn {
		t.Fatalf("CancelKeyDeletion: %+v, %v", canceled, err)
	}
	d, _ = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	wantKeyMetadata(t, "DescribeKey after CancelKeyDeletion", d.KeyMetadata, "renamed", kmstypes.KeyStateDisabled, kmstypes.KeyManagerTypeCustomer)

	// The AWS managed key for ECR comes into being when first named.
	m, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/ecr")})
	ecrMust(t, "DescribeKey alias/aws/ecr", err)
	wantKeyMetadata(t, "the managed key", m.KeyMetadata, "Default key for ECR", kmstypes.KeyStateEnabled, kmstypes.KeyManagerTypeAws)
	rot, err = c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: m.KeyMetadata.KeyId})
	if err != nil || !rot.KeyRotationEnabled || aws.ToInt32(rot.RotationPeriodInDays) != 365 {
		t.Errorf("rotation of the managed key: %+v, %v", rot, err)
	}
	noServerErrors(t, e)
}

// TestKMSErrors provokes each error the KMS API documents once, checking
// the exception, its HTTP status (400, AccessDeniedException included)
// and AWS's message.
func TestKMSErrors(t *testing.T) {
	e := startBareECRD(t, t.TempDir())
	ctx := context.Background()
	c := kmsClient(e, static(testAccessKey, testSecret))
	k, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	ecrMust(t, "CreateKey", err)
	id, arn := aws.ToString(k.KeyMetadata.KeyId), aws.ToString(k.KeyMetadata.Arn)
	missing := "0b6f1a4e-2f5c-4d6a-9e1b-6a1d2c3b4a59"
	missingARN := "arn:aws:kms:" + testRegion + ":" + testAccount + ":key/" + missing

	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(missing)})
	wantAPIError(t, "DescribeKey of a missing key", err, "NotFoundException", 400, "Key '"+missingARN+"' does not exist")
	wantTyped[*kmstypes.NotFoundException](t, "DescribeKey of a missing key", err)
	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("fake-key-id")})
	wantAPIError(t, "DescribeKey of a malformed key ID", err, "NotFoundException", 400, "Invalid keyId 'fake-key-id'")
	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("arn:aws:kms:eu-west-1:" + testAccount + ":key/" + id)})
	wantAPIError(t, "DescribeKey in another region", err, "NotFoundException", 400, "Invalid arn eu-west-1")
	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("arn:aws:kms:" + testRegion + ":" + testAccount + ":bucket/x")})
	wantAPIError(t, "DescribeKey of a malformed ARN", err, "InvalidArnException", 400, "")
	wantTyped[*kmstypes.InvalidArnException](t, "DescribeKey of a malformed ARN", err)
	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/none")})
	wantAPIError(t, "DescribeKey of a missing alias", err, "NotFoundException", 400, "Alias arn:aws:kms:"+testRegion+":"+testAccount+":alias/none is not found.")

	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecHmac256, KeyUsage: kmstypes.KeyUsageTypeGenerateVerifyMac})
	wantAPIError(t, "CreateKey HMAC", err, "UnsupportedOperationException", 400, "")
	wantTyped[*kmstypes.UnsupportedOperationException](t, "CreateKey HMAC", err)
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecRsa2048})
	wantAPIError(t, "CreateKey RSA without a usage", err, "ValidationException", 400, "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.")
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true)})
	wantAPIError(t, "CreateKey multi-Region", err, "UnsupportedOperationException", 400, "ecrd does not support multi-Region keys: create the key with MultiRegion false")
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{KeyUsage: "RANDOM"})
	wantAPIError(t, "CreateKey with an unknown usage", err, "ValidationException", 400,
		"1 validation error detected: Value 'RANDOM' at 'keyUsage' failed to satisfy constraint: Member must satisfy enum value set: [SIGN_VERIFY, ENCRYPT_DECRYPT, GENERATE_VERIFY_MAC, KEY_AGREEMENT, ENCAPSULATE_DECAPSULATE]")
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`)})
	wantAPIError(t, "CreateKey with a policy without principal", err, "MalformedPolicyDocumentException", 400, "Missing required field Principal")
	wantTyped[*kmstypes.MalformedPolicyDocumentException](t, "CreateKey with a malformed policy", err)
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testAccount + `:user/x"},"Action":"kms:*","Resource":"*"}]}`)})
	wantAPIError(t, "CreateKey locking the caller out", err, "MalformedPolicyDocumentException", 400, "The new key policy will not allow you to update the key policy in the future.")
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{Tags: []kmstypes.Tag{{TagKey: aws.String("aws:reserved"), TagValue: aws.String("x")}}})
	wantAPIError(t, "CreateKey with an aws: tag", err, "TagException", 400, "Tags beginning with aws: are reserved")
	wantTyped[*kmstypes.TagException](t, "CreateKey with an aws: tag", err)

	_, err = c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("other")})
	wantAPIError(t, "GetKeyPolicy other", err, "NotFoundException", 400, "")
	_, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(30)})
	wantAPIError(t, "EnableKeyRotation 30 days", err, "ValidationException", 400,
		"1 validation error detected: Value '30' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value greater than or equal to 90")
	_, err = c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(31)})
	wantAPIError(t, "ScheduleKeyDeletion 31 days", err, "ValidationException", 400,
		"1 validation error detected: Value '31' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value less than or equal to 30")
	_, err = c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)})
	wantAPIError(t, "CancelKeyDeletion of an enabled key", err, "KMSInvalidStateException", 400, arn+" is not pending deletion.")

	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("app"), TargetKeyId: aws.String(id)})
	wantAPIError(t, "CreateAlias without alias/", err, "ValidationException", 400,
		`Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html`)
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/aws/mine"), TargetKeyId: aws.String(id)})
	wantAPIError(t, "CreateAlias alias/aws/", err, "InvalidAliasNameException", 400, "")
	wantTyped[*kmstypes.InvalidAliasNameException](t, "CreateAlias alias/aws/", err)
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(id)})
	ecrMust(t, "CreateAlias", err)
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(id)})
	wantAPIError(t, "CreateAlias twice", err, "AlreadyExistsException", 400, "An alias with the name arn:aws:kms:"+testRegion+":"+testAccount+":alias/app already exists")
	wantTyped[*kmstypes.AlreadyExistsException](t, "CreateAlias twice", err)
	_, err = c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/none")})
	wantAPIError(t, "DeleteAlias of a missing alias", err, "NotFoundException", 400, "Alias arn:aws:kms:"+testRegion+":"+testAccount+":alias/none is not found.")

	encCtx := map[string]string{"a": "b"}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x"), EncryptionContext: encCtx})
	ecrMust(t, "Encrypt", err)
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"a": "c"}})
	wantAPIError(t, "Decrypt with another context", err, "InvalidCiphertextException", 400, "")
	wantTyped[*kmstypes.InvalidCiphertextException](t, "Decrypt with another context", err)
	other, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	ecrMust(t, "CreateKey", err)
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx, KeyId: other.KeyMetadata.KeyId})
	wantAPIError(t, "Decrypt naming another key", err, "IncorrectKeyException", 400, "The key ID in the request does not identify a CMK that can perform this operation.")
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: make([]byte, 4097)})
	wantAPIError(t, "Encrypt of 4097 bytes", err, "ValidationException", 400,
		"1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096")
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id)})
	wantAPIError(t, "GenerateDataKey without a size", err, "ValidationException", 400, "Please specify either number of bytes or key spec.")
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x"), DryRun: aws.Bool(true)})
	wantAPIError(t, "Encrypt dry run", err, "DryRunOperationException", 400, "The request would have succeeded, but the DryRun option is set.")

	_, err = c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)})
	ecrMust(t, "DisableKey", err)
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantAPIError(t, "Encrypt with a disabled key", err, "DisabledException", 400, arn+" is disabled.")
	wantTyped[*kmstypes.DisabledException](t, "Encrypt with a disabled key", err)
	_, err = c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id)})
	ecrMust(t, "ScheduleKeyDeletion", err)
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx})
	wantAPIError(t, "Decrypt with a key pending deletion", err, "KMSInvalidStateException", 400, arn+" is pending deletion.")
	wantTyped[*kmstypes.KMSInvalidStateException](t, "Decrypt with a key pending deletion", err)
	_, err = c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id)})
	wantAPIError(t, "ScheduleKeyDeletion twice", err, "KMSInvalidStateException", 400, arn+" is pending deletion.")

	mk, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/ecr")})
	ecrMust(t, "DescribeKey alias/aws/ecr", err)
	_, err = c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: mk.KeyMetadata.KeyId})
	wantAPIError(t, "DisableKey of the managed key", err, "AccessDeniedException", 400,
		"User: arn:aws:iam::"+testAccount+":root is not authorized to perform: kms:DisableKey on resource: "+aws.ToString(mk.KeyMetadata.Arn)+
			" because no resource-based policy allows the kms:DisableKey action")
	for i := range 10 {
		if _, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: other.KeyMetadata.KeyId}); err != nil {
			t.Fatalf("RotateKeyOnDemand %d: %v", i+1, err)
		}
	}
	_, err = c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: other.KeyMetadata.KeyId})
	wantAPIError(t, "the eleventh RotateKeyOnDemand", err, "LimitExceededException", 400, "")

	// What the SDK cannot send.
	wantRawError(t, "a required member missing", rawKMS(t, e, "DescribeKey", []byte(`{}`)), 400, "ValidationException",
		"1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")
	wantRawError(t, "a member of the wrong type", rawKMS(t, e, "DescribeKey", []byte(`{"KeyId":5}`)), 400, "SerializationException",
		"Unexpected value for member 'KeyId': expected a string, found a number")
	wantRawError(t, "malformed JSON", rawKMS(t, e, "DescribeKey", []byte(`{"KeyId":`)), 400, "SerializationException", "")
	wantRawError(t, "a blob that is not base64", rawKMS(t, e, "Decrypt", []byte(`{"CiphertextBlob":"!!"}`)), 400, "SerializationException", "")
	wantRawError(t, "an unknown operation", rawKMS(t, e, "ReEncrypt", []byte(`{}`)), 400, "UnknownOperationException", "")
	a := rawKMS(t, e, "DescribeKey", []byte(`{"KeyId":"`+id+`","Unknown":{"x":[1]}}`))
	if a.Status != 200 || !strings.Contains(string(a.Body), `"KeyState":"PendingDeletion"`) {
		t.Errorf("unknown members are ignored: %d %s", a.Status, a.Body)
	}
	// A request signed for another service is refused.
	req, _ := http.NewRequest(http.MethodPost, e.URL()+"/", strings.NewReader(`{}`))
	req.Header.Set("X-Amz-Target", "TrentService.ListKeys")
	sum := sha256.Sum256([]byte(`{}`))
	v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret}, req, hex.EncodeToString(sum[:]), "ecr", testRegion, time.Now())
	if a := ecrDo(t, http.DefaultClient, req); a.Status != 400 || a.errorType() == "" {
		t.Errorf("a KMS call signed for ecr: %d %s", a.Status, a.Body)
	}
	noServerErrors(t, e)
}

// TestKMSAuthorization: the key policy must allow; the default key policy
// delegates to IAM, so users need an identity policy too.
func TestKMSAuthorization(t *testing.T) {
	e := startBareECRD(t, t.TempDir())
	ctx := context.Background()
	root := kmsClient(e, static(testAccessKey, testSecret))
	_, rootIAM, _ := clientsFor(e, static(testAccessKey, testSecret))
	use := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}]}`
	app := kmsClient(e, newUser(t, rootIAM, "app", use))
	nobody := kmsClient(e, newUser(t, rootIAM, "nobody", ""))

	def, err := root.CreateKey(ctx, &kms.CreateKeyInput{})
	ecrMust(t, "CreateKey", err)
	named, err := root.CreateKey(ctx, &kms.CreateKeyInput{BypassPolicyLockoutSafetyCheck: true, Policy: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testAccount + `:user/nobody"},"Action":"kms:*","Resource":"*"}]}`)})
	ecrMust(t, "CreateKey with a policy naming one user", err)
	encrypt := func(c *kms.Client, k *kms.CreateKeyOutput) error {
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("x")})
		return err
	}
	ecrMust(t, "a user with an identity policy, default key policy", encrypt(app, def))
	wantAPIError(t, "a user without an identity policy, default key policy", encrypt(nobody, def), "AccessDeniedException", 400,
		"User: arn:aws:iam::"+testAccount+":user/nobody is not authorized to perform: kms:Encrypt on resource: "+aws.ToString(def.KeyMetadata.Arn)+
			" because no identity-based policy allows the kms:Encrypt action")
	wantAPIError(t, "a user with an identity policy, key policy naming another user", encrypt(app, named), "AccessDeniedException", 400,
		"User: arn:aws:iam::"+testAccount+":user/app is not authorized to perform: kms:Encrypt on resource: "+aws.ToString(named.KeyMetadata.Arn)+
			" because no resource-based policy allows the kms:Encrypt action")
	ecrMust(t, "the user the key policy names, without an identity policy", encrypt(nobody, named))
	wantAPIError(t, "the root, key policy naming a user only", encrypt(root, named), "AccessDeniedException", 400, "")
	_, err = nobody.CreateKey(ctx, &kms.CreateKeyInput{})
	wantAPIError(t, "CreateKey without an identity policy", err, "AccessDeniedException", 400,
		"User: arn:aws:iam::"+testAccount+":user/nobody is not authorized to perform: kms:CreateKey on resource: * because no identity-based policy allows the kms:CreateKey action")
	_, err = app.ListKeys(ctx, &kms.ListKeysInput{})
	wantAPIError(t, "ListKeys without kms:ListKeys", err, "AccessDeniedException", 400, "")
	noServerErrors(t, e)
}
