package scaleout

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/ecrd/ecrd/test/ecrdtest"
)

// TestAdminCommandsOnTheDatabase: `ecrd account` and `ecrd access-key`
// work against the replicas' database with --metadata and the shared
// server keys: an account and its root key made there sign calls to a
// running replica at once. Without the server keys they refuse, saying
// why, rather than make a key only they could read.
func TestAdminCommandsOnTheDatabase(t *testing.T) {
	c := startCluster(t, 1)
	r := c.Replicas[0]
	admin := func(env []string, args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(ecrdtest.Bin(), append(args, "--metadata", c.Metadata, "--data", t.TempDir())...)
		cmd.Env = append(os.Environ(), env...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		cmd.Run()
		return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
	}
	if out, errOut, code := admin(c.Env, "account", "create", "--id", "210987654321"); code != 0 || !strings.Contains(out, "210987654321") {
		t.Fatalf("ecrd account create: exit %d: %s%s", code, out, errOut)
	}
	out, errOut, code := admin(c.Env, "access-key", "create", "--account", "210987654321")
	m := regexp.MustCompile(`aws_access_key_id = (\S+)\naws_secret_access_key = (\S+)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("ecrd access-key create: exit %d: %s%s", code, out, errOut)
	}
	other := ecr.New(ecr.Options{Region: ecrdtest.Region, BaseEndpoint: aws.String(r.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(m[1], m[2], "")})
	created, err := other.CreateRepository(bg, &ecr.CreateRepositoryInput{RepositoryName: aws.String("other/app")})
	if err != nil {
		t.Fatalf("CreateRepository with the new account's key: %v", err)
	}
	if arn := aws.ToString(created.Repository.RepositoryArn); !strings.Contains(arn, ":210987654321:") {
		t.Fatalf("the repository was made in %s, want account 210987654321", arn)
	}
	if out, _, code := admin(c.Env, "access-key", "list"); code != 0 || !strings.Contains(out, m[1]) {
		t.Fatalf("ecrd access-key list: exit %d: %s", code, out)
	}

	var noKeys []string
	for _, kv := range c.Env {
		if !strings.HasPrefix(kv, "ECRD_SERVER_KEY=") {
			noKeys = append(noKeys, kv)
		}
	}
	noKeys = append(noKeys, "ECRD_SERVER_KEY=")
	if _, errOut, code := admin(noKeys, "access-key", "create", "--account", "210987654321"); code != 1 || !strings.Contains(errOut, "server keys") {
		t.Fatalf("ecrd access-key create without the server keys: exit %d: %s", code, errOut)
	}
}
