package scaleout

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/ecrd/ecrd/internal/lifecycle"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/postgres"
	"github.com/ecrd/ecrd/internal/registry/lifecyclerun"
	"github.com/ecrd/ecrd/test/ecrdtest"
)

// hundredK is ECR's limit of images in one repository.
const hundredK = 100_000

// hundredKPolicy keeps the ten newest images: a preview of it expires
// 99,990, so it reads, evaluates and stores the whole repository.
const hundredKPolicy = `{"rules":[{"rulePriority":1,"description":"keep ten","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":10},"action":{"type":"expire"}}]}`

// BenchmarkHundredThousandImages measures a replica on PostgreSQL and S3
// serving one repository of 100,000 images, through aws-sdk-go-v2: a
// page of DescribeImages (100, ECR's default, and 1,000, its most) at
// the start and halfway through, and of untagged images only; lifecycle
// policy previews of the whole repository (StartLifecyclePolicyPreview,
// then GetLifecyclePolicyPreview until it is complete); and the replica's
// memory after the listings, after one preview and after three. It also
// times, in this process on the same database, the evaluation alone
// (reading the repository and deciding, as the replica does it, without
// storing results) and the read alone. The targets are a page under
// 20 ms, an evaluation under 1 s and a replica under 150 MB.
//
// The images are written straight into the database (half of them
// tagged, one pushed a minute): pushing 100,000 manifests is not what is
// measured, and neither listing nor lifecycle reads a config or layer.
//
//	go test ./test/scaleout -run '^$' -bench BenchmarkHundredThousandImages -benchtime 1x
//
// HUNDREDK_GOMEMLIMIT, if set, is the replica's GOMEMLIMIT. With
// HUNDREDK_PROFILE=DIR the benchmark also saves the replica's CPU
// profile over one more preview (preview.cpu.pprof) and its live heap
// after it (heap.pprof) in DIR.
func BenchmarkHundredThousandImages(b *testing.B) {
	profileDir := os.Getenv("HUNDREDK_PROFILE")
	var args []string
	var debugAddr string
	if profileDir != "" {
		debugAddr = freeAddr(b)
		args = append(args, "--debug-listen", debugAddr)
	}
	c := ecrdtest.StartCluster(b, 0)
	if limit := os.Getenv("HUNDREDK_GOMEMLIMIT"); limit != "" {
		c.Env = append(c.Env, "GOMEMLIMIT="+limit)
	}
	r := c.Add(b, args...)
	client := r.ECR()
	const name = "big/app"
	if _, err := client.CreateRepository(bg, &ecr.CreateRepositoryInput{RepositoryName: aws.String(name)}); err != nil {
		b.Fatal(err)
	}
	store, err := postgres.Open(bg, c.Metadata)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	repo, err := store.Repository(bg, metadata.RepoKey{Scope: metadata.Scope{Account: ecrdtest.Account, Region: ecrdtest.Region}, Name: name})
	if err != nil {
		b.Fatal(err)
	}
	policy, err := lifecycle.Parse(hundredKPolicy, lifecycle.Options{})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	seedHundredK(b, store, repo.ID)
	b.Logf("seeded %d images in %s", hundredK, time.Since(start).Round(time.Millisecond))

	type figure struct {
		name  string
		value float64
	}
	var figures []figure
	add := func(name string, v float64) { figures = append(figures, figure{name, v}) }
	memory := func(stage string) {
		rss, hwm := procMemory(b, r.Pid())
		add("rss-"+stage+"-MB", rss/1e6)
		add("peak-rss-"+stage+"-MB", hwm/1e6)
	}
	memory("seeded")

	// A token halfway through: 50 pages of 1,000 (DescribeImages' most).
	var middle *string
	for range hundredK / 2 / 1000 {
		out, err := client.DescribeImages(bg, &ecr.DescribeImagesInput{RepositoryName: aws.String(name), MaxResults: aws.Int32(1000), NextToken: middle})
		if err != nil {
			b.Fatal(err)
		}
		middle = out.NextToken
	}
	untagged := &ecrtypes.DescribeImagesFilter{TagStatus: ecrtypes.TagStatusUntagged}

	for b.Loop() {
		for _, page := range []struct {
			name   string
			size   int32
			token  *string
			filter *ecrtypes.DescribeImagesFilter
		}{
			{"100-first", 100, nil, nil}, {"100-middle", 100, middle, nil}, {"100-untagged-first", 100, nil, untagged},
			{"1000-first", 1000, nil, nil}, {"1000-middle", 1000, middle, nil},
		} {
			p50, p99 := describeLatency(b, client, &ecr.DescribeImagesInput{RepositoryName: aws.String(name),
				MaxResults: aws.Int32(page.size), NextToken: page.token, Filter: page.filter}, 200)
			add("describe-"+page.name+"-p50-ms", ms(p50))
			add("describe-"+page.name+"-p99-ms", ms(p99))
		}
		memory("listed")

		// Where a preview's time goes: the read, and the read with the
		// decisions, here on the same database.
		var reads, evals []time.Duration
		for range 3 {
			t0 := time.Now()
			graph, err := store.ImageGraph(bg, repo.ID)
			if err != nil || len(graph) != hundredK {
				b.Fatalf("ImageGraph: %d images, %v", len(graph), err)
			}
			reads = append(reads, time.Since(t0))
			t0 = time.Now()
			_, decisions, err := lifecyclerun.Evaluate(bg, store, repo, policy, time.Now())
			if err != nil || len(decisions) != hundredK-10 {
				b.Fatalf("Evaluate: %d decisions, %v", len(decisions), err)
			}
			evals = append(evals, time.Since(t0))
		}
		add("read-median-ms", ms(median(reads)))
		add("evaluate-median-ms", ms(median(evals)))

		var previews []time.Duration
		for i := range 3 {
			previews = append(previews, previewHundredK(b, client, name))
			if i == 0 {
				memory("1-preview")
			}
		}
		add("preview-first-ms", ms(previews[0]))
		add("preview-median-ms", ms(median(previews)))
		memory("3-previews")
	}
	if profileDir != "" {
		profileReplica(b, debugAddr, profileDir, func() { previewHundredK(b, client, name) })
	}
	for _, f := range figures {
		b.ReportMetric(f.value, f.name)
	}
	ecrdtest.NoServerErrors(b, r)
}

// median returns the middle of an odd number of durations.
func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// seedHundredK writes hundredK images into the repository, 10,000 a
// transaction: even ones tagged, one a minute up to now.
func seedHundredK(b *testing.B, store *postgres.Store, repoID int64) {
	b.Helper()
	seedImages(b, store, repoID, 0, hundredK, seedOptions{First: time.Now().Add(-hundredK * time.Minute)})
}

// describeLatency calls DescribeImages n times and returns the median and
// 99th percentile, checking each page is full.
func describeLatency(b *testing.B, client *ecr.Client, in *ecr.DescribeImagesInput, n int) (p50, p99 time.Duration) {
	b.Helper()
	took := make([]time.Duration, n)
	for i := range took {
		t0 := time.Now()
		out, err := client.DescribeImages(bg, in)
		took[i] = time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		if len(out.ImageDetails) != int(aws.ToInt32(in.MaxResults)) || out.NextToken == nil {
			b.Fatalf("a page of %d images (next token %v), want %d and more", len(out.ImageDetails), out.NextToken != nil, aws.ToInt32(in.MaxResults))
		}
		d := out.ImageDetails[0]
		if aws.ToInt64(d.ImageSizeInBytes) != 1<<20 || d.ImagePushedAt == nil || aws.ToString(d.ImageManifestMediaType) == "" {
			b.Fatalf("an image described as %+v", d)
		}
	}
	return percentiles(took)
}

// previewHundredK previews hundredKPolicy on a repository of hundredK
// images (see previewPolicy).
func previewHundredK(b *testing.B, client *ecr.Client, name string) time.Duration {
	b.Helper()
	return previewPolicy(b, client, name, hundredK)
}

// previewPolicy previews hundredKPolicy on a repository of n images and
// returns the time from StartLifecyclePolicyPreview until
// GetLifecyclePolicyPreview answers COMPLETE with its first page of
// results.
func previewPolicy(b *testing.B, client *ecr.Client, name string, n int) time.Duration {
	b.Helper()
	t0 := time.Now()
	if _, err := client.StartLifecyclePolicyPreview(bg, &ecr.StartLifecyclePolicyPreviewInput{
		RepositoryName: aws.String(name), LifecyclePolicyText: aws.String(hundredKPolicy)}); err != nil {
		b.Fatal(err)
	}
	for {
		out, err := client.GetLifecyclePolicyPreview(bg, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(name)})
		if err != nil {
			b.Fatal(err)
		}
		status := out.Status
		if status == ecrtypes.LifecyclePolicyPreviewStatusComplete {
			took := time.Since(t0)
			if got := aws.ToInt32(out.Summary.ExpiringImageTotalCount); got != int32(n-10) || len(out.PreviewResults) != min(100, n-10) {
				b.Fatalf("the preview expires %d images (a page of %d), want %d", got, len(out.PreviewResults), n-10)
			}
			return took
		}
		if status != ecrtypes.LifecyclePolicyPreviewStatusInProgress || time.Since(t0) > time.Minute {
			b.Fatalf("preview status %s after %s", status, time.Since(t0))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// procMemory returns a process's resident memory now (VmRSS) and at its
// peak (VmHWM), in bytes.
func procMemory(b *testing.B, pid int) (rss, hwm float64) {
	b.Helper()
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	field := func(name string) float64 {
		for _, line := range strings.Split(string(status), "\n") {
			if rest, ok := strings.CutPrefix(line, name+":"); ok {
				f := strings.Fields(rest)
				if kib, err := strconv.ParseFloat(f[0], 64); err == nil && len(f) == 2 && f[1] == "kB" {
					return kib * 1024
				}
			}
		}
		b.Fatalf("/proc/%d/status has no %s", pid, name)
		return 0
	}
	return field("VmRSS"), field("VmHWM")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// profileReplica saves the replica's CPU profile while run runs, then its
// heap profile, from its --debug-listen address.
func profileReplica(b *testing.B, addr, dir string, run func()) {
	b.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	save := func(path, file string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %s", path, resp.Status)
		}
		f, err := os.Create(filepath.Join(dir, file))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if _, err := io.Copy(f, resp.Body); err != nil {
			b.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		save("/debug/pprof/profile?seconds=3", "preview.cpu.pprof")
	}()
	time.Sleep(200 * time.Millisecond) // the profile has started
	run()
	<-done
	save("/debug/pprof/heap?gc=1", "heap.pprof") // after a collection: the live heap
	b.Logf("profiles in %s", dir)
}
