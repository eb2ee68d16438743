package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/ecrd/ecrd/internal/scanner/scannertest"
	"github.com/ecrd/ecrd/test/ecrdtest"
)

// TestAutomatedResponseToCriticalFindings is the seed's automated
// response, wired as a platform team would: an EventBridge rule matches
// "ECR Image Scan" events whose finding-severity-counts show CRITICAL
// above zero (a numeric pattern) and sends them, through an API
// destination with an API-key connection, to a small responder (run by
// the test), which quarantines the repository with a repository policy
// that denies pulls, as its own IAM user. The vulnerability data is an
// OSV export whose CVSS vector rates a package of one image critical.
// The image with a critical finding ends with pulls denied; the one with
// only lower findings stays pullable; the audit trail shows each step
// with its principal.
func TestAutomatedResponseToCriticalFindings(t *testing.T) {
	dir := t.TempDir()
	critical := scannertest.DebianFiles(scannertest.Package{Name: "openssl", Version: "3.0.11-1~deb12u1"})
	medium := scannertest.DebianFiles(scannertest.Package{Name: "libfoo", Version: "1.0"})
	writeTarball(t, filepath.Join(dir, "critical.tar"), critical)
	writeTarball(t, filepath.Join(dir, "medium.tar"), medium)
	data := dataWithAdvisories(t, dir,
		scannertest.Advisory{ID: "DSA-5621-1", Aliases: []string{"CVE-2023-5678"}, Ecosystem: "Debian:12", Package: "openssl", Fixed: "3.0.13-1~deb12u1", Vector: scannertest.VectorCritical},
		scannertest.Advisory{ID: "CVE-2026-0101", Ecosystem: "Debian:12", Package: "libfoo", Fixed: "2.0", Vector: scannertest.VectorMedium},
	)
	e := startECRD(t, data)
	ctx := context.Background()
	root := static(testAccessKey, testSecret)
	ec, iamc, _ := clientsFor(e, root)

	// The responder: its own user, allowed only to set repository policies.
	responder := newUser(t, iamc, "quarantine-bot", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:SetRepositoryPolicy","Resource":"*"}]}`)
	responderECR, _, _ := clientsFor(e, responder)
	const apiKey = "the-responders-key"
	var (
		mu          sync.Mutex
		quarantined []string
		handled     = make(chan string, 8)
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != apiKey {
			http.Error(w, "no key", http.StatusUnauthorized)
			return
		}
		var ev struct {
			DetailType string `json:"detail-type"`
			Detail     struct {
				Repository string         `json:"repository-name"`
				Counts     map[string]int `json:"finding-severity-counts"`
			} `json:"detail"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &ev); err != nil || ev.DetailType != "ECR Image Scan" {
			http.Error(w, "not an image scan", http.StatusBadRequest)
			return
		}
		policy := `{"Version":"2012-10-17","Statement":[{"Sid":"Quarantine","Effect":"Deny","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}`
		if _, err := responderECR.SetRepositoryPolicy(r.Context(), &ecr.SetRepositoryPolicyInput{
			RepositoryName: aws.String(ev.Detail.Repository), PolicyText: aws.String(policy)}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		mu.Lock()
		quarantined = append(quarantined, ev.Detail.Repository)
		mu.Unlock()
		handled <- ev.Detail.Repository
	}))
	defer receiver.Close()

	eb := eventsClient(e, root)
	conn, err := eb.CreateConnection(ctx, &eventbridge.CreateConnectionInput{Name: aws.String("responder"),
		AuthorizationType: ebtypes.ConnectionAuthorizationTypeApiKey,
		AuthParameters: &ebtypes.CreateConnectionAuthRequestParameters{ApiKeyAuthParameters: &ebtypes.CreateConnectionApiKeyAuthRequestParameters{
			ApiKeyName: aws.String("X-Api-Key"), ApiKeyValue: aws.String(apiKey)}}})
	ecrMust(t, "CreateConnection", err)
	dest, err := eb.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{Name: aws.String("responder"),
		ConnectionArn: conn.ConnectionArn, InvocationEndpoint: aws.String(receiver.URL + "/quarantine"), HttpMethod: ebtypes.ApiDestinationHttpMethodPost})
	ecrMust(t, "CreateApiDestination", err)
	pattern := `{"source":["aws.ecr"],"detail-type":["ECR Image Scan"],"detail":{"scan-status":["COMPLETE"],"finding-severity-counts":{"CRITICAL":[{"numeric":[">",0]}]}}}`
	_, err = eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("critical-findings"), EventPattern: aws.String(pattern)})
	ecrMust(t, "PutRule", err)
	put, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("critical-findings"),
		Targets: []ebtypes.Target{{Id: aws.String("quarantine"), Arn: dest.ApiDestinationArn}}})
	if err != nil || put.FailedEntryCount != 0 {
		t.Fatalf("PutTargets: %v %+v", err, put)
	}

	// Two repositories that scan on push; each gets one image.
	for _, repo := range []string{"prod/critical", "prod/medium"} {
		_, err := ec.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo),
			ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: true}})
		ecrMust(t, "CreateRepository "+repo, err)
	}
	auth := remote.WithAuth(&authn.Basic{Username: "AWS", Password: e.Password(t)})
	for _, img := range []string{"critical", "medium"} {
		ref, _ := name.NewTag(e.Addr+"/prod/"+img+":v1", name.Insecure)
		image, err := tarball.ImageFromPath(filepath.Join(dir, img+".tar"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, image, auth); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case repo := <-handled:
		if repo != "prod/critical" {
			t.Fatalf("the responder quarantined %s", repo)
		}
	case <-time.After(time.Minute):
		t.Fatal("no critical finding reached the responder within a minute")
	}
	// The medium image's scan completed too, and did not reach it.
	waitFor(t, "both scans complete", func() bool {
		out, err := ec.DescribeImageScanFindings(ctx, &ecr.DescribeImageScanFindingsInput{RepositoryName: aws.String("prod/medium"),
			ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("v1")}})
		return err == nil && out.ImageScanStatus != nil && out.ImageScanStatus.Status == ecrtypes.ScanStatusComplete
	})
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	if strings.Join(quarantined, ",") != "prod/critical" {
		t.Errorf("quarantined %v, want only prod/critical", quarantined)
	}
	mu.Unlock()

	// Pulls: denied where quarantined, as the policy says; fine elsewhere.
	_, err = ec.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("prod/critical"),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	var denied interface{ ErrorCode() string }
	if !errors.As(err, &denied) || denied.ErrorCode() != "AccessDeniedException" {
		t.Errorf("pulling the quarantined image: %v", err)
	}
	ref, _ := name.NewTag(e.Addr+"/prod/critical:v1", name.Insecure)
	if _, err := remote.Image(ref, auth); err == nil {
		t.Error("the quarantined image pulls over /v2")
	}
	ref, _ = name.NewTag(e.Addr+"/prod/medium:v1", name.Insecure)
	if _, err := remote.Image(ref, auth); err != nil {
		t.Errorf("the image with only a medium finding does not pull: %v", err)
	}

	// The audit trail shows each step with its principal. The lookups only
	// read: they use the SDK's default retryer, as users have it, which
	// retries a read on a connection the client's own transport closed
	// under it (aws/aws-sdk-go-v2#2737).
	ct := cloudtrail.New(cloudtrail.Options{Region: testRegion, BaseEndpoint: aws.String(e.URL()), Credentials: root})
	trail := func(eventName string) []string {
		out, err := ct.LookupEvents(ctx, cloudTrailByName(eventName))
		if err != nil {
			t.Fatal(err)
		}
		var who []string
		for _, ev := range out.Events {
			who = append(who, aws.ToString(ev.Username))
		}
		return who
	}
	// The trail is written beside the requests: wait for the last step.
	waitFor(t, "the responder's call in the trail", func() bool { return len(trail("SetRepositoryPolicy")) > 0 })
	if who := trail("SetRepositoryPolicy"); len(who) != 1 || who[0] != "quarantine-bot" {
		t.Errorf("SetRepositoryPolicy in the trail by %v, want quarantine-bot", who)
	}
	for _, step := range []string{"PutRule", "PutTargets", "CreateApiDestination", "PutImage"} {
		if who := trail(step); len(who) == 0 || who[0] != "root" {
			t.Errorf("%s in the trail by %v, want root", step, who)
		}
	}
	if who := trail("BatchGetImage"); len(who) == 0 {
		t.Error("the denied pull is not in the trail")
	}
	noServerErrors(t, e)
}

// cloudTrailByName looks up the trail's records of one operation.
func cloudTrailByName(name string) *cloudtrail.LookupEventsInput {
	return &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String(name)}}}
}

// dataWithAdvisories makes a data folder under dir whose vulnerability
// data (loaded with ecrd vulndb load) is an OSV export of advisories.
func dataWithAdvisories(t *testing.T, dir string, advisories ...scannertest.Advisory) string {
	t.Helper()
	export, err := scannertest.Export(advisories...)
	if err != nil {
		t.Fatal(err)
	}
	exportPath := filepath.Join(dir, "advisories.zip")
	if err := os.WriteFile(exportPath, export, 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if out, err := exec.Command(ecrdtest.Bin(), "vulndb", "load", "--data", data, exportPath).CombinedOutput(); err != nil {
		t.Fatalf("ecrd vulndb load: %v\n%s", err, out)
	}
	return data
}
