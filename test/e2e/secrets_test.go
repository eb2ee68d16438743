package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

func secretsClient(e *ecrd, creds aws.CredentialsProvider) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{Region: testRegion, BaseEndpoint: aws.String(e.URL()), Credentials: creds, Retryer: closedConnRetryer()})
}

const secretNotFound = "Secrets Manager can't find the specified secret."

// TestSecretsManager drives every operation ecrd serves with the SDK:
// values stored encrypted (not in the data folder in clear), versions and
// their labels, tags, a customer KMS key, a resource policy that denies a
// user, scheduled deletion and restore, and the errors.
func TestSecretsManager(t *testing.T) {
	data := t.TempDir()
	e := startBareECRD(t, data)
	ctx := context.Background()
	c := secretsClient(e, static(testAccessKey, testSecret))
	const value = `{"username":"puller","accessToken":"e2e-clear-text-token-4711"}`

	cs, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("ecr-pullthroughcache/upstream"), Description: aws.String("upstream credentials"),
		SecretString: aws.String(value), Tags: []smtypes.Tag{{Key: aws.String("team"), Value: aws.String("platform")}}})
	ecrMust(t, "CreateSecret", err)
	prefix := "arn:aws:secretsmanager:" + testRegion + ":" + testAccount + ":secret:ecr-pullthroughcache/upstream-"
	if arn := aws.ToString(cs.ARN); !strings.HasPrefix(arn, prefix) || len(arn) != len(prefix)+6 {
		t.Errorf("ARN %s", arn)
	}
	first := aws.ToString(cs.VersionId)
	_, err = c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("ecr-pullthroughcache/upstream"), SecretString: aws.String("x")})
	wantAPIError(t, "CreateSecret again", err, "ResourceExistsException", 400, "The operation failed because the secret ecr-pullthroughcache/upstream already exists.")
	_, err = c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("bad name")})
	wantAPIError(t, "CreateSecret bad name", err, "InvalidParameterException", 400, "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	_, err = c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("both"), SecretString: aws.String("a"), SecretBinary: []byte("b")})
	wantAPIError(t, "CreateSecret both values", err, "InvalidParameterException", 400, "You can't specify both a binary secret value and a string secret value in the same secret.")

	gv, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("ecr-pullthroughcache/upstream")})
	ecrMust(t, "GetSecretValue", err)
	if aws.ToString(gv.SecretString) != value || aws.ToString(gv.VersionId) != first || !slices.Equal(gv.VersionStages, []string{"AWSCURRENT"}) || gv.CreatedDate == nil {
		t.Errorf("GetSecretValue = %+v", gv)
	}
	_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nothing")})
	wantAPIError(t, "GetSecretValue of none", err, "ResourceNotFoundException", 400, secretNotFound)

	// Versions and labels.
	pv, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: cs.ARN, SecretString: aws.String(`{"username":"puller","accessToken":"second"}`)})
	ecrMust(t, "PutSecretValue", err)
	second := aws.ToString(pv.VersionId)
	bin, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: cs.ARN, SecretBinary: []byte{0, 1, 2, 255}, VersionStages: []string{"STAGED"}})
	ecrMust(t, "PutSecretValue binary", err)
	prev, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: cs.ARN, VersionStage: aws.String("AWSPREVIOUS")})
	ecrMust(t, "GetSecretValue AWSPREVIOUS", err)
	if aws.ToString(prev.SecretString) != value || aws.ToString(prev.VersionId) != first {
		t.Errorf("AWSPREVIOUS = %s", aws.ToString(prev.VersionId))
	}
	staged, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: cs.ARN, VersionId: bin.VersionId})
	ecrMust(t, "GetSecretValue by VersionId", err)
	if !bytes.Equal(staged.SecretBinary, []byte{0, 1, 2, 255}) || staged.SecretString != nil {
		t.Errorf("binary version = %v", staged.SecretBinary)
	}
	_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: cs.ARN, VersionStage: aws.String("NOPE")})
	wantAPIError(t, "GetSecretValue of no label", err, "ResourceNotFoundException", 400, "Secrets Manager can't find the specified secret value for staging label: NOPE")
	_, err = c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: cs.ARN, VersionStage: aws.String("AWSCURRENT"), RemoveFromVersionId: aws.String(second)})
	wantAPIError(t, "remove AWSCURRENT", err, "InvalidParameterException", 400, "You can only move staging label AWSCURRENT to a different secret version. It can’t be completely removed.")
	_, err = c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: cs.ARN, VersionStage: aws.String("AWSCURRENT"),
		MoveToVersionId: aws.String(first), RemoveFromVersionId: aws.String(second)})
	ecrMust(t, "UpdateSecretVersionStage", err)
	lv, err := c.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: cs.ARN})
	ecrMust(t, "ListSecretVersionIds", err)
	stages := map[string][]string{}
	for _, v := range lv.Versions {
		stages[aws.ToString(v.VersionId)] = v.VersionStages
	}
	if !slices.Equal(stages[first], []string{"AWSCURRENT"}) || !slices.Equal(stages[second], []string{"AWSPREVIOUS"}) || !slices.Equal(stages[aws.ToString(bin.VersionId)], []string{"STAGED"}) {
		t.Errorf("labels after moving AWSCURRENT back: %v", stages)
	}

	// Describe, update, tags, list.
	_, err = c.UpdateSecret(ctx, &secretsmanager.UpdateSecretInput{SecretId: cs.ARN, Description: aws.String("changed")})
	ecrMust(t, "UpdateSecret", err)
	_, err = c.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: cs.ARN, Tags: []smtypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}})
	ecrMust(t, "TagResource", err)
	_, err = c.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: cs.ARN, TagKeys: []string{"team"}})
	ecrMust(t, "UntagResource", err)
	ds, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("ecr-pullthroughcache/upstream")})
	ecrMust(t, "DescribeSecret", err)
	if aws.ToString(ds.Description) != "changed" || len(ds.Tags) != 1 || aws.ToString(ds.Tags[0].Key) != "env" || len(ds.VersionIdsToStages) != 3 || ds.DeletedDate != nil || ds.KmsKeyId != nil {
		t.Errorf("DescribeSecret = %+v", ds)
	}
	_, err = c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("other")})
	ecrMust(t, "CreateSecret without a value", err)
	ls, err := c.ListSecrets(ctx, &secretsmanager.ListSecretsInput{Filters: []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{"ecr-pullthroughcache/"}}}})
	ecrMust(t, "ListSecrets", err)
	if len(ls.SecretList) != 1 || aws.ToString(ls.SecretList[0].ARN) != aws.ToString(cs.ARN) {
		t.Errorf("ListSecrets name filter = %d", len(ls.SecretList))
	}
	pages := secretsmanager.NewListSecretsPaginator(c, &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(1)})
	n := 0
	for pages.HasMorePages() {
		p, err := pages.NextPage(ctx)
		ecrMust(t, "ListSecrets page", err)
		n += len(p.SecretList)
	}
	if n != 2 {
		t.Errorf("ListSecrets pages held %d secrets, want 2", n)
	}

	// A customer key: the caller needs kms:GenerateDataKey and kms:Decrypt
	// on it, which the root has.
	kc := kmsClient(e, static(testAccessKey, testSecret))
	key, err := kc.CreateKey(ctx, &kms.CreateKeyInput{})
	ecrMust(t, "CreateKey", err)
	kd, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("keyed"), KmsKeyId: key.KeyMetadata.Arn, SecretString: aws.String("under-a-customer-key")})
	ecrMust(t, "CreateSecret with a customer key", err)
	lk, err := c.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: kd.ARN})
	ecrMust(t, "ListSecretVersionIds", err)
	if len(lk.Versions) != 1 || !slices.Equal(lk.Versions[0].KmsKeyIds, []string{aws.ToString(key.KeyMetadata.Arn)}) {
		t.Errorf("the version's key = %+v", lk.Versions)
	}
	_, err = kc.DisableKey(ctx, &kms.DisableKeyInput{KeyId: key.KeyMetadata.KeyId})
	ecrMust(t, "DisableKey", err)
	_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: kd.ARN})
	wantAPIError(t, "GetSecretValue with the key disabled", err, "DecryptionFailure", 400, "")
	_, err = c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: kd.ARN, SecretString: aws.String("x")})
	wantAPIError(t, "PutSecretValue with the key disabled", err, "EncryptionFailure", 400, "")
	_, err = kc.EnableKey(ctx, &kms.EnableKeyInput{KeyId: key.KeyMetadata.KeyId})
	ecrMust(t, "EnableKey", err)
	// The alias Secrets Manager made for its managed key.
	dk, err := kc.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/secretsmanager")})
	ecrMust(t, "DescribeKey alias/aws/secretsmanager", err)
	if dk.KeyMetadata.KeyManager != "AWS" {
		t.Errorf("alias/aws/secretsmanager's key is managed by %s", dk.KeyMetadata.KeyManager)
	}

	// IAM and the resource policy: a user allowed by IAM reads; the
	// policy's explicit deny of that user refuses it.
	_, rootIAM, _ := clientsFor(e, static(testAccessKey, testSecret))
	reader := secretsClient(e, newUser(t, rootIAM, "reader", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}]}`))
	nobody := secretsClient(e, newUser(t, rootIAM, "nobody", ""))
	r, err := reader.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: cs.ARN})
	ecrMust(t, "GetSecretValue by a user (through the AWS managed key)", err)
	if aws.ToString(r.SecretString) != value {
		t.Errorf("the user read %q", aws.ToString(r.SecretString))
	}
	// The managed key serves only through Secrets Manager.
	_, err = kmsClient(e, static(testAccessKey, testSecret)).GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/aws/secretsmanager"), NumberOfBytes: aws.Int32(32)})
	wantAPIError(t, "GenerateDataKey with alias/aws/secretsmanager directly", err, "AccessDeniedException", 400, "")
	_, err = reader.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: kd.ARN})
	wantAPIError(t, "GetSecretValue by a user without kms:Decrypt on the customer key", err, "AccessDeniedException", 400, "Access to KMS is not allowed")
	_, err = nobody.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: cs.ARN})
	wantAPIError(t, "GetSecretValue without a policy", err, "AccessDeniedException", 400,
		"User: arn:aws:iam::"+testAccount+":user/nobody is not authorized to perform: secretsmanager:GetSecretValue on resource: "+aws.ToString(cs.ARN)+
			" because no identity-based policy allows the secretsmanager:GetSecretValue action")
	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::` + testAccount + `:user/reader"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`
	_, err = c.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: cs.ARN, ResourcePolicy: aws.String(deny)})
	ecrMust(t, "PutResourcePolicy", err)
	gp, err := c.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: cs.ARN})
	ecrMust(t, "GetResourcePolicy", err)
	if aws.ToString(gp.ResourcePolicy) != deny {
		t.Errorf("GetResourcePolicy = %s", aws.ToString(gp.ResourcePolicy))
	}
	_, err = reader.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: cs.ARN})
	wantAPIError(t, "GetSecretValue denied by the resource policy", err, "AccessDeniedException", 400, "")
	_, err = c.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: cs.ARN, ResourcePolicy: aws.String(`{"Version":"2012-10-17","Statement":[`)})
	wantAPIError(t, "PutResourcePolicy malformed", err, "MalformedPolicyDocumentException", 400, "")
	_, err = c.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: cs.ARN, ResourcePolicy: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`)})
	wantAPIError(t, "PutResourcePolicy public", err, "PublicPolicyException", 400, "")
	_, err = c.DeleteResourcePolicy(ctx, &secretsmanager.DeleteResourcePolicyInput{SecretId: cs.ARN})
	ecrMust(t, "DeleteResourcePolicy", err)
	_, err = reader.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: cs.ARN})
	ecrMust(t, "GetSecretValue after DeleteResourcePolicy", err)

	// Deletion: scheduled, refused reads, restored; forced.
	_, err = c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: cs.ARN, RecoveryWindowInDays: aws.Int64(31)})
	wantAPIError(t, "DeleteSecret window 31", err, "InvalidParameterException", 400, "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
	_, err = c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: cs.ARN, RecoveryWindowInDays: aws.Int64(7), ForceDeleteWithoutRecovery: aws.Bool(true)})
	wantAPIError(t, "DeleteSecret window and force", err, "InvalidParameterException", 400, "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	del, err := c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: cs.ARN, RecoveryWindowInDays: aws.Int64(7)})
	ecrMust(t, "DeleteSecret", err)
	if del.DeletionDate == nil {
		t.Error("DeleteSecret: no DeletionDate")
	}
	_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: cs.ARN})
	wantAPIError(t, "GetSecretValue of a deleted secret", err, "InvalidRequestException", 400, "You can't perform this operation on the secret because it was marked for deletion.")
	if ds, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: cs.ARN}); err != nil || ds.DeletedDate == nil {
		t.Errorf("DescribeSecret of a deleted secret: %v", err)
	}
	_, err = c.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: cs.ARN})
	ecrMust(t, "RestoreSecret", err)
	_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: cs.ARN})
	ecrMust(t, "GetSecretValue after RestoreSecret", err)
	_, err = c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("other"), ForceDeleteWithoutRecovery: aws.Bool(true)})
	ecrMust(t, "DeleteSecret force", err)
	_, err = c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("other")})
	wantAPIError(t, "DescribeSecret after a forced deletion", err, "ResourceNotFoundException", 400, secretNotFound)

	// The audit trail shows the calls, never a value.
	ct := cloudTrailClient(e, static(testAccessKey, testSecret))
	trail := eventually(t, "Secrets Manager calls", ct, cttypes.LookupAttributeKeyEventSource, "secretsmanager.amazonaws.com", func(es []cttypes.Event) bool {
		seen := map[string]bool{}
		for _, ev := range es {
			seen[aws.ToString(ev.EventName)] = true
		}
		return seen["CreateSecret"] && seen["PutSecretValue"] && seen["GetSecretValue"] && seen["DeleteSecret"]
	})
	for _, ev := range trail {
		if strings.Contains(aws.ToString(ev.CloudTrailEvent), "e2e-clear-text-token-4711") || strings.Contains(aws.ToString(ev.CloudTrailEvent), "under-a-customer-key") {
			t.Errorf("the trail's %s holds a value: %s", aws.ToString(ev.EventName), aws.ToString(ev.CloudTrailEvent))
		}
	}

	// No value in clear anywhere in the data folder.
	for _, needle := range []string{"e2e-clear-text-token-4711", "under-a-customer-key"} {
		_ = filepath.WalkDir(data, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			b, _ := os.ReadFile(p)
			if bytes.Contains(b, []byte(needle)) {
				t.Errorf("%s holds the value %s in clear", p, needle)
			}
			return nil
		})
	}
	noServerErrors(t, e)
}

// TestSecretsManagerAWSCLI makes a few calls with the AWS CLI v2.
func TestSecretsManagerAWSCLI(t *testing.T) {
	cli := awsCLI(t)
	e := startBareECRD(t, t.TempDir())
	env, _ := scriptEnv(t, e)
	run := func(args ...string) (map[string]any, string, error) {
		t.Helper()
		cmd := exec.Command(cli, append([]string{"--endpoint-url", e.URL(), "secretsmanager"}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		var v map[string]any
		if err == nil && len(bytes.TrimSpace(out)) > 0 {
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatalf("aws secretsmanager %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		return v, string(out), err
	}
	must := func(args ...string) map[string]any {
		t.Helper()
		v, out, err := run(args...)
		if err != nil {
			t.Fatalf("aws secretsmanager %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return v
	}
	must("create-secret", "--name", "cli/creds", "--secret-string", "cli-value-1")
	if v := must("get-secret-value", "--secret-id", "cli/creds"); v["SecretString"] != "cli-value-1" {
		t.Errorf("get-secret-value = %v", v)
	}
	must("put-secret-value", "--secret-id", "cli/creds", "--secret-string", "cli-value-2")
	if v := must("get-secret-value", "--secret-id", "cli/creds", "--version-stage", "AWSPREVIOUS"); v["SecretString"] != "cli-value-1" {
		t.Errorf("get-secret-value AWSPREVIOUS = %v", v)
	}
	if l := must("list-secrets")["SecretList"].([]any); len(l) != 1 {
		t.Errorf("list-secrets = %v", l)
	}
	must("delete-secret", "--secret-id", "cli/creds", "--force-delete-without-recovery")
	if _, out, err := run("describe-secret", "--secret-id", "cli/creds"); err == nil || !strings.Contains(out, "ResourceNotFoundException") || !strings.Contains(out, secretNotFound) {
		t.Errorf("describe-secret after delete: %v\n%s", err, out)
	}
	noServerErrors(t, e)
}

// TestTerraformSecrets applies testdata/terraform/secrets (a secret with
// no recovery window and a version holding registry credentials) with the
// real AWS provider, plans clean, reads the value through the SDK, and
// destroys it.
func TestTerraformSecrets(t *testing.T) {
	e := startBareECRD(t, t.TempDir())
	w := newTFWorkspace(t, e, "secrets")
	w.applyClean()
	out := w.outputs()
	arn, _ := out["secret_arn"].(string)
	if !strings.HasPrefix(arn, "arn:aws:secretsmanager:"+testRegion+":"+testAccount+":secret:ecr-pullthroughcache/upstream-") {
		t.Errorf("secret_arn = %v", out["secret_arn"])
	}
	ctx := context.Background()
	c := secretsClient(e, static(testAccessKey, testSecret))
	v, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	ecrMust(t, "GetSecretValue", err)
	var creds struct{ Username, AccessToken string }
	if err := json.Unmarshal([]byte(aws.ToString(v.SecretString)), &creds); err != nil || creds.Username != "terraform-user" || creds.AccessToken != "terraform-token" {
		t.Errorf("the value Terraform put: %v", err)
	}
	w.destroy()
	ls, err := c.ListSecrets(ctx, &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true)})
	ecrMust(t, "ListSecrets", err)
	if len(ls.SecretList) != 0 {
		t.Errorf("destroy left %d secrets", len(ls.SecretList))
	}
	noServerErrors(t, e)
}
