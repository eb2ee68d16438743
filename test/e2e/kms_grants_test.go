package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// assumeRole creates a role of the test account trusting the account,
// assumes it as the root, and returns the role's ARN and the session's
// credentials.
func assumeRole(t *testing.T, e *ecrd, name string) (string, aws.CredentialsProvider) {
	t.Helper()
	ctx := context.Background()
	_, rootIAM, rootSTS := clientsFor(e, static(testAccessKey, testSecret))
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testAccount + `:root"},"Action":"sts:AssumeRole"}]}`
	role, err := rootIAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)})
	ecrMust(t, "CreateRole", err)
	out, err := rootSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: role.Role.Arn, RoleSessionName: aws.String("session")})
	ecrMust(t, "AssumeRole", err)
	k := out.Credentials
	return aws.ToString(role.Role.Arn), credentials.NewStaticCredentialsProvider(aws.ToString(k.AccessKeyId), aws.ToString(k.SecretAccessKey), aws.ToString(k.SessionToken))
}

// TestKMSGrants drives the grant operations through aws-sdk-go-v2: a
// grant lets a role's session and a user use a key whose policies give
// them nothing, within its encryption context constraint; grants list,
// page and filter; they are retired by token and by ID and revoked; and
// each error is KMS's, typed as the SDK knows it.
func TestKMSGrants(t *testing.T) {
	e := startBareECRD(t, t.TempDir())
	ctx := context.Background()
	root := kmsClient(e, static(testAccessKey, testSecret))
	_, rootIAM, _ := clientsFor(e, static(testAccessKey, testSecret))
	roleARN, session := assumeRole(t, e, "deployer")
	asRole := kmsClient(e, session)
	asUser := kmsClient(e, newUser(t, rootIAM, "app", ""))
	userARN := "arn:aws:iam::" + testAccount + ":user/app"

	created, err := root.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("repository key")})
	ecrMust(t, "CreateKey", err)
	keyID, keyARN := aws.ToString(created.KeyMetadata.KeyId), aws.ToString(created.KeyMetadata.Arn)
	appCtx := map[string]string{"repository": "app"}
	encrypt := func(c *kms.Client, encCtx map[string]string) error {
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte("layer key"), EncryptionContext: encCtx})
		return err
	}
	err = encrypt(asRole, appCtx)
	wantAPIError(t, "Encrypt by the role before any grant", err, "AccessDeniedException", 400,
		"User: arn:aws:sts::"+testAccount+":assumed-role/deployer/session is not authorized to perform: kms:Encrypt on resource: "+keyARN+
			" because no identity-based policy allows the kms:Encrypt action")

	roleGrant, err := root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(keyID), GranteePrincipal: aws.String(roleARN),
		Operations:  []kmstypes.GrantOperation{kmstypes.GrantOperationEncrypt, kmstypes.GrantOperationDecrypt, kmstypes.GrantOperationDescribeKey},
		Constraints: &kmstypes.GrantConstraints{EncryptionContextSubset: appCtx}, Name: aws.String("deployer-app")})
	ecrMust(t, "CreateGrant to the role", err)
	if len(aws.ToString(roleGrant.GrantId)) != 64 || aws.ToString(roleGrant.GrantToken) == "" {
		t.Fatalf("CreateGrant returned %q and %q", aws.ToString(roleGrant.GrantId), aws.ToString(roleGrant.GrantToken))
	}
	// The role's session uses the key within the grant's constraint.
	ecrMust(t, "Encrypt by the role's session with the grant", encrypt(asRole, map[string]string{"repository": "app", "layer": "1"}))
	wantAPIError(t, "Encrypt by the role outside the constraint", encrypt(asRole, map[string]string{"repository": "db"}), "AccessDeniedException", 400, "")
	enc, err := asRole.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyARN), Plaintext: []byte("secret"), EncryptionContext: appCtx,
		GrantTokens: []string{aws.ToString(roleGrant.GrantToken)}})
	ecrMust(t, "Encrypt with the grant token", err)
	dec, err := asRole.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: appCtx})
	if err != nil || string(dec.Plaintext) != "secret" {
		t.Fatalf("Decrypt by the role: %v", err)
	}
	_, err = asRole.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(keyID), KeySpec: kmstypes.DataKeySpecAes256, EncryptionContext: appCtx})
	wantAPIError(t, "GenerateDataKey, which the grant does not give", err, "AccessDeniedException", 400, "")
	wantAPIError(t, "Encrypt by a user the grant does not name", encrypt(asUser, appCtx), "AccessDeniedException", 400, "")

	// Repeating a named CreateGrant returns the same grant.
	again, err := root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(keyID), GranteePrincipal: aws.String(roleARN),
		Operations:  []kmstypes.GrantOperation{kmstypes.GrantOperationDescribeKey, kmstypes.GrantOperationEncrypt, kmstypes.GrantOperationDecrypt},
		Constraints: &kmstypes.GrantConstraints{EncryptionContextSubset: appCtx}, Name: aws.String("deployer-app")})
	ecrMust(t, "CreateGrant again", err)
	if aws.ToString(again.GrantId) != aws.ToString(roleGrant.GrantId) || aws.ToString(again.GrantToken) == aws.ToString(roleGrant.GrantToken) {
		t.Errorf("a repeated named CreateGrant gave grant %s (token reused: %v)", aws.ToString(again.GrantId), aws.ToString(again.GrantToken) == aws.ToString(roleGrant.GrantToken))
	}
	userGrant, err := root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(keyARN), GranteePrincipal: aws.String(userARN),
		RetiringPrincipal: aws.String(roleARN), Operations: []kmstypes.GrantOperation{kmstypes.GrantOperationEncrypt}})
	ecrMust(t, "CreateGrant to the user", err)
	ecrMust(t, "Encrypt by the user with its grant", encrypt(asUser, nil))
	for range 3 {
		_, err := root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(keyID), GranteePrincipal: aws.String("arn:aws:iam::" + testAccount + ":user/ci"),
			Operations: []kmstypes.GrantOperation{kmstypes.GrantOperationGenerateDataKey}})
		ecrMust(t, "CreateGrant to ci", err)
	}

	// ListGrants pages with the SDK's paginator, and filters.
	var all []kmstypes.GrantListEntry
	pages := kms.NewListGrantsPaginator(root, &kms.ListGrantsInput{KeyId: aws.String(keyID), Limit: aws.Int32(2)})
	for pages.HasMorePages() {
		p, err := pages.NextPage(ctx)
		ecrMust(t, "ListGrants page", err)
		if len(p.Grants) > 2 {
			t.Errorf("a page of %d grants with Limit 2", len(p.Grants))
		}
		all = append(all, p.Grants...)
	}
	if len(all) != 5 {
		t.Fatalf("ListGrants listed %d grants, want 5", len(all))
	}
	i := slices.IndexFunc(all, func(g kmstypes.GrantListEntry) bool {
		return aws.ToString(g.GrantId) == aws.ToString(roleGrant.GrantId)
	})
	g := all[i]
	if aws.ToString(g.KeyId) != keyARN || aws.ToString(g.Name) != "deployer-app" || aws.ToString(g.GranteePrincipal) != roleARN ||
		aws.ToString(g.IssuingAccount) != "arn:aws:iam::"+testAccount+":root" || g.CreationDate == nil || len(g.Operations) != 3 ||
		g.Constraints == nil || g.Constraints.EncryptionContextSubset["repository"] != "app" || g.Constraints.EncryptionContextEquals != nil {
		t.Errorf("the role's grant lists as %+v", g)
	}
	one, err := root.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(keyARN), GrantId: userGrant.GrantId})
	if err != nil || len(one.Grants) != 1 || aws.ToString(one.Grants[0].RetiringPrincipal) != roleARN || one.Truncated {
		t.Errorf("ListGrants by GrantId: %+v %v", one, err)
	}
	byGrantee, err := root.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(keyID), GranteePrincipal: aws.String("arn:aws:iam::" + testAccount + ":user/ci")})
	if err != nil || len(byGrantee.Grants) != 3 {
		t.Errorf("ListGrants by grantee: %v", err)
	}
	_, err = asRole.ListRetirableGrants(ctx, &kms.ListRetirableGrantsInput{RetiringPrincipal: aws.String(roleARN)})
	wantAPIError(t, "ListRetirableGrants by a role without an identity policy", err, "AccessDeniedException", 400,
		"User: arn:aws:sts::"+testAccount+":assumed-role/deployer/session is not authorized to perform: kms:ListRetirableGrants on resource: * because no identity-based policy allows the kms:ListRetirableGrants action")
	retirable, err := root.ListRetirableGrants(ctx, &kms.ListRetirableGrantsInput{RetiringPrincipal: aws.String(roleARN)})
	if err != nil || len(retirable.Grants) != 1 || aws.ToString(retirable.Grants[0].GrantId) != aws.ToString(userGrant.GrantId) {
		t.Errorf("ListRetirableGrants: %+v %v", retirable, err)
	}

	// The retiring principal retires by token; the grant's effect ends.
	_, err = asRole.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: userGrant.GrantToken})
	ecrMust(t, "RetireGrant by token by the retiring principal", err)
	wantAPIError(t, "Encrypt by the user once its grant is retired", encrypt(asUser, nil), "AccessDeniedException", 400, "")
	_, err = asRole.RetireGrant(ctx, &kms.RetireGrantInput{KeyId: aws.String(keyID), GrantId: roleGrant.GrantId})
	wantAPIError(t, "RetireGrant by the grantee of a grant without RetireGrant", err, "AccessDeniedException", 400, "")
	_, err = root.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: aws.String(keyID), GrantId: roleGrant.GrantId})
	ecrMust(t, "RevokeGrant", err)
	wantAPIError(t, "Encrypt by the role once its grant is revoked", encrypt(asRole, appCtx), "AccessDeniedException", 400, "")

	// Errors.
	_, err = root.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: aws.String(keyID), GrantId: roleGrant.GrantId})
	wantAPIError(t, "RevokeGrant of a revoked grant", err, "NotFoundException", 400, "Grant ID "+aws.ToString(roleGrant.GrantId)+" not found")
	wantTyped[*kmstypes.NotFoundException](t, "RevokeGrant of a revoked grant", err)
	_, err = root.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: aws.String(keyID), GrantId: aws.String("grant-1")})
	wantAPIError(t, "RevokeGrant of a malformed ID", err, "InvalidGrantIdException", 400, "")
	wantTyped[*kmstypes.InvalidGrantIdException](t, "RevokeGrant of a malformed ID", err)
	_, err = root.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: aws.String("AQpAM2RhZTk1MGMyNTk2ZmZmMzEyYWVhOWViN2I1MWM4")})
	wantAPIError(t, "RetireGrant with a forged token", err, "InvalidGrantTokenException", 400, "")
	wantTyped[*kmstypes.InvalidGrantTokenException](t, "RetireGrant with a forged token", err)
	_, err = root.RetireGrant(ctx, &kms.RetireGrantInput{KeyId: aws.String(keyID)})
	wantAPIError(t, "RetireGrant with a key ID only", err, "ValidationException", 400, "Grant token OR (grant ID, key ID) must be specified")
	_, err = root.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID), GrantTokens: []string{"forged"}})
	wantAPIError(t, "DescribeKey with a forged grant token", err, "InvalidGrantTokenException", 400, "")
	_, err = root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(keyID), GranteePrincipal: aws.String(roleARN),
		Operations: []kmstypes.GrantOperation{kmstypes.GrantOperationCreateGrant}})
	wantAPIError(t, "CreateGrant of CreateGrant alone", err, "ValidationException", 400, "Grants must not contain only the CreateGrant operation.")
	_, err = root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(keyID), GranteePrincipal: aws.String(roleARN),
		Operations: []kmstypes.GrantOperation{kmstypes.GrantOperationSign}})
	wantAPIError(t, "CreateGrant of Sign on a symmetric key", err, "ValidationException", 400, "")
	_, err = root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(keyID), GranteePrincipal: aws.String(roleARN),
		Operations: []kmstypes.GrantOperation{"Rotate"}})
	wantAPIError(t, "CreateGrant of an unknown operation", err, "ValidationException", 400,
		"1 validation error detected: Value '[Rotate]' at 'operations' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: "+
			"[Decrypt, Encrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext, ReEncryptFrom, ReEncryptTo, Sign, Verify, GetPublicKey, CreateGrant, RetireGrant, DescribeKey, "+
			"GenerateDataKeyPair, GenerateDataKeyPairWithoutPlaintext, GenerateMac, VerifyMac, DeriveSharedSecret, Encapsulate, Decapsulate]]")
	_, err = root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String("0b6f1a4e-2f5c-4d6a-9e1b-6a1d2c3b4a59"), GranteePrincipal: aws.String(roleARN),
		Operations: []kmstypes.GrantOperation{kmstypes.GrantOperationEncrypt}})
	wantAPIError(t, "CreateGrant on a key that does not exist", err, "NotFoundException", 400,
		"Key 'arn:aws:kms:"+testRegion+":"+testAccount+":key/0b6f1a4e-2f5c-4d6a-9e1b-6a1d2c3b4a59' does not exist")
	_, err = root.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(keyID), Limit: aws.Int32(0)})
	wantAPIError(t, "ListGrants with Limit 0", err, "ValidationException", 400,
		"1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1")
	wantRawError(t, "CreateGrant without its required members", rawKMS(t, e, "CreateGrant", []byte(`{"KeyId":"`+keyID+`"}`)), 400, "ValidationException",
		"2 validation errors detected: Value null at 'granteePrincipal' failed to satisfy constraint: Member must not be null; "+
			"Value null at 'operations' failed to satisfy constraint: Member must not be null")
	noServerErrors(t, e)
}

// TestTerraformKMSGrants applies testdata/terraform/kms with the real AWS
// provider: aws_kms_grant (constraints, a name, a retiring principal,
// retire_on_delete, grant_creation_tokens), an asymmetric signing key
// and data.aws_kms_public_key. A second plan must find nothing to change;
// the role the grants name can use the keys; destroy leaves no grant.
func TestTerraformKMSGrants(t *testing.T) {
	e := startBareECRD(t, t.TempDir())
	w := newTFWorkspace(t, e, "kms")
	w.applyClean()
	outputs := w.outputs()
	str := func(name string) string { s, _ := outputs[name].(string); return s }
	roleARN, repoKey, signingKey := str("role_arn"), str("repository_key_arn"), str("signing_key_arn")
	if algs, _ := outputs["signing_algorithms"].([]any); len(algs) != 1 || algs[0] != "ECDSA_SHA_256" {
		t.Errorf("data.aws_kms_public_key signing_algorithms = %v", outputs["signing_algorithms"])
	}
	block, _ := pem.Decode([]byte(str("public_key_pem")))
	if block == nil {
		t.Fatalf("public_key_pem %q", str("public_key_pem"))
	}
	pubAny, err := x509.ParsePKIXPublicKey(block.Bytes)
	pub, ok := pubAny.(*ecdsa.PublicKey)
	if err != nil || !ok {
		t.Fatalf("the public key Terraform read: %T %v", pubAny, err)
	}

	// What the grants give the role, through the SDK.
	ctx := context.Background()
	root := kmsClient(e, static(testAccessKey, testSecret))
	_, _, rootSTS := clientsFor(e, static(testAccessKey, testSecret))
	out, err := rootSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("deploy")})
	ecrMust(t, "AssumeRole", err)
	k := out.Credentials
	asRole := kmsClient(e, credentials.NewStaticCredentialsProvider(aws.ToString(k.AccessKeyId), aws.ToString(k.SecretAccessKey), aws.ToString(k.SessionToken)))
	_, err = asRole.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(repoKey), KeySpec: kmstypes.DataKeySpecAes256,
		EncryptionContext: map[string]string{"repository": "app"}})
	ecrMust(t, "GenerateDataKey by the role in its repository's context", err)
	_, err = asRole.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(repoKey), KeySpec: kmstypes.DataKeySpecAes256,
		EncryptionContext: map[string]string{"repository": "db"}})
	wantAPIError(t, "GenerateDataKey by the role in another context", err, "AccessDeniedException", 400, "")
	digest := sha256.Sum256([]byte("image manifest"))
	sig, err := asRole.Sign(ctx, &kms.SignInput{KeyId: aws.String("alias/image-signing"), Message: digest[:], MessageType: kmstypes.MessageTypeDigest,
		SigningAlgorithm: kmstypes.SigningAlgorithmSpecEcdsaSha256})
	ecrMust(t, "Sign by the role through its grant", err)
	if !ecdsa.VerifyASN1(pub, digest[:], sig.Signature) {
		t.Error("the signature does not verify against the public key Terraform read")
	}
	grants, err := root.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(repoKey)})
	ecrMust(t, "ListGrants", err)
	if len(grants.Grants) != 2 {
		t.Errorf("the repository key has %d grants, want 2", len(grants.Grants))
	}

	w.destroy()
	for _, key := range []string{repoKey, signingKey} {
		grants, err := root.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(key)})
		ecrMust(t, "ListGrants after destroy", err)
		if len(grants.Grants) != 0 {
			t.Errorf("after destroy, key %s has %d grants", key, len(grants.Grants))
		}
	}
	noServerErrors(t, e)
}
