package scaleout

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ecrd/ecrd/test/ecrdtest"
)

// TestSettingBindsOtherReplicas: a repository made immutable through one
// replica refuses, within a second, a push that moves a tag through
// another, which had the repository's settings cached; and a repository
// policy denying a pull binds the same way.
func TestSettingBindsOtherReplicas(t *testing.T) {
	c := startCluster(t, 2)
	a, b := c.Replicas[0], c.Replicas[1]
	opts := remoteOptions(a.Password(t))
	if err := remote.Write(ref(t, b, "bind/app:v1"), randomImage(t, 1024, 1), opts...); err != nil {
		t.Fatal(err)
	}
	// b has read the repository's settings: it moves the tag freely.
	if err := remote.Write(ref(t, b, "bind/app:v1"), randomImage(t, 1024, 1), opts...); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ECR().PutImageTagMutability(bg, &ecr.PutImageTagMutabilityInput{
		RepositoryName: aws.String("bind/app"), ImageTagMutability: ecrtypes.ImageTagMutabilityImmutable}); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, time.Second, "replica 2 to refuse moving a tag of a repository made immutable through replica 1", func() bool {
		err := remote.Write(ref(t, b, "bind/app:v1"), randomImage(t, 1024, 1), opts...)
		return err != nil && regexp.MustCompile(`TAG_INVALID|immutable`).MatchString(err.Error())
	})
	t.Logf("an immutability setting made through replica 1 bound replica 2 after %s", took)

	// A policy that denies the root's pulls in this repository.
	if _, err := a.ECR().SetRepositoryPolicy(bg, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("bind/app"),
		PolicyText: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"ecr:BatchGetImage"}]}`)}); err != nil {
		t.Fatal(err)
	}
	took = waitFor(t, time.Second, "replica 2 to deny a pull a policy set through replica 1 denies", func() bool {
		_, err := remote.Image(ref(t, b, "bind/app:v1"), opts...)
		return err != nil && regexp.MustCompile(`DENIED|403`).MatchString(err.Error())
	})
	t.Logf("a repository policy set through replica 1 bound replica 2 after %s", took)
}

// TestLifecycleRunsOnceAcrossReplicas: a lifecycle run started through
// two replicas at once expires each image once: together they expire
// every image the policy selects, and one of them may find the other
// holding the job.
func TestLifecycleRunsOnceAcrossReplicas(t *testing.T) {
	c := startCluster(t, 2, "--lifecycle-interval", "-1s")
	a := c.Replicas[0]
	opts := remoteOptions(a.Password(t))
	const images = 8
	for i := range images {
		if err := remote.Write(ref(t, c.Replicas[i%2], fmt.Sprintf("life/app:v%d", i)), randomImage(t, 512, 1), opts...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.ECR().PutLifecyclePolicy(bg, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("life/app"),
		LifecyclePolicyText: aws.String(`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`)}); err != nil {
		t.Fatal(err)
	}
	expiredRE := regexp.MustCompile(`expired images: (\d+)`)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		expired int
		outs    []string
	)
	for _, r := range c.Replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(ecrdtest.Bin(), "lifecycle", "run", "--endpoint-url", r.URL(), "--region", ecrdtest.Region)
			cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+ecrdtest.AccessKey, "AWS_SECRET_ACCESS_KEY="+ecrdtest.Secret,
				"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			err := cmd.Run()
			mu.Lock()
			defer mu.Unlock()
			outs = append(outs, out.String()+errOut.String())
			var exit *exec.ExitError
			switch {
			case err == nil:
				m := expiredRE.FindStringSubmatch(out.String())
				if m == nil {
					t.Errorf("lifecycle run through %s printed %q", r.Addr, out.String())
					return
				}
				n, _ := strconv.Atoi(m[1])
				expired += n
			case errors.As(err, &exit) && bytes.Contains(errOut.Bytes(), []byte("in progress")):
				// The other replica held the job.
			default:
				t.Errorf("lifecycle run through %s: %v\n%s", r.Addr, err, errOut.String())
			}
		}()
	}
	wg.Wait()
	if expired != images-1 {
		t.Fatalf("the two runs expired %d images together, want %d: %q", expired, images-1, outs)
	}
	out, err := a.ECR().DescribeImages(bg, &ecr.DescribeImagesInput{RepositoryName: aws.String("life/app")})
	if err != nil || len(out.ImageDetails) != 1 {
		t.Fatalf("after the runs: %v images, %v; want 1", len(out.ImageDetails), err)
	}
}
