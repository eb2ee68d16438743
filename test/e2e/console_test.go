package e2e

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/ecrd/ecrd/internal/scanner/scannertest"
	"github.com/ecrd/ecrd/test/browsertest"
)

// consoleServer starts ecrd with vulnerability data rating an openssl
// version critical, and pushes an image with that openssl to prod/app
// (scan on push), waiting for its scan. It returns the server and the
// image's digest.
func consoleServer(t *testing.T) (*ecrd, string) {
	t.Helper()
	dir := t.TempDir()
	writeTarball(t, filepath.Join(dir, "app.tar"), scannertest.DebianFiles(scannertest.Package{Name: "openssl", Version: "3.0.11-1~deb12u1"}))
	data := dataWithAdvisories(t, dir, scannertest.Advisory{ID: "DSA-5621-1", Aliases: []string{"CVE-2023-5678"}, Ecosystem: "Debian:12",
		Package: "openssl", Fixed: "3.0.13-1~deb12u1", Vector: scannertest.VectorCritical})
	e := startECRD(t, data)
	ctx := context.Background()
	ec := ecrClient(e)
	_, err := ec.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("prod/app"),
		ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: true}})
	ecrMust(t, "CreateRepository", err)
	img, err := tarball.ImageFromPath(filepath.Join(dir, "app.tar"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.NewTag(e.Addr+"/prod/app:v1", name.Insecure)
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "AWS", Password: e.Password(t)})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the scan on push", func() bool {
		out, err := ec.DescribeImageScanFindings(ctx, &ecr.DescribeImageScanFindingsInput{RepositoryName: aws.String("prod/app"),
			ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("v1")}})
		return err == nil && out.ImageScanStatus != nil && out.ImageScanStatus.Status == ecrtypes.ScanStatusComplete
	})
	d, _ := img.Digest()
	return e, d.String()
}

// consoleURL runs `ecrd console-url` with AWS credentials in the
// environment and returns the URL it printed.
func consoleURL(t *testing.T, e *ecrd, key, secret string) string {
	t.Helper()
	r := runECRD(t, []string{"AWS_ENDPOINT_URL=" + e.URL(), "AWS_REGION=" + testRegion, "AWS_ACCESS_KEY_ID=" + key, "AWS_SECRET_ACCESS_KEY=" + secret}, "console-url")
	u := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(u, e.URL()+"/console/signin?token=") {
		t.Fatalf("ecrd console-url: %v", r)
	}
	return u
}

// TestConsoleInABrowser drives the web console in Chromium against the
// real binary: sign-in through `ecrd console-url` (the session cookie
// HttpOnly and SameSite=Strict; the URL refused a second time), the
// repositories, a repository and the image whose scan found a critical
// openssl advisory (its findings, filtered), a POST without the CSRF
// token refused and changing nothing, sign-out ending the session;
// sign-in with keys, wrong keys refused, and a user without rights
// seeing 403 pages with the core's explanation and no data. Pages run
// without script errors (a CSP violation would be one). Screenshots of
// the pages go to the test artifacts.
func TestConsoleInABrowser(t *testing.T) {
	e, digest := consoleServer(t)
	b := browsertest.Start(t)
	tab := b.NewTab(t)

	// Sign-in through a one-time URL, as the account's root.
	signIn := consoleURL(t, e, testAccessKey, testSecret)
	// Opening it asks first: a link alone never changes whose session a
	// browser holds.
	browsertest.Navigate(t, tab, signIn, "#confirm-signin")
	if got := browsertest.Text(t, tab, "#signin-principal"); got != "arn:aws:iam::"+testAccount+":root" {
		t.Fatalf("the sign-in URL offers to sign in as %q", got)
	}
	if n := browsertest.Count(t, tab, "#principal"); n != 0 {
		t.Fatal("opening the sign-in URL started a session before it was confirmed")
	}
	if st := browsertest.Submit(t, tab, "#confirm-signin"); st != http.StatusOK {
		t.Fatalf("confirming the sign-in URL led to HTTP %d", st)
	}
	browsertest.WaitVisible(t, tab, "#repositories")
	if got := browsertest.Text(t, tab, "#principal"); got != "arn:aws:iam::"+testAccount+":root" {
		t.Fatalf("signed in as %q", got)
	}
	c := browsertest.Cookie(t, tab, "ecrd_console")
	if c == nil || !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Path != "/console/" {
		t.Fatalf("the session cookie: %+v", c)
	}
	row := browsertest.Text(t, tab, "#repositories tbody")
	if !strings.Contains(row, "prod/app") || !strings.Contains(row, "AES256") {
		t.Fatalf("the repositories table: %q", row)
	}
	browsertest.Screenshot(t, tab, "repositories")
	// The URL works once.
	other := b.NewIncognito(t)
	if st := browsertest.Navigate(t, other, signIn, ".signin"); st != http.StatusForbidden {
		t.Errorf("a used sign-in URL: HTTP %d, want 403", st)
	}
	if msg := browsertest.Text(t, other, "#signin-problem"); !strings.Contains(msg, "used already") {
		t.Errorf("a used sign-in URL says %q", msg)
	}

	// The repository, and the image's findings.
	browsertest.Navigate(t, tab, e.URL()+"/console/repositories?q=prod", "#repositories")
	browsertest.ClickAndWait(t, tab, `#repositories a[href*="prod%2Fapp"]`)
	images := browsertest.Text(t, tab, "#images tbody")
	if !strings.Contains(images, "v1") || !strings.Contains(images, "CRITICAL 1") || !strings.Contains(images, "COMPLETE") {
		t.Fatalf("the images table: %q", images)
	}
	browsertest.Screenshot(t, tab, "repository")
	browsertest.ClickAndWait(t, tab, "#images a.digest")
	if got := browsertest.Text(t, tab, "h1.digest-title"); got != digest {
		t.Fatalf("the image page is of %q, want %s", got, digest)
	}
	findings := browsertest.Text(t, tab, "#findings tbody")
	if !strings.Contains(findings, "CVE-2023-5678") || !strings.Contains(findings, "openssl") || !strings.Contains(findings, "3.0.13-1~deb12u1") {
		t.Fatalf("the findings: %q", findings)
	}
	if inv := browsertest.Run(t, tab, chromedp.Evaluate[string](`document.querySelector("#inventory tbody").textContent`)); !strings.Contains(inv, "openssl") || !strings.Contains(inv, "Debian:12") {
		t.Errorf("the packages the scan found: %q", inv)
	}
	if n := browsertest.Count(t, tab, `#findings a[href^="http"]`); n != 1 {
		t.Errorf("%d advisory links, want 1", n)
	}
	browsertest.Select(t, tab, "#severity", "LOW")
	browsertest.Submit(t, tab, "#severity")
	if got := browsertest.Text(t, tab, "#findings tbody"); !strings.Contains(got, "No findings match the filter") {
		t.Errorf("findings filtered to LOW: %q", got)
	}
	browsertest.Select(t, tab, "#severity", "CRITICAL")
	browsertest.Submit(t, tab, "#severity")
	if got := browsertest.Text(t, tab, "#findings tbody"); !strings.Contains(got, "CVE-2023-5678") {
		t.Errorf("findings filtered to CRITICAL: %q", got)
	}
	browsertest.Screenshot(t, tab, "image")

	// A change without the CSRF token is refused and changes nothing.
	st, body := browsertest.PostForm(t, tab, e.URL()+"/console/repository/delete-image", url.Values{"name": {"prod/app"}, "digest": {digest}})
	if st != http.StatusForbidden || !strings.Contains(body, "CSRF") {
		t.Errorf("a POST without the CSRF token: %d %s", st, body)
	}
	if _, err := ecrClient(e).DescribeImages(context.Background(), &ecr.DescribeImagesInput{RepositoryName: aws.String("prod/app"),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(digest)}}}); err != nil {
		t.Errorf("the image after a refused delete: %v", err)
	}

	// Retag in the page: the API sees the new tag.
	browsertest.Navigate(t, tab, e.URL()+"/console/repository?name=prod%2Fapp", "#images")
	browsertest.Fill(t, tab, `#images input[name="tag"]`, "release")
	browsertest.Submit(t, tab, `#images input[name="tag"]`)
	if got := browsertest.Text(t, tab, "#notice"); !strings.Contains(got, "as release") {
		t.Errorf("after tagging: %q", got)
	}
	tagged, err := ecrClient(e).DescribeImages(context.Background(), &ecr.DescribeImagesInput{RepositoryName: aws.String("prod/app"),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("release")}}})
	if err != nil || aws.ToString(tagged.ImageDetails[0].ImageDigest) != digest {
		t.Errorf("the tag the page added: %v", err)
	}

	// Access: a repository policy edited in the page denies a user's
	// pulls, and the page explains the decision with that statement; a
	// policy the API refuses is refused with the API's message.
	pullerCreds := newUser(t, rootIAM(e), "puller", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:GetAuthorizationToken","ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],"Resource":"*"}]}`)
	puller := ecrClientWith(e, mustRetrieve(t, pullerCreds).AccessKeyID, mustRetrieve(t, pullerCreds).SecretAccessKey)
	pull := func() error {
		_, err := puller.BatchGetImage(context.Background(), &ecr.BatchGetImageInput{RepositoryName: aws.String("prod/app"),
			ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}}})
		return err
	}
	if err := pull(); err != nil {
		t.Fatalf("the puller's pull before the policy: %v", err)
	}
	pullerARN := "arn:aws:iam::" + testAccount + ":user/puller"
	browsertest.Navigate(t, tab, e.URL()+"/console/repository?name=prod%2Fapp", "#access-link")
	browsertest.ClickAndWait(t, tab, "#access-link")
	bad := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ecr:BatchGetImage"}]}`
	browsertest.Fill(t, tab, "#repository-policy", bad)
	if st := browsertest.Submit(t, tab, "#save-repository-policy"); st != http.StatusBadRequest {
		t.Errorf("saving a policy without a principal: HTTP %d, want 400", st)
	}
	_, apiErr := ecrClient(e).SetRepositoryPolicy(context.Background(), &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("prod/app"), PolicyText: aws.String(bad)})
	var ae interface{ ErrorMessage() string }
	if !errors.As(apiErr, &ae) || browsertest.Text(t, tab, "#policy-problem") != ae.ErrorMessage() {
		t.Errorf("the page refused the policy with %q; the API with %v", browsertest.Text(t, tab, "#policy-problem"), apiErr)
	}
	deny := `{"Version":"2012-10-17","Statement":[{"Sid":"DenyPuller","Effect":"Deny","Principal":{"AWS":"` + pullerARN + `"},"Action":"ecr:BatchGetImage"}]}`
	browsertest.Fill(t, tab, "#repository-policy", deny)
	browsertest.Submit(t, tab, "#save-repository-policy")
	if got := browsertest.Text(t, tab, "#notice"); got != "Saved the repository policy." {
		t.Fatalf("after saving the policy: %q", got)
	}
	var denied interface{ ErrorCode() string }
	if err := pull(); !errors.As(err, &denied) || denied.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("the puller's pull after the policy: %v", err)
	}
	browsertest.Fill(t, tab, "#q-principal", pullerARN)
	browsertest.Fill(t, tab, "#q-action", "ecr:BatchGetImage")
	browsertest.Submit(t, tab, "#ask-button")
	if got := browsertest.Text(t, tab, "#answer-decision"); got != "Denied" {
		t.Errorf("the answer: %q", got)
	}
	if got := browsertest.Text(t, tab, "#answer-statement"); !strings.Contains(got, "DenyPuller") {
		t.Errorf("the deciding statement: %q", got)
	}
	if got := browsertest.Text(t, tab, "#answer-message"); !strings.Contains(pull().Error(), got) {
		t.Errorf("the page explains %q; the pull was denied with %v", got, pull())
	}
	browsertest.Screenshot(t, tab, "access")

	// Lifecycle: a preview 30 days ahead in the page lists what the API's
	// preview lists for the same policy and time; 5 days ahead, nothing.
	policy := `{"rules":[{"rulePriority":1,"description":"older than 10 days","selection":{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":10},"action":{"type":"expire"}}]}`
	previewIn := func(days int) (page, api []string) {
		t.Helper()
		at := time.Now().UTC().AddDate(0, 0, days).Truncate(24 * time.Hour)
		browsertest.Navigate(t, tab, e.URL()+"/console/lifecycle?name=prod%2Fapp", "#policy-text")
		browsertest.Fill(t, tab, "#policy-text", policy)
		browsertest.Do(t, tab, chromedp.SetValue("#preview-at", at.Format(time.DateOnly)))
		browsertest.Submit(t, tab, "#preview")
		browsertest.WaitVisible(t, tab, "#preview-results")
		page = browsertest.Run(t, tab, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#preview-results tr[data-digest]")).map(r => r.dataset.digest + " " + r.dataset.action)`))
		a := ecrdCall(t, e, "StartLifecyclePolicyPreview", map[string]any{"repositoryName": "prod/app", "lifecyclePolicyText": policy, "evaluateAt": epoch(at)}, nil)
		if a.Status != http.StatusOK {
			t.Fatalf("ecrd StartLifecyclePolicyPreview: %d %s", a.Status, a.Body)
		}
		var out *ecr.GetLifecyclePolicyPreviewOutput
		waitFor(t, "the API's preview", func() bool {
			var err error
			out, err = ecrClient(e).GetLifecyclePolicyPreview(context.Background(), &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String("prod/app")})
			return err == nil && out.Status == ecrtypes.LifecyclePolicyPreviewStatusComplete
		})
		for _, r := range out.PreviewResults {
			api = append(api, aws.ToString(r.ImageDigest)+" "+string(r.Action.Type))
		}
		return page, api
	}
	page, api := previewIn(30)
	if len(page) != 1 || strings.Join(page, ",") != strings.Join(api, ",") || page[0] != digest+" EXPIRE" {
		t.Errorf("a preview 30 days ahead: the page lists %v, the API %v", page, api)
	}
	browsertest.Screenshot(t, tab, "lifecycle")
	if page, api := previewIn(5); len(page) != 0 || len(api) != 0 {
		t.Errorf("a preview 5 days ahead: the page lists %v, the API %v", page, api)
	}

	// The audit trail: who pushed the image, and the puller's denied pull
	// among the errors.
	waitFor(t, "the audit trail to record the denied pull", func() bool {
		browsertest.Navigate(t, tab, e.URL()+"/console/audit?repository=prod%2Fapp&errors=1", "#audit-records")
		return strings.Contains(browsertest.Text(t, tab, "#audit-records tbody"), "user/puller")
	})
	if got := browsertest.Text(t, tab, "#audit-records tbody"); !strings.Contains(got, "BatchGetImage") || !strings.Contains(got, "AccessDenied") {
		t.Errorf("the audit trail's errors: %q", got)
	}
	browsertest.Screenshot(t, tab, "audit")
	browsertest.Navigate(t, tab, e.URL()+"/console/audit?repository=prod%2Fapp&action=PutImage", "#audit-records")
	if got := browsertest.Text(t, tab, "#audit-records tbody"); !strings.Contains(got, ":root") {
		t.Errorf("who pushed prod/app: %q", got)
	}

	// At a phone's width the pages fit: wide tables scroll in their own box.
	browsertest.Do(t, tab, chromedp.EmulateViewport(390, 844))
	for _, page := range []string{"/console/repositories", "/console/repository?name=prod%2Fapp", "/console/image?name=prod%2Fapp&digest=" + digest, "/console/lifecycle?name=prod%2Fapp", "/console/access?name=prod%2Fapp"} {
		browsertest.Navigate(t, tab, e.URL()+page, "main")
		if w := browsertest.Run(t, tab, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 390 {
			t.Errorf("%s is %d px wide at a phone's 390", page, w)
		}
	}
	browsertest.Navigate(t, tab, e.URL()+"/console/repository?name=prod%2Fapp", "#images")
	browsertest.Screenshot(t, tab, "phone")
	browsertest.Do(t, tab, chromedp.EmulateReset())

	// Archive in the page: the image moves to the archive storage class.
	browsertest.Navigate(t, tab, e.URL()+"/console/repository?name=prod%2Fapp", "#images")
	browsertest.Submit(t, tab, `#images form[action$="storage-class"] button`)
	if got := browsertest.Text(t, tab, "#notice"); !strings.Contains(got, "ARCHIVED") {
		t.Errorf("after archiving: %q", got)
	}
	browsertest.Navigate(t, tab, e.URL()+"/console/repository?name=prod%2Fapp&status=ARCHIVED", "#images")
	if got := browsertest.Text(t, tab, "#images tbody"); !strings.Contains(got, "ARCHIVE") || !strings.Contains(got, "Restore") {
		t.Errorf("the archived images: %q", got)
	}
	// Another region of the same account: its own (empty) registry.
	browsertest.Navigate(t, tab, e.URL()+"/console/repositories?region=eu-west-1", "#repositories")
	if got := browsertest.Text(t, tab, "#repositories tbody"); strings.Contains(got, "prod/app") || !strings.Contains(got, "No repositories") {
		t.Errorf("eu-west-1's repositories: %q", got)
	}

	// Sign-out ends the session.
	browsertest.Submit(t, tab, "#signout")
	if u := browsertest.URL(t, tab); !strings.HasSuffix(u, "/console/signin") {
		t.Fatalf("after sign-out: %s", u)
	}
	browsertest.Navigate(t, tab, e.URL()+"/console/repository?name=prod%2Fapp", ".signin")
	if n := browsertest.Count(t, tab, "#images"); n != 0 {
		t.Error("a page showed a repository after sign-out")
	}

	// Keys: wrong ones refused; a user without rights sees 403 pages.
	creds := mustRetrieve(t, newUser(t, rootIAM(e), "nobody", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}]}`))
	u := b.NewIncognito(t)
	browsertest.Navigate(t, u, e.URL()+"/console/", "#signin")
	browsertest.Fill(t, u, "#access_key_id", creds.AccessKeyID)
	browsertest.Fill(t, u, "#secret_access_key", creds.SecretAccessKey+"x")
	if st := browsertest.Submit(t, u, "#signin"); st != http.StatusUnauthorized {
		t.Errorf("a wrong secret: HTTP %d, want 401", st)
	}
	browsertest.Fill(t, u, "#secret_access_key", creds.SecretAccessKey)
	if st := browsertest.Submit(t, u, "#signin"); st != http.StatusForbidden {
		t.Errorf("the repositories page of a user without rights: HTTP %d, want 403", st)
	}
	if msg := browsertest.Text(t, u, "#error-message"); !strings.Contains(msg, "user/nobody is not authorized to perform: ecr:DescribeRepositories") {
		t.Errorf("the denial says %q", msg)
	}
	browsertest.Screenshot(t, u, "access-denied")
	for _, page := range []string{"/console/repository?name=prod%2Fapp", "/console/image?name=prod%2Fapp&digest=" + digest} {
		if st := browsertest.Navigate(t, u, e.URL()+page, "#error-message"); st != http.StatusForbidden {
			t.Errorf("%s for a user without rights: HTTP %d", page, st)
		}
		if n := browsertest.Count(t, u, "#images, #findings, #layers"); n != 0 {
			t.Errorf("%s showed data to a user without rights", page)
		}
	}
	b.CheckJSErrors(t)
	noServerErrors(t, e)
}

func mustRetrieve(t *testing.T, p aws.CredentialsProvider) aws.Credentials {
	t.Helper()
	c, err := p.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rootIAM is the IAM client of the account's root.
func rootIAM(e *ecrd) *iam.Client {
	_, c, _ := clientsFor(e, static(testAccessKey, testSecret))
	return c
}
