package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
)

// BenchmarkLifecyclePreviewHTTP measures what a platform team waits for:
// a lifecycle policy preview of a 100,000-image repository through the
// real server and aws-sdk-go-v2, from StartLifecyclePolicyPreview to the
// last page of GetLifecyclePolicyPreview (100 results a page, ECR's
// maximum). The images are pushed through /v2 first (not measured): every
// fourth one tagged prod, release, beta or not at all. They are all new,
// so the preview looks 100 days ahead (ecrd's evaluateAt) for the age
// rules to act.
//
//	go test -run '^$' -bench LifecyclePreviewHTTP -benchtime 3x ./test/e2e/
//
// With -short it pushes 5,000 images instead, to try it quickly.
func BenchmarkLifecyclePreviewHTTP(b *testing.B) {
	e := startECRD(b, b.TempDir(), "--lifecycle-interval", "-1s")
	hc := e.HTTPClient(b)
	const repo = "bench/preview"
	images := int64(100_000)
	if testing.Short() {
		images = 5_000
	}
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	ociPushBlob(b, e, hc, repo, config)
	var (
		next   atomic.Int64
		failed atomic.Value
		wg     sync.WaitGroup
	)
	start := time.Now()
	for range 8 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= images || failed.Load() != nil {
					return
				}
				m, _ := json.Marshal(map[string]any{
					"schemaVersion": 2, "mediaType": mtOCIManifest,
					"config":      ociDescriptor{MediaType: mtOCIConfig, Digest: ecrDigest(config), Size: int64(len(config))},
					"layers":      []ociDescriptor{},
					"annotations": map[string]string{"n": fmt.Sprint(i)},
				})
				ref := ecrDigest(m)
				switch i % 4 {
				case 0:
					ref = fmt.Sprintf("prod-%d", i)
				case 1:
					ref = fmt.Sprintf("release-%d", i)
				case 2:
					ref = fmt.Sprintf("beta-%d", i)
				}
				req, _ := http.NewRequest(http.MethodPut, e.URL()+"/v2/"+repo+"/manifests/"+ref, bytes.NewReader(m))
				req.Header.Set("Content-Type", mtOCIManifest)
				resp, err := hc.Do(req)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						err = fmt.Errorf("PUT %s: %s", ref, resp.Status)
					}
				}
				if err != nil {
					failed.Store(err)
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	b.Logf("pushed %d manifests in %v", images, time.Since(start).Round(time.Millisecond))

	policy := `{"rules":[
{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPatternList":["prod-*"],"countType":"imageCountMoreThan","countNumber":50},"action":{"type":"expire"}},
{"rulePriority":2,"selection":{"tagStatus":"tagged","tagPrefixList":["release"],"countType":"sinceImagePushed","countUnit":"days","countNumber":90},"action":{"type":"expire"}},
{"rulePriority":3,"selection":{"tagStatus":"tagged","tagPatternList":["beta-*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":30},"action":{"type":"expire"}},
{"rulePriority":4,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}},
{"rulePriority":5,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":20000},"action":{"type":"expire"}}]}`
	// The SDK's default retryer, as users have it: it retries a read on a
	// connection the client's own transport closed under it, which
	// aws-sdk-go-v2 is known to do now and then (aws/aws-sdk-go-v2#2737).
	c := ecrClientRetrying(e)
	ctx := context.Background()
	var results int
	for b.Loop() {
		a := ecrdCall(b, e, "StartLifecyclePolicyPreview", map[string]any{
			"repositoryName": repo, "lifecyclePolicyText": policy, "evaluateAt": epoch(time.Now().Add(100 * 24 * time.Hour))}, nil)
		if a.Status != http.StatusOK {
			b.Fatalf("StartLifecyclePolicyPreview: %d %s", a.Status, a.Body)
		}
		// Poll as the CLI's waiter does, without its five-second delay.
		for {
			out, err := c.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo), MaxResults: aws.Int32(1)})
			if err != nil {
				b.Fatal(err)
			}
			if out.Status != "IN_PROGRESS" {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		results = 0
		p := ecr.NewGetLifecyclePolicyPreviewPaginator(c, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo), MaxResults: aws.Int32(100)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				b.Fatal(err)
			}
			results += len(out.PreviewResults)
		}
	}
	b.ReportMetric(float64(results), "actions")
}
