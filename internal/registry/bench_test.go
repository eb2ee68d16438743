package registry_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/registrytest"
	"github.com/ecrd/ecrd/internal/testutil"
)

// benchImages is the size of the repository the listing benchmarks page
// through: ECR's limit of images per repository.
const benchImages = 100_000

// bigRepository makes a repository of benchImages images pushed one a
// second (in no relation to their digests), half of them tagged, written
// straight to the store (the push path is not what is measured).
func bigRepository(b *testing.B) *registry.Registry {
	start := time.Now().Add(-benchImages * time.Second)
	return seedRepository(b, func(i int) ([]string, time.Time) {
		at := start.Add(time.Duration(i) * time.Second)
		if i%2 == 0 {
			return []string{fmt.Sprintf("v%d", i)}, at
		}
		return nil, at
	})
}

// seedRepository makes the repository "big" of benchImages images, image
// i with the tags and push time image(i) gives.
func seedRepository(b *testing.B, image func(i int) ([]string, time.Time)) *registry.Registry {
	reg, _ := seedStores(b, image)
	return reg
}

// seedStores is seedRepository that also returns the stores.
func seedStores(b *testing.B, image func(i int) ([]string, time.Time)) (*registry.Registry, registrytest.Stores) {
	b.Helper()
	reg, stores := registrytest.New(b, registry.Options{})
	registrytest.CreateOnPush(b, reg)
	if _, err := reg.StartUpload(ctx, key("big")); err != nil {
		b.Fatal(err)
	}
	repo, err := stores.Meta.Repository(ctx, key("big"))
	if err != nil {
		b.Fatal(err)
	}
	const batch = 10_000
	for start := 0; start < benchImages; start += batch {
		err := stores.Meta.Update(ctx, func(tx metadata.Tx) error {
			for i := start; i < start+batch; i++ {
				tags, pushed := image(i)
				content := []byte(fmt.Sprintf(`{"schemaVersion":2,"n":%d}`, i))
				img := metadata.Image{RepoID: repo.ID, Digest: digest.FromBytes(content), MediaType: "application/vnd.oci.image.manifest.v1+json",
					ArtifactType: "application/vnd.oci.image.config.v1+json", Size: int64(len(content)), ImageSize: 1 << 20, PushedAt: pushed, Content: content}
				if err := tx.PutImage(ctx, img, nil); err != nil {
					return err
				}
				for _, tag := range tags {
					if err := tx.PutTag(ctx, repo.ID, tag, img.Digest, pushed); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return reg, stores
}

// BenchmarkListingPages measures one page of DescribeImages (100 images,
// ECR's default) and ListImages (1,000 image IDs, its maximum), and one
// of DescribeImagesOrdered newest first and oldest first (50 images, the
// console's page), at the start and deep inside a 100,000-image
// repository. The target is under 20 ms a page.
func BenchmarkListingPages(b *testing.B) {
	reg := bigRepository(b)
	// Tokens from the middle of the repository, for the deep pages.
	var deep string
	for range 50 {
		_, next, err := reg.ListImages(ctx, key("big"), registry.ImageFilter{Tags: registry.TagStatusAny}, deep, 1000)
		if err != nil {
			b.Fatal(err)
		}
		deep = next
	}
	deepIn := func(order registry.ImageOrder) string {
		var token string
		for range 50 {
			_, next, err := reg.DescribeImagesOrdered(ctx, key("big"), registry.ImageFilter{Tags: registry.TagStatusAny}, order, token, 1000)
			if err != nil {
				b.Fatal(err)
			}
			token = next
		}
		return token
	}
	deepNewest, deepOldest := deepIn(registry.OrderPushedNewest), deepIn(registry.OrderPushedOldest)
	ordered := func(order registry.ImageOrder, filter registry.ImageFilter) func(token string) (int, error) {
		return func(token string) (int, error) {
			imgs, _, err := reg.DescribeImagesOrdered(ctx, key("big"), filter, order, token, 50)
			return len(imgs), err
		}
	}
	cases := []struct {
		name string
		deep string
		run  func(token string) (int, error)
	}{
		{"DescribeImages/100", deep, func(token string) (int, error) {
			imgs, _, err := reg.DescribeImages(ctx, key("big"), nil, registry.ImageFilter{Tags: registry.TagStatusAny}, token, 100)
			return len(imgs), err
		}},
		{"DescribeImages/100/untagged", deep, func(token string) (int, error) {
			imgs, _, err := reg.DescribeImages(ctx, key("big"), nil, registry.ImageFilter{Tags: registry.TagStatusUntagged}, token, 100)
			return len(imgs), err
		}},
		{"ListImages/1000", deep, func(token string) (int, error) {
			ids, _, err := reg.ListImages(ctx, key("big"), registry.ImageFilter{Tags: registry.TagStatusAny}, token, 1000)
			return len(ids), err
		}},
		// The console's repository page: active images, newest first.
		{"DescribeImagesOrdered/newest/50", deepNewest, ordered(registry.OrderPushedNewest, registry.ImageFilter{Status: metadata.ImageActive})},
		{"DescribeImagesOrdered/newest/50/untagged", deepNewest, ordered(registry.OrderPushedNewest, registry.ImageFilter{Tags: registry.TagStatusUntagged})},
		{"DescribeImagesOrdered/oldest/50", deepOldest, ordered(registry.OrderPushedOldest, registry.ImageFilter{Status: metadata.ImageActive})},
	}
	for _, c := range cases {
		for _, at := range []struct{ name, token string }{{"first", ""}, {"middle", c.deep}} {
			b.Run(c.name+"/"+at.name, func(b *testing.B) {
				for b.Loop() {
					n, err := c.run(at.token)
					if err != nil || n == 0 {
						b.Fatalf("page of %d, %v", n, err)
					}
				}
			})
		}
	}
}

// benchPolicy is a policy of five rules of every kind, as a platform team
// writes them.
const benchPolicy = `{"rules":[
{"rulePriority":1,"description":"keep 50 prod","selection":{"tagStatus":"tagged","tagPatternList":["prod-*"],"countType":"imageCountMoreThan","countNumber":50},"action":{"type":"expire"}},
{"rulePriority":2,"description":"release images for 90 days","selection":{"tagStatus":"tagged","tagPrefixList":["release"],"countType":"sinceImagePushed","countUnit":"days","countNumber":90},"action":{"type":"expire"}},
{"rulePriority":3,"description":"beta for 30 days","selection":{"tagStatus":"tagged","tagPatternList":["beta-*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":30},"action":{"type":"expire"}},
{"rulePriority":4,"description":"untagged for 7 days","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}},
{"rulePriority":5,"description":"at most 20000 images","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":20000},"action":{"type":"expire"}}]}`

// lifecycleRepository is a 100,000-image repository pushed one a minute
// over ten weeks: prod, release, beta and untagged images.
func lifecycleRepository(b *testing.B) (*registry.Registry, registrytest.Stores) {
	start := time.Now().Add(-benchImages * time.Minute)
	return seedStores(b, func(i int) ([]string, time.Time) {
		at := start.Add(time.Duration(i) * time.Minute)
		switch i % 4 {
		case 0:
			return []string{fmt.Sprintf("prod-%d", i), fmt.Sprintf("git-%x", i)}, at
		case 1:
			return []string{fmt.Sprintf("release-%d", i)}, at
		case 2:
			return []string{fmt.Sprintf("beta-%d", i)}, at
		}
		return nil, at
	})
}

// BenchmarkLifecyclePreview measures a lifecycle policy preview of a
// 100,000-image repository end to end: reading the repository from the
// store, evaluating five rules, storing the results; then reading the
// first page of results as GetLifecyclePolicyPreview does.
func BenchmarkLifecyclePreview(b *testing.B) {
	reg, _ := lifecycleRepository(b)
	var p registry.Preview
	for b.Loop() {
		var err error
		p, err = reg.StartLifecyclePolicyPreview(ctx, key("big"), benchPolicy, time.Time{})
		for err == nil && p.Status == registry.PreviewInProgress {
			time.Sleep(time.Millisecond)
			p, err = reg.LifecyclePolicyPreview(ctx, key("big"))
		}
		if err != nil || p.Status != registry.PreviewComplete {
			b.Fatalf("preview: %v, %v", p.Status, err)
		}
	}
	b.ReportMetric(float64(len(p.Results)), "actions")
}

// BenchmarkImageGraph measures reading a 100,000-image repository for a
// lifecycle evaluation: images in push order, their tags and children.
func BenchmarkImageGraph(b *testing.B) {
	_, stores := lifecycleRepository(b)
	repo, err := stores.Meta.Repository(ctx, key("big"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := stores.Meta.ImageGraph(ctx, repo.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthorizedManifestGet measures a manifest GET by tag (warm
// cache) as the account's root without a repository policy; as another
// account's root that a repository policy with a condition lets pull; and
// as a session of a role of the account with the AWS managed PowerUser
// policy attached, a session policy, and that repository policy in
// force: what authorization costs per request.
func BenchmarkAuthorizedManifestGet(b *testing.B) {
	_, stores := registrytest.New(b, registry.Options{})
	ids := identity.New(stores.Meta, testutil.Keyring(b), nil)
	reg := registry.New(stores.Meta, stores.Blobs, registry.Options{Identity: ids})
	registrytest.CreateOnPush(b, reg)
	session := roleSession(b, ids)
	f := &fixture{reg: reg}
	f.pushImage(b, "app", "v1", "a")
	other := identity.NewContext(ctx, identity.Root("210987654321"))
	policy := `{"Version":"2012-10-17","Statement":[
{"Sid":"Pull","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::210987654321:root","333333333333"]},
 "Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"],
 "Condition":{"StringEquals":{"aws:PrincipalAccount":["210987654321","333333333333"]}}},
{"Sid":"NoDeletes","Effect":"Deny","Principal":"*","Action":"ecr:BatchDeleteImage"}]}`
	for _, c := range []struct {
		name   string
		ctx    context.Context
		policy string
	}{{"root-no-policy", ctx, ""}, {"cross-account-policy", other, policy}, {"role-session-policy", session, policy}} {
		if c.policy != "" {
			if _, err := reg.SetRepositoryPolicy(ctx, key("app"), c.policy, false); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := reg.Manifest(c.ctx, key("app"), "v1", false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// roleSession returns a context of a session of the role "ci" of the
// account, which has PowerUser attached, assumed with a session policy.
func roleSession(b *testing.B, ids *identity.Service) context.Context {
	if _, err := ids.EnsureAccount(ctx, scope.Account); err != nil {
		b.Fatal(err)
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + scope.Account + `:root"},"Action":"sts:AssumeRole"}]}`
	if _, err := ids.CreateRole(ctx, identity.RoleInput{Name: "ci", TrustPolicy: trust}); err != nil {
		b.Fatal(err)
	}
	if err := ids.AttachPolicy(ctx, identity.Grantee{Kind: metadata.IAMRole, Name: "ci"}, "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser"); err != nil {
		b.Fatal(err)
	}
	a, err := ids.AssumeRole(ctx, identity.AssumeRoleInput{RoleARN: "arn:aws:iam::" + scope.Account + ":role/ci", SessionName: "bench",
		Policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:*:*:repository/app"}]}`})
	if err != nil {
		b.Fatal(err)
	}
	sess, err := ids.VerifySession(ctx, a.Credentials.AccessKeyID, a.Credentials.SessionToken)
	if err != nil {
		b.Fatal(err)
	}
	return identity.NewContext(ctx, sess.Principal())
}
