package scaleout

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/lifecycle"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/postgres"
	"github.com/ecrd/ecrd/internal/metadata/sqlite"
	"github.com/ecrd/ecrd/internal/registry/lifecyclerun"
	"github.com/ecrd/ecrd/test/ecrdtest"
)

// BenchmarkScale measures a real ecrd process on a large data set, in
// each storage mode: embedded (SQLite and the data folder) and scale-out
// (PostgreSQL and versitygw, as the other tests here run them).
//
// The data set is 1,000 repositories: one of 100,000 images (ECR's most
// in one repository) and 999 of 100 (199,900 images), then, for the
// start-up figure at a million, the 999 grown to 901 each (1,000,099
// images). Each image is a manifest referencing a config and a layer of
// its own and a base layer its repository shares; the blobs are recorded
// and linked as pushes leave them, a day or more ago, so that a garbage
// collection examines every link and record. Images are written straight
// into the metadata store through its write API (seedImages): pushing a
// million manifests is not what is measured, and listing, lifecycle and
// the collection's mark read metadata only, so no blob is stored (the
// collection's walk of the blob store finds nothing).
//
// It measures, with the process started on the data set: the start-up
// time (from exec until /healthz answers, and what ecrd logs as
// startup=) empty, at 199,900 and at 1,000,099 images; the process's
// memory (VmRSS, VmHWM) after start, after every tag of the small
// repositories was pulled once (the manifest cache at its bound), and
// under a mix of aws-sdk-go-v2 DescribeRepositories, DescribeImages and
// ListImages pages and manifest GETs by tag; DescribeImages and ListImages page latency (p50, p99) on
// the 100,000-image repository, first page and halfway, 100 and 1,000 a
// page; a lifecycle evaluation of the 100,000 images in this process
// (lifecyclerun.Evaluate) and a preview through the SDK; and garbage
// collection: the mark's scans in this process (every link, then every
// blob record, as a collection reads them) and a whole collection, with
// nothing to delete, through `ecrd gc`. The targets are a start-up
// under 200 ms empty and 2 s at a million, under 150 MB at 100,000
// images, a page under 20 ms and an evaluation under 1 s.
//
//	go test ./test/scaleout -run '^$' -bench 'BenchmarkScale/embedded' -benchtime 1x -timeout 60m -v
//	go test ./test/scaleout -run '^$' -bench 'BenchmarkScale/scaleout' -benchtime 1x -timeout 60m -v
//
// (-v prints the table of results as it is logged; without it Go keeps
// the first ten lines of a benchmark's log.)
//
// SCALE_BIG, SCALE_REPOS, SCALE_SMALL, SCALE_SMALL_FULL (images of the
// big repository, repositories, images of each other one, and of each
// other one at the million) and SCALE_CALLS, SCALE_LOAD (calls per page
// latency, seconds of load) make the data set and the run smaller. With
// SCALE_PROFILE=DIR the process's live heap after the load is saved in
// DIR/heap-after-load.pprof. SCALE_ECRD_ENV adds variables (VAR=VALUE,
// space-separated) to ecrd's environment only: GOGC=50, say.
func BenchmarkScale(b *testing.B) {
	b.Run("embedded", func(b *testing.B) {
		data := b.TempDir()
		benchScale(b, &scaleMode{
			opts: ecrdtest.Options{Data: data},
			open: func(tb testing.TB) metadata.Store {
				s, err := sqlite.Open(bg, filepath.Join(data, "ecrd.db"))
				if err != nil {
					tb.Fatal(err)
				}
				return s
			},
		})
	})
	b.Run("scaleout", func(b *testing.B) {
		c := ecrdtest.StartCluster(b, 0)
		benchScale(b, &scaleMode{
			opts: ecrdtest.Options{Data: b.TempDir(), Args: []string{"--metadata", c.Metadata, "--blobs", c.Blobs}, Env: c.Env},
			open: func(tb testing.TB) metadata.Store {
				s, err := postgres.Open(bg, c.Metadata)
				if err != nil {
					tb.Fatal(err)
				}
				return s
			},
			// What autovacuum does within a minute of such a load.
			seeded: func(tb testing.TB) {
				conn, err := pgx.Connect(bg, c.Metadata)
				if err != nil {
					tb.Fatal(err)
				}
				defer conn.Close(bg)
				if _, err := conn.Exec(bg, "VACUUM ANALYZE"); err != nil {
					tb.Fatal(err)
				}
			},
		})
	})
}

// scaleMode is how one storage mode runs ecrd and opens its store.
type scaleMode struct {
	opts   ecrdtest.Options
	open   func(testing.TB) metadata.Store
	seeded func(testing.TB) // run after seeding, if set
}

// scaleRepo is a repository of the data set and how many images it holds.
type scaleRepo struct {
	name   string
	id     int64
	images int
}

// scaleStart is one start of ecrd and how long it took.
type scaleStart struct {
	srv   *ecrdtest.Server
	debug string // its --debug-listen address, with SCALE_PROFILE
	// wall is from exec until /healthz answered; logged is what ecrd
	// logged as startup= (from opening the stores until it listens).
	wall, logged time.Duration
}

// start runs ecrd on the mode's data and times it.
func (m *scaleMode) start(b *testing.B) scaleStart {
	b.Helper()
	addr := freeAddr(b)
	o := m.opts
	o.Args = append(slices.Clone(o.Args), "--listen", addr)
	if env := os.Getenv("SCALE_ECRD_ENV"); env != "" {
		o.Env = append(slices.Clone(o.Env), strings.Fields(env)...)
	}
	var debug string
	if os.Getenv("SCALE_PROFILE") != "" {
		debug = freeAddr(b)
		o.Args = append(o.Args, "--debug-listen", debug)
	}
	healthy, stop := make(chan time.Time, 1), make(chan struct{})
	defer close(stop)
	probe := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	t0 := time.Now()
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if resp, err := probe.Get("http://" + addr + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					healthy <- time.Now()
					return
				}
			}
			time.Sleep(500 * time.Microsecond)
		}
	}()
	srv := ecrdtest.StartWith(b, o)
	var at time.Time
	select {
	case at = <-healthy:
	case <-time.After(10 * time.Second):
		b.Fatal("/healthz did not answer")
	}
	s := scaleStart{srv: srv, debug: debug, wall: at.Sub(t0)}
	for _, l := range srv.LogLines() {
		if l["msg"] == "listening" {
			d, err := time.ParseDuration(fmt.Sprint(l["startup"]))
			if err != nil {
				b.Fatalf("listening line without a start-up time: %v", l)
			}
			s.logged = d
		}
	}
	return s
}

// starts starts ecrd n times (stopping all but the last) and returns the
// medians of the start-up times and the last process.
func (m *scaleMode) starts(b *testing.B, n int) (wall, logged time.Duration, last scaleStart) {
	b.Helper()
	var walls, loggeds []time.Duration
	for i := range n {
		s := m.start(b)
		walls, loggeds = append(walls, s.wall), append(loggeds, s.logged)
		if i < n-1 {
			s.srv.Stop()
		}
		last = s
	}
	b.Logf("start-ups: exec to /healthz %v, logged %v", walls, loggeds)
	return median(walls), median(loggeds), last
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return n
}

func benchScale(b *testing.B, m *scaleMode) {
	var (
		big       = envInt(b, "SCALE_BIG", hundredK)
		repoCount = envInt(b, "SCALE_REPOS", 1000)
		small     = envInt(b, "SCALE_SMALL", 100)
		smallFull = envInt(b, "SCALE_SMALL_FULL", 901)
		calls     = envInt(b, "SCALE_CALLS", 200)
		loadFor   = time.Duration(envInt(b, "SCALE_LOAD", 30)) * time.Second
	)
	type row struct{ name, value, target string }
	var rows []row
	report := func(name string, v float64, unit, target string) {
		b.ReportMetric(v, name+"-"+unit)
		rows = append(rows, row{name, strconv.FormatFloat(v, 'f', 1, 64) + " " + unit, target})
	}
	memory := func(stage string, srv *ecrdtest.Server, target string) {
		rss, hwm := procMemory(b, srv.Pid())
		report("rss-"+stage, rss/1e6, "MB", target)
		report("peak-rss-"+stage, hwm/1e6, "MB", "")
		report("anon-rss-"+stage, anonMemory(b, srv.Pid())/1e6, "MB", "")
	}
	var debugAddr string
	startups := func(stage string, n int, target string) *ecrdtest.Server {
		wall, logged, last := m.starts(b, n)
		srv := last.srv
		debugAddr = last.debug
		report("startup-wall-"+stage, ms(wall), "ms", target)
		report("startup-logged-"+stage, ms(logged), "ms", "")
		time.Sleep(time.Second) // what a just-started process settles to
		memory("started-"+stage, srv, "")
		return srv
	}

	// Empty: the first start creates the schema; the others are what a
	// restart of an empty registry takes.
	first := m.start(b)
	report("startup-wall-first", ms(first.wall), "ms", "")
	first.srv.Stop()
	srv := startups("empty", 5, "< 200 ms")

	// The repositories, through the API, as they are made.
	repos := make([]scaleRepo, repoCount)
	for i := range repos {
		repos[i] = scaleRepo{name: fmt.Sprintf("team%02d/app%03d", i%50, i), images: small}
	}
	repos[0] = scaleRepo{name: "big/app", images: big}
	client := srv.ECR()
	for _, r := range repos {
		if _, err := client.CreateRepository(bg, &ecr.CreateRepositoryInput{RepositoryName: aws.String(r.name)}); err != nil {
			b.Fatal(err)
		}
	}
	srv.Stop()

	// The images: a day and more ago, one a minute in each repository.
	firstPush := time.Now().Add(-48*time.Hour - time.Duration(big)*time.Minute)
	store := m.open(b)
	defer func() {
		if store != nil {
			store.Close()
		}
	}()
	for i := range repos {
		repo, err := store.Repository(bg, metadata.RepoKey{Scope: metadata.Scope{Account: ecrdtest.Account, Region: ecrdtest.Region}, Name: repos[i].name})
		if err != nil {
			b.Fatal(err)
		}
		repos[i].id = repo.ID
	}
	// One writer: two serializable transactions of thousands of images
	// at once exhaust PostgreSQL's predicate locks (out of shared memory).
	seed := func(upto func(scaleRepo) int) (int, time.Duration) {
		t0 := time.Now()
		total := 0
		for i := range repos {
			to := upto(repos[i])
			seedImages(b, store, repos[i].id, repos[i].images, to, seedOptions{First: firstPush, Blobs: true, Batch: 5000})
			total += to - repos[i].images
			repos[i].images = to
		}
		if m.seeded != nil {
			m.seeded(b)
		}
		return total, time.Since(t0)
	}
	for i := range repos {
		repos[i].images = 0
	}
	n, took := seed(func(r scaleRepo) int {
		if r.name == "big/app" {
			return big
		}
		return small
	})
	b.Logf("seeded %d images in %d repositories in %s (%.0f images/s)", n, len(repos), took.Round(time.Second), float64(n)/took.Seconds())
	images := func() (n int) {
		for _, r := range repos {
			n += r.images
		}
		return n
	}
	atSeeded := images()
	// The store is closed while ecrd starts: nothing else holds the
	// database then.
	store.Close()

	srv = startups("seeded", 3, "")
	store = m.open(b)
	client = srv.ECR()

	// Every tag of the other repositories pulled once: the manifest cache
	// reaches its bound, where a registry that ran a while has it.
	gets, took := fillManifestCache(b, srv, repos[1:], 8)
	b.Logf("pulled every tag of %d repositories: %d manifest GETs in %s", len(repos)-1, gets, took.Round(time.Second))
	memory("after-every-tag", srv, "")

	// Under load: several clients at once, as a registry serves them.
	load := scaleLoad(b, srv, repos, loadFor, 8)
	for _, op := range slices.Sorted(func(yield func(string) bool) {
		for k := range load.took {
			if !yield(k) {
				return
			}
		}
	}) {
		p50, p99 := percentiles(load.took[op])
		b.Logf("load %-22s %6d calls  p50 %6.1f ms  p99 %6.1f ms", op, len(load.took[op]), ms(p50), ms(p99))
	}
	report("load-calls-per-s", float64(load.calls)/loadFor.Seconds(), "calls/s", "")
	report("rss-load-max", load.maxRSS/1e6, "MB", "< 150 MB")
	memory("after-load", srv, "< 150 MB")
	if dir := os.Getenv("SCALE_PROFILE"); dir != "" {
		saveHeap(b, debugAddr, filepath.Join(dir, "heap-after-load.pprof"))
	}

	// Page latency on the 100,000-image repository.
	const name = "big/app"
	middle := func(pageThrough func(token *string) *string) *string {
		var token *string
		for range big / 2 / 1000 {
			token = pageThrough(token)
		}
		return token
	}
	describeMiddle := middle(func(t *string) *string {
		out, err := client.DescribeImages(bg, &ecr.DescribeImagesInput{RepositoryName: aws.String(name), MaxResults: aws.Int32(1000), NextToken: t})
		if err != nil {
			b.Fatal(err)
		}
		return out.NextToken
	})
	listMiddle := middle(func(t *string) *string {
		out, err := client.ListImages(bg, &ecr.ListImagesInput{RepositoryName: aws.String(name), MaxResults: aws.Int32(1000), NextToken: t})
		if err != nil {
			b.Fatal(err)
		}
		return out.NextToken
	})
	for _, page := range []struct {
		name          string
		size          int32
		describe, lst *string
	}{{"100-first", 100, nil, nil}, {"100-middle", 100, describeMiddle, listMiddle}, {"1000-first", 1000, nil, nil}, {"1000-middle", 1000, describeMiddle, listMiddle}} {
		p50, p99 := describeLatency(b, client, &ecr.DescribeImagesInput{RepositoryName: aws.String(name), MaxResults: aws.Int32(page.size), NextToken: page.describe}, calls)
		report("describe-"+page.name+"-p50", ms(p50), "ms", "< 20 ms")
		report("describe-"+page.name+"-p99", ms(p99), "ms", "")
		p50, p99 = listLatency(b, client, &ecr.ListImagesInput{RepositoryName: aws.String(name), MaxResults: aws.Int32(page.size), NextToken: page.lst}, calls)
		report("list-"+page.name+"-p50", ms(p50), "ms", "< 20 ms")
		report("list-"+page.name+"-p99", ms(p99), "ms", "")
	}

	// Lifecycle: the evaluation alone, here on the same store, and a
	// preview through ecrd (which stores its 99,990 results).
	policy, err := lifecycle.Parse(hundredKPolicy, lifecycle.Options{})
	if err != nil {
		b.Fatal(err)
	}
	bigRepo, err := store.Repository(bg, metadata.RepoKey{Scope: metadata.Scope{Account: ecrdtest.Account, Region: ecrdtest.Region}, Name: name})
	if err != nil {
		b.Fatal(err)
	}
	var evals []time.Duration
	for range 3 {
		t0 := time.Now()
		_, decisions, err := lifecyclerun.Evaluate(bg, store, bigRepo, policy, time.Now())
		if err != nil || len(decisions) != big-10 {
			b.Fatalf("Evaluate: %d decisions, %v", len(decisions), err)
		}
		evals = append(evals, time.Since(t0))
	}
	report("lifecycle-evaluate-median", ms(median(evals)), "ms", "< 1 s")
	report("lifecycle-preview", ms(previewPolicy(b, client, name, big)), "ms", "")
	memory("after-preview", srv, "")

	// Garbage collection, with nothing to delete.
	// Twice each: the first pays for reading the database into caches.
	markScan := func(stage string) {
		for _, run := range []string{"", "again-"} {
			report("gc-mark-scan-"+run+stage, ms(gcMarkScan(b, store)), "ms", "")
		}
		for _, run := range []string{"", "again-"} {
			wall, took := collect(b, srv)
			report("gc-collection-"+run+stage, ms(took), "ms", "")
			report("gc-collection-wall-"+run+stage, ms(wall), "ms", "")
		}
	}
	markScan("seeded")
	ecrdtest.NoServerErrors(b, srv)
	srv.Stop()
	store.Close()
	store = nil

	// A million images, for the start-up.
	if smallFull > small {
		store = m.open(b)
		n, took = seed(func(r scaleRepo) int {
			if r.name == "big/app" {
				return big
			}
			return smallFull
		})
		b.Logf("seeded %d more images in %s (%.0f images/s)", n, took.Round(time.Second), float64(n)/took.Seconds())
		store.Close()
		srv = startups("full", 3, "< 2 s")
		store = m.open(b)
		markScan("full")
		ecrdtest.NoServerErrors(b, srv)
		srv.Stop()
	}

	b.Logf("data set: %d repositories, the largest %d images; %d images, then %d", len(repos), big, atSeeded, images())
	b.Logf("%-34s %14s  %s", "figure", "value", "target")
	for _, r := range rows {
		b.Logf("%-34s %14s  %s", r.name, r.value, r.target)
	}
}

// scaleLoadResult is what a load measured.
type scaleLoadResult struct {
	calls  int
	took   map[string][]time.Duration // by operation
	maxRSS float64                    // the most VmRSS seen, in bytes
}

// scaleLoad runs workers clients for d, each calling at random: a
// DescribeRepositories page of 100 and the next (1 in 10), a
// DescribeImages page of 100 (1 in 4), a ListImages page of 1,000 (1 in
// 6), or a manifest GET by tag (the rest), of a random repository (the
// large one 1 in 10 times). It samples the process's VmRSS every 100 ms.
func scaleLoad(b *testing.B, srv *ecrdtest.Server, repos []scaleRepo, d time.Duration, workers int) scaleLoadResult {
	b.Helper()
	client, web := srv.ECR(), srv.HTTPClient(b)
	res := scaleLoadResult{took: map[string][]time.Duration{}}
	var mu sync.Mutex
	deadline := time.Now().Add(d)
	pick := func() scaleRepo {
		if rand.N(10) == 0 {
			return repos[0]
		}
		return repos[1+rand.N(len(repos)-1)]
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				r := pick()
				var op string
				t0 := time.Now()
				var err error
				switch k := rand.N(60); {
				case k < 6:
					op = "DescribeRepositories"
					var out *ecr.DescribeRepositoriesOutput
					if out, err = client.DescribeRepositories(bg, &ecr.DescribeRepositoriesInput{MaxResults: aws.Int32(100)}); err == nil {
						_, err = client.DescribeRepositories(bg, &ecr.DescribeRepositoriesInput{MaxResults: aws.Int32(100), NextToken: out.NextToken})
					}
				case k < 21:
					op = "DescribeImages"
					var out *ecr.DescribeImagesOutput
					if out, err = client.DescribeImages(bg, &ecr.DescribeImagesInput{RepositoryName: aws.String(r.name), MaxResults: aws.Int32(100)}); err == nil && len(out.ImageDetails) != min(100, r.images) {
						err = fmt.Errorf("DescribeImages %s: %d images", r.name, len(out.ImageDetails))
					}
				case k < 31:
					op = "ListImages"
					var out *ecr.ListImagesOutput
					if out, err = client.ListImages(bg, &ecr.ListImagesInput{RepositoryName: aws.String(r.name), MaxResults: aws.Int32(1000)}); err == nil && len(out.ImageIds) != min(1000, r.images) {
						err = fmt.Errorf("ListImages %s: %d images", r.name, len(out.ImageIds))
					}
				default:
					op = "GET manifest by tag"
					err = getManifest(web, srv.URL(), r.name, "v"+strconv.Itoa(2*rand.N((r.images+1)/2)))
				}
				took := time.Since(t0)
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				res.calls++
				res.took[op] = append(res.took[op], took)
				mu.Unlock()
			}
		})
	}
	for time.Now().Before(deadline) {
		rss, _ := procMemory(b, srv.Pid())
		res.maxRSS = max(res.maxRSS, rss)
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return res
}

// fillManifestCache GETs every tag of repos (v0, v2, ...) once, through
// workers clients, and returns how many and how long they took.
func fillManifestCache(b *testing.B, srv *ecrdtest.Server, repos []scaleRepo, workers int) (int, time.Duration) {
	b.Helper()
	web := srv.HTTPClient(b)
	type get struct{ repo, tag string }
	gets := make(chan get)
	var wg sync.WaitGroup
	var failed atomic.Bool
	for range workers {
		wg.Go(func() {
			for g := range gets {
				if err := getManifest(web, srv.URL(), g.repo, g.tag); err != nil && !failed.Swap(true) {
					b.Error(err)
				}
			}
		})
	}
	t0 := time.Now()
	n := 0
	for _, r := range repos {
		for i := 0; i < r.images && !failed.Load(); i += 2 {
			gets <- get{r.name, "v" + strconv.Itoa(i)}
			n++
		}
	}
	close(gets)
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return n, time.Since(t0)
}

// getManifest GETs a manifest by tag and checks it is one.
func getManifest(c *http.Client, base, repo, tag string) error {
	req, err := http.NewRequest(http.MethodGet, base+"/v2/"+repo+"/manifests/"+tag, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"config"`)) {
		return fmt.Errorf("GET %s:%s: %s %.200s", repo, tag, resp.Status, body)
	}
	return nil
}

// percentiles returns the median and 99th percentile (nearest rank: the
// ceil(p*n)-th smallest).
func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	s := slices.Sorted(slices.Values(d))
	n := len(s)
	return s[(n+1)/2-1], s[(n*99+99)/100-1]
}

// listLatency calls ListImages n times and returns the median and 99th
// percentile, checking each page is full.
func listLatency(b *testing.B, client *ecr.Client, in *ecr.ListImagesInput, n int) (p50, p99 time.Duration) {
	b.Helper()
	took := make([]time.Duration, n)
	for i := range took {
		t0 := time.Now()
		out, err := client.ListImages(bg, in)
		took[i] = time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		if len(out.ImageIds) != int(aws.ToInt32(in.MaxResults)) || out.NextToken == nil || aws.ToString(out.ImageIds[0].ImageDigest) == "" {
			b.Fatalf("a page of %d images (next token %v), want %d and more", len(out.ImageIds), out.NextToken != nil, aws.ToInt32(in.MaxResults))
		}
	}
	return percentiles(took)
}

// gcMarkScan reads what a collection's mark reads, as it reads it (pages
// of 500): every link, for the unreferenced ones, then every blob
// record, for the unlinked ones, with the collection's default grace.
// Every blob is referenced, so it finds none.
func gcMarkScan(b *testing.B, store metadata.Store) time.Duration {
	b.Helper()
	const page = 500
	cutoff := time.Now().Add(-24 * time.Hour)
	t0 := time.Now()
	var after metadata.Link
	for {
		stale, next, err := store.UnreferencedLinks(bg, cutoff, after, page)
		if err != nil || len(stale) > 0 {
			b.Fatalf("UnreferencedLinks: %d, %v", len(stale), err)
		}
		if next == (metadata.Link{}) {
			break
		}
		after = next
	}
	var afterBlob digest.Digest
	for {
		garbage, next, err := store.CollectableBlobs(bg, cutoff, afterBlob, page)
		if err != nil || len(garbage) > 0 {
			b.Fatalf("CollectableBlobs: %d, %v", len(garbage), err)
		}
		if next == "" {
			break
		}
		afterBlob = next
	}
	return time.Since(t0)
}

var tookLine = regexp.MustCompile(`(?m)^took: ([0-9.]+)s$`)

// collect runs a garbage collection on the server with `ecrd gc` and
// returns the command's wall time and the collection's own, checking it
// deleted nothing.
func collect(b *testing.B, srv *ecrdtest.Server) (wall, took time.Duration) {
	b.Helper()
	cmd := exec.Command(ecrdtest.Bin(), "gc", "--endpoint", srv.URL())
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+ecrdtest.AccessKey, "AWS_SECRET_ACCESS_KEY="+ecrdtest.Secret, "AWS_REGION="+ecrdtest.Region)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	wall = time.Since(t0)
	if err != nil {
		b.Fatalf("ecrd gc: %v\n%s", err, out)
	}
	m := tookLine.FindSubmatch(out)
	if m == nil || !strings.Contains(string(out), "links removed: 0\nblobs deleted: 0\n") {
		b.Fatalf("ecrd gc said:\n%s", out)
	}
	s, _ := strconv.ParseFloat(string(m[1]), 64)
	return wall, time.Duration(s * float64(time.Second))
}

// anonMemory returns the part of a process's resident memory that is
// its own (RssAnon: the heap, stacks), not pages of the binary and other
// files it maps (RssFile), in bytes.
func anonMemory(b *testing.B, pid int) float64 {
	b.Helper()
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			if f := strings.Fields(rest); len(f) == 2 && f[1] == "kB" {
				if kib, err := strconv.ParseFloat(f[0], 64); err == nil {
					return kib * 1024
				}
			}
		}
	}
	b.Fatalf("/proc/%d/status has no RssAnon", pid)
	return 0
}

// saveHeap saves the live heap (after a collection) of the process that
// serves Go's profiler on addr, and beside it (PATH.memstats.txt) the
// runtime's memory statistics as they were before that collection:
// HeapSys, what the heap took from the system at its largest.
func saveHeap(b *testing.B, addr, path string) {
	b.Helper()
	savePprof(b, "http://"+addr+"/debug/pprof/heap?debug=1", path+".memstats.txt")
	savePprof(b, "http://"+addr+"/debug/pprof/heap?gc=1", path)
}

func savePprof(b *testing.B, url, path string) {
	b.Helper()
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("%s: %s %v", url, resp.Status, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, body, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Logf("%s in %s", url, path)
}
