package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/blobstore/s3store"
	"github.com/ecrd/ecrd/internal/testutil/s3test"
	"github.com/ecrd/ecrd/test/ecrdtest"
)

// stressImage is an image a pusher had acknowledged.
type stressImage struct {
	repo, tag, digest string
}

// stressLoad pushes images that share layers into several repositories
// and deletes some of them, recording what the server acknowledged.
type stressLoad struct {
	layers []v1.Layer // shared by many images

	mu      sync.Mutex
	acked   []stressImage
	deleted map[string]bool // digest: deleted, or maybe (its answer was lost)
	seq     atomic.Int64
}

// keepRepos have no lifecycle policy: everything acknowledged and not
// deleted must stay. expireRepos keep their newest two images.
var (
	keepRepos   = []string{"stress/keep-a", "stress/keep-b", "stress/keep-c"}
	expireRepos = []string{"stress/expire-a", "stress/expire-b"}
)

func (l *stressLoad) image(rng *rand.Rand) (v1.Image, error) {
	own, err := random.Layer(2048, "application/vnd.oci.image.layer.v1.tar+gzip")
	if err != nil {
		return nil, err
	}
	a, b := l.layers[rng.IntN(len(l.layers))], l.layers[rng.IntN(len(l.layers))]
	return mutate.AppendLayers(empty.Image, a, b, own)
}

// run pushes and deletes until stop; failures of requests the kill cut are
// expected and ignored.
func (l *stressLoad) run(e *ecrd, password string, rng *rand.Rand, stop *atomic.Bool) {
	auth := remote.WithAuth(&authn.Basic{Username: "AWS", Password: password})
	c := ecrClient(e)
	for !stop.Load() {
		if rng.IntN(5) == 0 {
			l.deleteOne(c, rng)
			continue
		}
		img, err := l.image(rng)
		if err != nil {
			panic(err)
		}
		repo := append(slices.Clone(keepRepos), expireRepos...)[rng.IntN(len(keepRepos)+len(expireRepos))]
		tag := fmt.Sprintf("t%d", l.seq.Add(1))
		ref, _ := name.NewTag(e.Addr+"/"+repo+":"+tag, name.Insecure)
		if err := remote.Write(ref, img, auth); err != nil {
			continue
		}
		d, _ := img.Digest()
		l.mu.Lock()
		l.acked = append(l.acked, stressImage{repo, tag, d.String()})
		l.mu.Unlock()
	}
}

func (l *stressLoad) deleteOne(c *ecr.Client, rng *rand.Rand) {
	l.mu.Lock()
	var candidates []stressImage
	for _, img := range l.acked {
		if strings.Contains(img.repo, "keep") && !l.deleted[img.digest] {
			candidates = append(candidates, img)
		}
	}
	l.mu.Unlock()
	if len(candidates) == 0 {
		return
	}
	img := candidates[rng.IntN(len(candidates))]
	out, err := c.BatchDeleteImage(context.Background(), &ecr.BatchDeleteImageInput{RepositoryName: aws.String(img.repo),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(img.digest)}}})
	// A delete whose answer the kill cut may have taken effect: the image
	// then counts as deleted, since nothing promised it stays.
	if err != nil || len(out.ImageIds) == 1 {
		l.mu.Lock()
		l.deleted[img.digest] = true
		l.mu.Unlock()
	}
}

// TestGCAndLifecycleUnderLoad pushes images that share layers and deletes
// some, while garbage collection (a two-second grace) and lifecycle
// policies run every second, and kills the server with SIGKILL a few
// times. Then every acknowledged image that was neither deleted nor
// expired must pull completely, the expiring repositories must hold their
// newest two images, and once the grace has passed the blob store must
// hold exactly the blobs the surviving images reference: nothing lost,
// nothing leaked.
func TestGCAndLifecycleUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a stress test")
	}
	data := t.TempDir()
	args := []string{"--gc-grace", "2s", "--gc-interval", "1s", "--lifecycle-interval", "1s"}
	gcStress(t, []*ecrd{startECRD(t, data, args...)},
		func(*ecrd) *ecrd { return startBareECRD(t, data, args...) },
		func() map[string]bool {
			stored := map[string]bool{}
			filepath.WalkDir(filepath.Join(data, "blobs"), func(path string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					rel, _ := filepath.Rel(filepath.Join(data, "blobs"), path)
					parts := strings.Split(rel, string(os.PathSeparator))
					stored[parts[0]+":"+parts[len(parts)-1]] = true
				}
				return nil
			})
			return stored
		})
}

// TestGCAndLifecycleUnderLoadOnReplicas is TestGCAndLifecycleUnderLoad
// against two replicas on PostgreSQL and S3, both running collections and
// lifecycle policies every second under their leases: the load goes to
// both, a replica chosen at random is killed each cycle (perhaps holding
// a lease, perhaps in the middle of a collection or a run) and started
// again on its data folder, which takes its leases back. The bucket must
// end up holding exactly the blobs the surviving images reference.
func TestGCAndLifecycleUnderLoadOnReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("a stress test")
	}
	args := []string{"--gc-grace", "2s", "--gc-interval", "1s", "--lifecycle-interval", "1s"}
	c := ecrdtest.StartCluster(t, 2, args...)
	s3test.Start(t).Setenv(t) // the test lists the bucket too
	gcStress(t, c.Replicas,
		func(killed *ecrd) *ecrd { return c.Restart(t, killed, args...) },
		func() map[string]bool {
			st, err := s3store.Open(context.Background(), c.Blobs)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			stored := map[string]bool{}
			if err := st.Walk(context.Background(), func(b blobstore.BlobInfo) error {
				stored[b.Digest.String()] = true
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			return stored
		})
}

// gcStress runs the load against servers (each worker with one of them),
// kills one at random each cycle and has restart start it again, then
// checks what was acknowledged against what the servers serve and what
// storedBlobs lists.
func gcStress(t *testing.T, servers []*ecrd, restart func(killed *ecrd) *ecrd, storedBlobs func() map[string]bool) {
	servers = slices.Clone(servers)
	e := servers[0]
	c := ecrClient(e)
	ctx := context.Background()
	for _, repo := range append(slices.Clone(keepRepos), expireRepos...) {
		if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
			t.Fatal(err)
		}
	}
	keepTwo := `{"rules":[{"rulePriority":1,"description":"keep the newest two","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":2},"action":{"type":"expire"}}]}`
	for _, repo := range expireRepos {
		if _, err := c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String(repo), LifecyclePolicyText: aws.String(keepTwo)}); err != nil {
			t.Fatal(err)
		}
	}
	load := &stressLoad{deleted: map[string]bool{}}
	for range 6 {
		l, err := random.Layer(16<<10, "application/vnd.oci.image.layer.v1.tar+gzip")
		if err != nil {
			t.Fatal(err)
		}
		load.layers = append(load.layers, l)
	}

	const cycles = 4
	for cycle := range cycles {
		var stop atomic.Bool
		var wg sync.WaitGroup
		password := e.Password(t)
		for w := range 6 {
			rng := rand.New(rand.NewPCG(uint64(cycle), uint64(w)))
			target := servers[w%len(servers)]
			wg.Go(func() { load.run(target, password, rng, &stop) })
		}
		time.Sleep(2500 * time.Millisecond)
		victim := -1
		if cycle < cycles-1 {
			victim = rand.IntN(len(servers))
			servers[victim].Kill()
		}
		stop.Store(true)
		wg.Wait()
		if victim >= 0 {
			servers[victim] = restart(servers[victim])
		}
		e = servers[0]
	}
	t.Logf("%d images acknowledged, %d deleted, %d server restarts", len(load.acked), len(load.deleted), cycles-1)
	// The checks only read: they use the SDK's default retryer, as users
	// have it, which retries a read on a connection the client's own
	// transport closed under it (aws/aws-sdk-go-v2#2737).
	c = ecrClientRetrying(e)

	// Let the grace pass, then run the policies and a collection by hand.
	time.Sleep(2500 * time.Millisecond)
	if a := ecrdCall(t, e, "RunLifecyclePolicy", map[string]any{}, nil); a.Status != http.StatusOK && a.errorType() != "JobInProgressException" {
		t.Fatalf("RunLifecyclePolicy: %d %s", a.Status, a.Body)
	}
	// Two collections in a row: one another process's run, begun before
	// this one's links went, cannot have finished what this one needs.
	var gc struct{ BlobsDeleted, LinksRemoved int }
	for range 2 {
		for {
			a := ecrdCall(t, e, "CollectGarbage", map[string]any{}, &gc)
			if a.Status == http.StatusOK {
				break
			}
			if a.errorType() != "JobInProgressException" {
				t.Fatalf("CollectGarbage: %d %s", a.Status, a.Body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	auth := remote.WithAuth(&authn.Basic{Username: "AWS", Password: e.Password(t)})
	referenced := map[string]bool{}
	pull := func(repo, ref string) error {
		r, err := name.ParseReference(e.Addr+"/"+repo+ref, name.Insecure)
		if err != nil {
			return err
		}
		img, err := remote.Image(r, auth)
		if err != nil {
			return err
		}
		if err := validate.Image(img); err != nil {
			return err
		}
		m, err := img.Manifest()
		if err != nil {
			return err
		}
		referenced[m.Config.Digest.String()] = true
		for _, l := range m.Layers {
			referenced[l.Digest.String()] = true
		}
		return nil
	}
	// Every acknowledged image of the keep repositories, unless deleted,
	// pulls completely.
	checked := 0
	for _, img := range load.acked {
		if !strings.Contains(img.repo, "keep") || load.deleted[img.digest] {
			continue
		}
		if err := pull(img.repo, ":"+img.tag); err != nil {
			t.Errorf("acknowledged image %s:%s (%s) does not pull completely: %v", img.repo, img.tag, img.digest, err)
		}
		checked++
	}
	// Every image of every repository pulls completely (images whose push
	// the kill cut may be there too), and the expiring ones hold two.
	for _, repo := range append(slices.Clone(keepRepos), expireRepos...) {
		// Every page: a repository holds hundreds of images, and those whose
		// push the kill cut are found only here.
		var details []ecrtypes.ImageDetail
		pages := ecr.NewDescribeImagesPaginator(c, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo)})
		for pages.HasMorePages() {
			out, err := pages.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			details = append(details, out.ImageDetails...)
		}
		if strings.Contains(repo, "expire") && len(details) > 2 {
			t.Errorf("%s holds %d images after its policy ran, want at most 2", repo, len(details))
		}
		for _, d := range details {
			if err := pull(repo, "@"+aws.ToString(d.ImageDigest)); err != nil {
				t.Errorf("%s@%s does not pull completely: %v", repo, aws.ToString(d.ImageDigest), err)
			}
		}
	}
	// The blob store holds exactly what the survivors reference.
	stored := storedBlobs()
	for d := range referenced {
		if !stored[d] {
			t.Errorf("blob %s of a surviving image is not in the blob store", d)
		}
	}
	for d := range stored {
		if !referenced[d] {
			t.Errorf("blob %s is in the blob store, but no surviving image references it: garbage collection left it", d)
		}
	}
	t.Logf("checked %d acknowledged images; %d blobs stored; the last collection removed %d links and %d blobs", checked, len(stored), gc.LinksRemoved, gc.BlobsDeleted)
	for _, s := range servers {
		noServerErrors(t, s)
	}
}
