package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"
	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/audit"
	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/eventpattern"
	"github.com/ecrd/ecrd/internal/events"
	"github.com/ecrd/ecrd/internal/events/delivery"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/metadatatest"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/registrytest"
	"github.com/ecrd/ecrd/internal/reqinfo"
	"github.com/ecrd/ecrd/internal/server"
	"github.com/ecrd/ecrd/internal/sigv4"
	"github.com/ecrd/ecrd/internal/testutil"
)

// The tests of the registry pages run the real server (internal/server)
// over a registry, identity and EventBridge core on SQLite in a
// temporary folder, the console mounted on it as ecrd mounts it, and
// browse it with a cookie jar as a browser would; the AWS APIs beside it
// are called with aws-sdk-go-v2.

const pagesRegion = "us-east-1"

var pagesScope = registrytest.Scope

// pagesEnv is a running server with the console.
type pagesEnv struct {
	srv      *httptest.Server
	reg      *registry.Registry
	ids      *identity.Service
	trail    *audit.Trail
	events   *events.Service
	meta     metadata.Store
	root     identity.AccessKey
	upstream string // a host answering /v2/, an upstream of pull-through cache rules
}

func rootContext() context.Context {
	return identity.NewContext(context.Background(), identity.Root(pagesScope.Account))
}

func newPagesEnv(t *testing.T) *pagesEnv {
	t.Helper()
	ctx := context.Background()
	stores := registrytest.Open(t)
	log := testutil.Logger()
	ids := identity.New(stores.Meta, testutil.Keyring(t), log)
	if _, err := ids.CreateAccount(ctx, pagesScope.Account); err != nil {
		t.Fatal(err)
	}
	root, err := ids.CreateAccessKey(ctx, pagesScope.Account)
	if err != nil {
		t.Fatal(err)
	}
	leases := lease.New(stores.Meta, "test", time.Now, log)
	eventsSvc := events.New(stores.Meta, testutil.Keyring(t), ids, log)
	deliver := delivery.New(delivery.Config{Store: stores.Meta, Source: eventsSvc, Leases: leases, Poll: 50 * time.Millisecond,
		Compile: func(p string) (delivery.Matcher, error) {
			m, err := eventpattern.Compile(p)
			if err != nil {
				return nil, err
			}
			return m, nil
		}, Decode: eventpattern.Decode, Log: log})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		w.Write([]byte("{}"))
	}))
	t.Cleanup(up.Close)
	upHost := strings.TrimPrefix(up.URL, "http://")
	reg := registry.New(stores.Meta, stores.Blobs, registry.Options{Identity: ids, Logger: metadatatest.Logger(t, log),
		DeadLetters: deliver, InsecureUpstreams: []string{upHost, "127.0.0.1:1"}})
	registrytest.CreateOnPush(t, reg)
	trail := audit.New(audit.Options{Store: stores.Meta, Identity: ids, Leases: leases, Log: log, Poll: 20 * time.Millisecond})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() { trail.Run(runCtx); done <- struct{}{} }()
	go func() { deliver.Run(runCtx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })

	c := New(Options{Registry: reg, Identity: ids, Trail: trail, Events: eventsSvc, DefaultRegion: pagesRegion, Log: log})
	authn := &auth.Authenticator{IDs: ids, Verifier: &sigv4.Verifier{}, DefaultScope: pagesScope}
	srv := httptest.NewUnstartedServer(nil)
	endpoint := func(metadata.Scope) string { return "http://" + srv.Listener.Addr().String() }
	s := server.New(server.Options{Registry: reg, Identity: ids, Auth: authn, Events: eventsSvc, Endpoint: endpoint, Log: log,
		Observers: []reqinfo.Observer{trail}, Trail: trail, Console: c})
	srv.Config.Handler = s.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return &pagesEnv{srv: srv, reg: reg, ids: ids, trail: trail, events: eventsSvc, meta: stores.Meta, root: root, upstream: upHost}
}

// answer is what a request got: status, body, and where a redirect goes.
type answer struct {
	status   int
	body     string
	location string
}

// pagesBrowser is a signed-in browser: a cookie jar that does not follow
// redirects, and the session's CSRF token as its pages carry it.
type pagesBrowser struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs in on the sign-in page with an access key.
func (e *pagesEnv) signIn(t *testing.T, keyID, secret string) *pagesBrowser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &pagesBrowser{t: t, base: e.srv.URL, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	a := b.send("POST", "/console/signin", url.Values{"access_key_id": {keyID}, "secret_access_key": {secret}, "region": {pagesRegion}})
	if a.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %s", a.status, a.body)
	}
	// Every page carries the token, the error pages' sign-out form too.
	m := csrfRE.FindStringSubmatch(b.get("/console/pull-through-cache").body)
	if m == nil {
		t.Fatal("no CSRF token on the page")
	}
	b.csrf = m[1]
	return b
}

func (b *pagesBrowser) send(method, path string, form url.Values) answer {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return answer{status: resp.StatusCode, body: string(out), location: resp.Header.Get("Location")}
}

func (b *pagesBrowser) get(path string) answer { b.t.Helper(); return b.send("GET", path, nil) }

// post posts a form with the session's CSRF token, as the pages' forms do.
func (b *pagesBrowser) post(path string, form url.Values) answer {
	b.t.Helper()
	f := url.Values{"csrf": {b.csrf}}
	for k, v := range form {
		f[k] = v
	}
	return b.send("POST", path, f)
}

// follow gets where a change redirected to.
func (b *pagesBrowser) follow(a answer) answer {
	b.t.Helper()
	if a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, "/console/") {
		b.t.Fatalf("the change answered %d (location %q), not a redirect back: %s", a.status, a.location, a.body)
	}
	return b.get(a.location)
}

// wantPage checks a page's status and that it holds each text.
func wantPage(t *testing.T, name string, a answer, status int, texts ...string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: status %d, want %d: %s", name, a.status, status, a.body)
	}
	if strings.HasPrefix(a.body, "<!doctype html>") {
		accessible(t, name, a.body)
	}
	for _, s := range texts {
		if !strings.Contains(a.body, s) {
			t.Errorf("%s: the page lacks %q", name, s)
		}
	}
}

// wantNot checks that a page holds none of the texts.
func wantNot(t *testing.T, name string, a answer, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(a.body, s) {
			t.Errorf("%s: the page shows %q", name, s)
		}
	}
}

// denied checks a 403 page that shows the core's explanation and no
// data.
func denied(t *testing.T, name string, a answer, action string, secrets ...string) {
	t.Helper()
	wantPage(t, name, a, http.StatusForbidden, `id="error-title">Access denied`, action)
	wantNot(t, name, a, secrets...)
}

func (e *pagesEnv) ecrClient(keyID, secret string) *ecr.Client {
	return ecr.New(ecr.Options{Region: pagesRegion, BaseEndpoint: aws.String(e.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(keyID, secret, "")})
}

func (e *pagesEnv) eventsClient() *eventbridge.Client {
	return eventbridge.New(eventbridge.Options{Region: pagesRegion, BaseEndpoint: aws.String(e.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(e.root.ID, e.root.Secret, "")})
}

// ecrdCall calls one of ecrd's own ECR operations, signed with the root
// key, and decodes its answer.
func (e *pagesEnv) ecrdCall(t *testing.T, op string, in, out any) {
	t.Helper()
	body, _ := json.Marshal(in)
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Ecrd_V20261126."+op)
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: e.root.ID, SecretAccessKey: e.root.Secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "ecr", pagesRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", op, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}

// push pushes an image tagged tag into repo through the core, pushed age
// ago, and returns its digest.
func (e *pagesEnv) push(t *testing.T, repo, tag string, age time.Duration) string {
	t.Helper()
	ctx := rootContext()
	key := metadata.RepoKey{Scope: pagesScope, Name: repo}
	config, layer := []byte(`{"image":"`+repo+":"+tag+`"}`), []byte("layer of "+repo+":"+tag)
	for _, b := range [][]byte{config, layer} {
		if _, err := e.reg.PutBlob(ctx, key, digest.FromBytes(b).String(), bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
	}
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
		digest.FromBytes(config), len(config), digest.FromBytes(layer), len(layer))
	img, err := e.reg.PutManifest(ctx, key, tag, nil, "application/vnd.oci.image.manifest.v1+json", []byte(m))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.SetImageTimes(ctx, key, registry.ImageID{Digest: img.Digest.String()}, registry.ImageTimes{PushedAt: time.Now().Add(-age)}); err != nil {
		t.Fatal(err)
	}
	return img.Digest.String()
}

// user makes an IAM user with an inline policy (none if policy is
// empty) and returns its access key.
func (e *pagesEnv) user(t *testing.T, name, policy string) identity.AccessKey {
	t.Helper()
	ctx := rootContext()
	if _, err := e.ids.CreateUser(ctx, identity.UserInput{Name: name}); err != nil {
		t.Fatal(err)
	}
	if policy != "" {
		if err := e.ids.PutInlinePolicy(ctx, identity.Grantee{Kind: metadata.IAMUser, Name: name}, "console", policy); err != nil {
			t.Fatal(err)
		}
	}
	k, _, err := e.ids.CreateUserAccessKey(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var textareaRE = regexp.MustCompile(`(?s)<textarea id="policy-text"[^>]*>(.*?)</textarea>`)

// policyText is the lifecycle page's editor text.
func policyText(t *testing.T, a answer) string {
	t.Helper()
	m := textareaRE.FindStringSubmatch(a.body)
	if m == nil {
		t.Fatalf("no policy editor on the page: %s", a.body)
	}
	return html.UnescapeString(m[1])
}

// previewResult is a result of a preview as the page or the API lists it.
type previewResult struct {
	Digest, Action string
	Rule           int
}

var previewRowRE = regexp.MustCompile(`<tr data-digest="([^"]+)" data-action="([^"]+)" data-rule="([0-9]+)">`)
var previewNextRE = regexp.MustCompile(`id="preview-next" href="([^"]+)"`)

// previewPages reads every page of the preview's results from a
// lifecycle page, following its next-page links.
func previewPages(t *testing.T, b *pagesBrowser, a answer) ([]previewResult, int) {
	t.Helper()
	var out []previewResult
	pages := 0
	for {
		wantPage(t, "preview page", a, http.StatusOK, `id="preview-results"`, "Status <strong>COMPLETE</strong>")
		pages++
		for _, m := range previewRowRE.FindAllStringSubmatch(a.body, -1) {
			var n int
			fmt.Sscan(m[3], &n)
			out = append(out, previewResult{Digest: m[1], Action: m[2], Rule: n})
		}
		next := previewNextRE.FindStringSubmatch(a.body)
		if next == nil {
			return out, pages
		}
		a = b.get(html.UnescapeString(next[1]))
	}
}

func sortResults(r []previewResult) []previewResult {
	slices.SortFunc(r, func(a, b previewResult) int { return strings.Compare(a.Digest, b.Digest) })
	return r
}

// rulesForm is the lifecycle form with two rules and the page's empty
// one: keep the five newest images tagged keep*, expire the others ten
// days after their push.
func rulesForm() url.Values {
	rules := []formRule{
		{Priority: "1", Description: "keep releases", TagStatus: "tagged", ListType: "prefix", Tags: "keep", StorageClass: "standard",
			CountType: "imageCountMoreThan", CountNumber: "5", Action: "expire"},
		{Priority: "2", Description: "expire the rest", TagStatus: "any", ListType: "prefix", StorageClass: "standard",
			CountType: "sinceImagePushed", CountUnit: "days", CountNumber: "10", Action: "expire"},
		blankRule(2),
	}
	return formValues(rules)
}

func withValues(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

// The lifecycle page: the form becomes the policy the API then reads, a
// preview at a future date lists what the API's preview lists for the
// same policy and date, page by page, validation errors read as the
// API's, and changes need the CSRF token.
func TestLifecyclePage(t *testing.T) {
	e := newPagesEnv(t)
	ctx := context.Background()
	keep := e.push(t, "app", "keep-1", 40*24*time.Hour)
	old := e.push(t, "app", "v1", 15*24*time.Hour)
	recent := e.push(t, "app", "v2", 5*24*time.Hour)
	for i := range 52 {
		e.push(t, "app", fmt.Sprintf("f%02d", i), 20*24*time.Hour)
	}
	b := e.signIn(t, e.root.ID, e.root.Secret)
	api := e.ecrClient(e.root.ID, e.root.Secret)

	a := b.get("/console/lifecycle?name=app")
	wantPage(t, "lifecycle page", a, http.StatusOK, "The repository has no lifecycle policy.", `id="rule-0-priority"`, `id="no-preview"`)
	if got := policyText(t, a); got != "" {
		t.Errorf("the editor holds %q without a policy", got)
	}
	wantPage(t, "repository page", b.get("/console/repository?name=app"), http.StatusOK, `href="/console/lifecycle?name=app" id="lifecycle-link"`)

	// Changes need the session's token.
	form := withValues(rulesForm(), "name", "app", "op", "rules-apply")
	if a := b.send("POST", "/console/lifecycle", form); a.status != http.StatusForbidden || !strings.Contains(a.body, "CSRF") {
		t.Errorf("a change without the CSRF token: %d %s", a.status, a.body)
	}
	if a := b.send("POST", "/console/lifecycle", withValues(form, "csrf", b.csrf+"x")); a.status != http.StatusForbidden {
		t.Errorf("a change with a wrong CSRF token: %d", a.status)
	}
	if _, err := api.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String("app")}); err == nil {
		t.Fatal("a refused change set the policy")
	}

	// Apply the form: the API reads what the page shows.
	a = b.follow(b.post("/console/lifecycle", form))
	wantPage(t, "after apply", a, http.StatusOK, "Applied the lifecycle policy.", "The repository has a lifecycle policy.",
		`id="rule-0-tags" name="rules.0.tags" value="keep"`, `<option value="sinceImagePushed" selected>`, `id="rule-2-priority"`)
	want, err := policyFromForm(rulesForm())
	if err != nil {
		t.Fatal(err)
	}
	got, err := api.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String("app")})
	if err != nil || aws.ToString(got.LifecyclePolicyText) != want || policyText(t, a) != want {
		t.Fatalf("the API reads %q (%v), the page shows %q, the form made %q", aws.ToString(got.LifecyclePolicyText), err, policyText(t, a), want)
	}

	// Preview the policy on a date 30 days ahead, then the API's preview
	// of the same text and date.
	at := time.Now().UTC().AddDate(0, 0, 30).Format(time.DateOnly)
	a = b.follow(b.post("/console/lifecycle", url.Values{"name": {"app"}, "op": {"preview"}, "text": {want}, "at": {at}}))
	wantPage(t, "preview", a, http.StatusOK, "Preview complete.", `id="preview-summary">54 to expire, 0 to archive.`, at+" 00:00 UTC")
	console, pages := previewPages(t, b, a)
	if pages != 2 || len(console) != 54 {
		t.Fatalf("the console listed %d results on %d pages, want 54 on 2", len(console), pages)
	}
	evaluateAt, _ := time.Parse(time.DateOnly, at)
	var started struct{ Status string }
	e.ecrdCall(t, "StartLifecyclePolicyPreview", map[string]any{"repositoryName": "app", "lifecyclePolicyText": want,
		"evaluateAt": float64(evaluateAt.Unix())}, &started)
	var fromAPI []previewResult
	p := ecr.NewGetLifecyclePolicyPreviewPaginator(api, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String("app")})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if out.Status != "COMPLETE" {
			t.Fatalf("the API's preview is %s", out.Status)
		}
		for _, r := range out.PreviewResults {
			fromAPI = append(fromAPI, previewResult{Digest: aws.ToString(r.ImageDigest), Action: string(r.Action.Type), Rule: int(aws.ToInt32(r.AppliedRulePriority))})
		}
	}
	if !slices.Equal(sortResults(console), sortResults(fromAPI)) {
		t.Fatalf("the console's preview differs from the API's:\n%v\n%v", console, fromAPI)
	}
	byDigest := map[string]previewResult{}
	for _, r := range console {
		byDigest[r.Digest] = r
	}
	if _, ok := byDigest[keep]; ok || byDigest[old].Rule != 2 || byDigest[recent].Action != "EXPIRE" {
		t.Errorf("preview in 30 days: keep-1 %v, v1 %v, v2 %v", byDigest[keep], byDigest[old], byDigest[recent])
	}
	// Now, v2 is too young: a preview without a date leaves it.
	a = b.follow(b.post("/console/lifecycle", withValues(rulesForm(), "name", "app", "op", "rules-preview", "text", "ignored")))
	now, _ := previewPages(t, b, a)
	if len(now) != 53 || slices.ContainsFunc(now, func(r previewResult) bool { return r.Digest == recent || r.Digest == keep }) {
		t.Errorf("preview now: %d results, with v2 or keep-1: %v", len(now), now)
	}

	// A policy the core refuses reads as the API's refusal, in place.
	bad := strings.Replace(want, `"tagPrefixList": [
          "keep"
        ],
`, "", 1)
	if bad == want {
		t.Fatal("the test's policy has no tag list to remove")
	}
	_, apiErr := api.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("app"), LifecyclePolicyText: aws.String(bad)})
	a = b.post("/console/lifecycle", url.Values{"name": {"app"}, "op": {"apply"}, "text": {bad}})
	wantPage(t, "invalid policy", a, http.StatusBadRequest, html.EscapeString(apiMessageOf(t, apiErr)),
		"tagPrefixList or tagPatternList is required when tagStatus is tagged", "The repository has a lifecycle policy.")
	if policyText(t, a) != bad {
		t.Errorf("the refused text is not kept in the editor")
	}
	short := `{"rules":[]}`
	_, apiErr = api.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("app"), LifecyclePolicyText: aws.String(short)})
	wantPage(t, "short policy", b.post("/console/lifecycle", url.Values{"name": {"app"}, "op": {"preview"}, "text": {short}}),
		http.StatusBadRequest, html.EscapeString(apiMessageOf(t, apiErr)))
	yesterday := time.Now().UTC().AddDate(0, 0, -1)
	wantPage(t, "preview in the past", b.post("/console/lifecycle", url.Values{"name": {"app"}, "op": {"preview"}, "text": {want}, "at": {yesterday.Format(time.DateOnly)}}),
		http.StatusBadRequest, "is in the past")
	wantPage(t, "not a date", b.post("/console/lifecycle", url.Values{"name": {"app"}, "op": {"preview"}, "text": {want}, "at": {"next week"}}),
		http.StatusBadRequest, "is not a date")
	a = b.post("/console/lifecycle", withValues(rulesForm(), "name", "app", "op", "rules-apply", "rules.1.countNumber", "ten"))
	wantPage(t, "a count that is not a number", a, http.StatusBadRequest, "rule 2: the count number &#34;ten&#34; is not a whole number",
		`name="rules.1.countNumber" value="ten"`)
	// Show as JSON changes nothing.
	a = b.post("/console/lifecycle", withValues(rulesForm(), "name", "app", "op", "rules-json", "rules.1.countNumber", "30"))
	wantPage(t, "show as JSON", a, http.StatusOK, `&#34;countNumber&#34;: 30`)
	if got, _ := api.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String("app")}); aws.ToString(got.LifecyclePolicyText) != want {
		t.Errorf("a refused or shown policy changed the repository's: %s", aws.ToString(got.LifecyclePolicyText))
	}

	// Delete the policy.
	a = b.follow(b.post("/console/lifecycle/delete", url.Values{"name": {"app"}}))
	wantPage(t, "after delete", a, http.StatusOK, "Deleted the lifecycle policy.", "The repository has no lifecycle policy.")
	if _, err := api.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String("app")}); err == nil {
		t.Error("the API still reads a policy")
	}
	wantPage(t, "no repository", b.get("/console/lifecycle?name=nothing"), http.StatusNotFound)
}

// apiMessageOf is the message of an error the API answered.
func apiMessageOf(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("the API answered %v, not an error of its own", err)
	}
	return ae.ErrorMessage()
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// registryFixture sets up what the registry pages show: a replication
// configuration and a backfill, two pull-through cache rules, 52
// creation templates, two EventBridge rules (one whose target refuses
// every event, to make a dead letter), and audit records of a failed
// call and a change.
func registryFixture(t *testing.T, e *pagesEnv) {
	t.Helper()
	ctx := context.Background()
	api := e.ecrClient(e.root.ID, e.root.Secret)
	_, err := api.PutReplicationConfiguration(ctx, &ecr.PutReplicationConfigurationInput{ReplicationConfiguration: &ecrtypes.ReplicationConfiguration{
		Rules: []ecrtypes.ReplicationRule{{Destinations: []ecrtypes.ReplicationDestination{{Region: aws.String("eu-north-1"), RegistryId: aws.String(pagesScope.Account)}},
			RepositoryFilters: []ecrtypes.RepositoryFilter{{Filter: aws.String("app"), FilterType: ecrtypes.RepositoryFilterTypePrefixMatch}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.StartReplicationBackfill(rootContext(), pagesScope, registry.ReplicationDestination{Region: "eu-north-1", RegistryID: pagesScope.Account}); err != nil {
		t.Fatal(err)
	}
	for prefix, host := range map[string]string{"mirror": e.upstream, "gone": "127.0.0.1:1"} {
		if _, err := api.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String(prefix), UpstreamRegistryUrl: aws.String(host)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 51 {
		if _, err := e.reg.CreateCreationTemplate(rootContext(), pagesScope, registry.CreationTemplate{Prefix: fmt.Sprintf("team%02d", i),
			AppliedFor: []string{registry.AppliedForCreateOnPush}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := api.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("a-team"),
		AppliedFor: []ecrtypes.RCTAppliedFor{ecrtypes.RCTAppliedForReplication}, Description: aws.String("replicas of the a-team"),
		ImageTagMutability: ecrtypes.ImageTagMutabilityImmutable,
		LifecyclePolicy:    aws.String(`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":9},"action":{"type":"expire"}}]}`)}); err != nil {
		t.Fatal(err)
	}

	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no thanks", http.StatusBadRequest) }))
	t.Cleanup(refuse.Close)
	eb := e.eventsClient()
	conn, err := eb.CreateConnection(ctx, &eventbridge.CreateConnectionInput{Name: aws.String("hook"), AuthorizationType: ebtypes.ConnectionAuthorizationTypeApiKey,
		AuthParameters: &ebtypes.CreateConnectionAuthRequestParameters{ApiKeyAuthParameters: &ebtypes.CreateConnectionApiKeyAuthRequestParameters{
			ApiKeyName: aws.String("X-Key"), ApiKeyValue: aws.String("key-secret")}}})
	if err != nil {
		t.Fatal(err)
	}
	dest, err := eb.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{Name: aws.String("refuser"), ConnectionArn: conn.ConnectionArn,
		InvocationEndpoint: aws.String(refuse.URL + "/hook"), HttpMethod: ebtypes.ApiDestinationHttpMethodPost})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("ecr-changes"), EventPattern: aws.String(`{"source":["aws.ecr"]}`),
		Description: aws.String("every change of the registry")}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("paused"), EventPattern: aws.String(`{"source":["aws.ecr"]}`),
		State: ebtypes.RuleStateDisabled}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("ecr-changes"), Targets: []ebtypes.Target{{Id: aws.String("to-refuser"), Arn: dest.ApiDestinationArn}}}); err != nil {
		t.Fatal(err)
	}
	// A failed call (recorded as the request ends) and a change (recorded
	// in its transaction; its event reaches the rule, whose target
	// refuses it).
	if _, err := api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"missing"}}); err == nil {
		t.Fatal("a missing repository was described")
	}
	e.push(t, "app", "v1", time.Hour)
	if _, err := api.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("app"), ImageTagMutability: ecrtypes.ImageTagMutabilityImmutable}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a dead letter", func() bool {
		l, _, err := e.reg.ListDeadLetters(rootContext(), pagesScope, "", "", 10)
		return err == nil && len(l) > 0
	})
	waitFor(t, "the audit records", func() bool {
		n := 0
		for _, name := range []string{"DescribeRepositories", "PutImageTagMutability"} {
			p, err := e.trail.Search(rootContext(), audit.Filter{Scope: pagesScope, EventName: name})
			if err == nil && len(p.Entries) > 0 {
				n++
			}
		}
		return n == 2
	})
}

// The registry's pages, as the account's root: what the APIs set up
// shows, tables page, and the pull-through cache rules' buttons work.
func TestRegistryPages(t *testing.T) {
	e := newPagesEnv(t)
	registryFixture(t, e)
	ctx := context.Background()
	b := e.signIn(t, e.root.ID, e.root.Secret)

	a := b.get("/console/replication")
	wantPage(t, "replication", a, http.StatusOK, `id="replication-rules"`, "123456789012 · eu-north-1", "app*", "not replicated",
		`id="backfills"`, "PREPARING")
	wantPage(t, "replication status", b.get("/console/replication?repository=app&image=v1"), http.StatusOK, `id="status-digest">sha256:`,
		`id="replication-status"`)
	wantPage(t, "replication status of nothing", b.get("/console/replication?repository=app&image=v9"), http.StatusOK, `id="status-error"`, "v9")

	a = b.get("/console/pull-through-cache")
	wantPage(t, "pull-through cache", a, http.StatusOK, `<tr data-prefix="gone">`, `<tr data-prefix="mirror">`, e.upstream)
	a = b.follow(b.post("/console/pull-through-cache/validate", url.Values{"prefix": {"mirror"}}))
	wantPage(t, "validate mirror", a, http.StatusOK, `id="notice">Rule mirror: valid.`)
	a = b.follow(b.post("/console/pull-through-cache/validate", url.Values{"prefix": {"gone"}}))
	wantPage(t, "validate gone", a, http.StatusOK, `id="notice">Rule gone: not valid: `)
	if a := b.send("POST", "/console/pull-through-cache/delete", url.Values{"prefix": {"gone"}}); a.status != http.StatusForbidden {
		t.Errorf("a delete without the CSRF token: %d", a.status)
	}
	a = b.follow(b.post("/console/pull-through-cache/delete", url.Values{"prefix": {"gone"}}))
	wantPage(t, "after delete", a, http.StatusOK, "Deleted the rule gone")
	wantNot(t, "after delete", a, `data-prefix="gone"`)
	rules, err := e.ecrClient(e.root.ID, e.root.Secret).DescribePullThroughCacheRules(ctx, &ecr.DescribePullThroughCacheRulesInput{})
	if err != nil || len(rules.PullThroughCacheRules) != 1 {
		t.Errorf("the API lists %v, %v after the delete", rules, err)
	}

	// 53 templates: ROOT, a-team and 51 team prefixes, 50 a page.
	a = b.get("/console/templates")
	wantPage(t, "templates", a, http.StatusOK, `<tr data-prefix="a-team">`, "replicas of the a-team", "IMMUTABLE", "REPLICATION",
		`<summary>present</summary>`, `id="next-page"`)
	var prefixes []string
	for {
		for _, m := range regexp.MustCompile(`<tr data-prefix="([^"]+)">`).FindAllStringSubmatch(a.body, -1) {
			prefixes = append(prefixes, m[1])
		}
		next := regexp.MustCompile(`id="next-page" href="([^"]+)"`).FindStringSubmatch(a.body)
		if next == nil {
			break
		}
		a = b.get(html.UnescapeString(next[1]))
		wantPage(t, "templates, next page", a, http.StatusOK)
	}
	if len(prefixes) != 53 || len(slices.Compact(slices.Clone(prefixes))) != 53 || !slices.IsSorted(prefixes) {
		t.Errorf("the templates' pages list %d prefixes: %v", len(prefixes), prefixes)
	}

	a = b.get("/console/events")
	wantPage(t, "events", a, http.StatusOK, `<tr data-rule="ecr-changes">`, "every change of the registry", "ENABLED", "to-refuser",
		`<tr data-rule="paused">`, "DISABLED", `id="dead-letters"`, "<td>to-refuser</td>", "the endpoint answered 400 Bad Request")
	wantNot(t, "events", a, "key-secret")

	a = b.get("/console/audit")
	wantPage(t, "audit", a, http.StatusOK, `data-event-name="DescribeRepositories"`, `data-event-name="PutImageTagMutability"`,
		"RepositoryNotFoundException", "arn:aws:iam::123456789012:root")
	a = b.get("/console/audit?errors=1")
	wantPage(t, "audit, errors only", a, http.StatusOK, `data-event-name="DescribeRepositories"`, `<input type="checkbox" id="audit-errors" name="errors" value="1" checked>`)
	wantNot(t, "audit, errors only", a, `data-event-name="PutImageTagMutability"`)
	a = b.get("/console/audit?" + url.Values{"principal": {"arn:aws:iam::123456789012:root"}, "action": {"PutImageTagMutability"}, "repository": {"app"}}.Encode())
	wantPage(t, "audit, by principal, action and repository", a, http.StatusOK, `data-event-name="PutImageTagMutability"`, `<span class="tag">app</span>`)
	wantNot(t, "audit, by principal, action and repository", a, `data-event-name="DescribeRepositories"`)
	wantPage(t, "audit, another principal", b.get("/console/audit?principal=alice"), http.StatusOK, "No records match the filters")
	wantPage(t, "audit, a position not ours", b.get("/console/audit?after=x"), http.StatusBadRequest)
}

// A principal without rights sees 403 pages with the core's explanation,
// never data, and its changes are refused; one that may read sees the
// pages and is refused the changes it may not make.
func TestPagesWithoutRights(t *testing.T) {
	e := newPagesEnv(t)
	registryFixture(t, e)
	e.push(t, "app", "v2", time.Hour)
	const policy = `{"rules":[{"rulePriority":1,"description":"secret-description","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}}]}`
	if _, err := e.reg.PutLifecyclePolicy(rootContext(), metadata.RepoKey{Scope: pagesScope, Name: "app"}, policy); err != nil {
		t.Fatal(err)
	}
	nobody := e.user(t, "nobody", "")
	b := e.signIn(t, nobody.ID, nobody.Secret)
	denied(t, "lifecycle", b.get("/console/lifecycle?name=app"), "ecr:GetLifecyclePolicy", "secret-description")
	denied(t, "replication", b.get("/console/replication"), "ecr:DescribeRegistry", "eu-north-1")
	denied(t, "pull-through cache", b.get("/console/pull-through-cache"), "ecr:DescribePullThroughCacheRules", "mirror")
	denied(t, "templates", b.get("/console/templates"), "ecr:DescribeRepositoryCreationTemplates", "a-team")
	denied(t, "audit", b.get("/console/audit"), "cloudtrail:LookupEvents", "PutImageTagMutability")
	denied(t, "events", b.get("/console/events"), "events:ListRules", "ecr-changes")
	denied(t, "apply", b.post("/console/lifecycle", url.Values{"name": {"app"}, "op": {"apply"}, "text": {strings.Replace(policy, "3", "1", 1)}}), "ecr:PutLifecyclePolicy")
	denied(t, "preview", b.post("/console/lifecycle", url.Values{"name": {"app"}, "op": {"preview"}, "text": {policy}}), "ecr:StartLifecyclePolicyPreview")
	denied(t, "delete policy", b.post("/console/lifecycle/delete", url.Values{"name": {"app"}}), "ecr:DeleteLifecyclePolicy")
	denied(t, "validate", b.post("/console/pull-through-cache/validate", url.Values{"prefix": {"mirror"}}), "ecr:ValidatePullThroughCacheRule")
	denied(t, "delete rule", b.post("/console/pull-through-cache/delete", url.Values{"prefix": {"mirror"}}), "ecr:DeletePullThroughCacheRule")
	if p, err := e.reg.LifecyclePolicy(rootContext(), metadata.RepoKey{Scope: pagesScope, Name: "app"}); err != nil || p.Text != policy {
		t.Errorf("the policy after refused changes: %q, %v", p.Text, err)
	}
	if rules, _, err := e.reg.DescribePullThroughCacheRules(rootContext(), pagesScope, nil, "", 0); err != nil || len(rules) != 2 {
		t.Errorf("the rules after a refused delete: %v, %v", rules, err)
	}

	reader := e.user(t, "reader", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:Describe*","ecr:Get*","ecr:List*",
		"events:List*","cloudtrail:LookupEvents"],"Resource":"*"}]}`)
	b = e.signIn(t, reader.ID, reader.Secret)
	wantPage(t, "lifecycle, reader", b.get("/console/lifecycle?name=app"), http.StatusOK, "secret-description")
	denied(t, "apply, reader", b.post("/console/lifecycle", url.Values{"name": {"app"}, "op": {"apply"}, "text": {policy}}), "ecr:PutLifecyclePolicy")
	wantPage(t, "replication, reader", b.get("/console/replication"), http.StatusOK, "eu-north-1")
	// The dead letters need ecrd:ListDeadLetters: the page says so in place.
	a := b.get("/console/events")
	wantPage(t, "events, reader", a, http.StatusOK, "ecr-changes", `id="dead-letters-error"`, "ecrd:ListDeadLetters")
	wantNot(t, "events, reader", a, "400 Bad Request")
	wantPage(t, "audit, reader", b.get("/console/audit"), http.StatusOK, `data-event-name="PutImageTagMutability"`)
	// The reader's own failed call is in the trail, by its ARN.
	if _, err := e.ecrClient(reader.ID, reader.Secret).PutImageTagMutability(context.Background(), &ecr.PutImageTagMutabilityInput{
		RepositoryName: aws.String("app"), ImageTagMutability: ecrtypes.ImageTagMutabilityMutable}); err == nil {
		t.Fatal("the reader changed a repository")
	}
	readerARN := "arn:aws:iam::123456789012:user/reader"
	waitFor(t, "the reader's denied call", func() bool {
		return strings.Contains(b.get("/console/audit?errors=1&principal="+url.QueryEscape(readerARN)).body, `data-event-name="PutImageTagMutability"`)
	})
	a = b.get("/console/audit?errors=1&principal=" + url.QueryEscape(readerARN))
	wantPage(t, "audit, the reader's errors", a, http.StatusOK, "AccessDenied", readerARN)
	wantNot(t, "audit, the reader's errors", a, "arn:aws:iam::123456789012:root")
}

// Without an audit trail or EventBridge, the pages say so.
func TestPagesOfFeaturesOff(t *testing.T) {
	e := newPagesEnv(t)
	b := e.signIn(t, e.root.ID, e.root.Secret)
	off := New(Options{Registry: e.reg, Identity: e.ids, DefaultRegion: pagesRegion, Log: testutil.Logger()})
	srv := httptest.NewServer(off)
	t.Cleanup(srv.Close)
	b.base = srv.URL // the session cookie is for the path, on any port of the host
	wantPage(t, "audit", b.get("/console/audit"), http.StatusOK, `id="audit-off"`)
	wantPage(t, "events", b.get("/console/events"), http.StatusOK, `id="events-off"`, `id="dead-letters"`)
}

// A preview still running says so, with a link to reload.
func TestPreviewInProgressPage(t *testing.T) {
	h := New(Options{Log: testutil.Logger()})
	rec := httptest.NewRecorder()
	v := lifecycleView{Name: "app", Options: lifecycleOptions, Preview: &previewView{Status: registry.PreviewInProgress, InProgress: true,
		EvaluateAt: time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)}}
	h.renderLifecycle(rec, httptest.NewRequest("GET", "/console/lifecycle?name=app", nil), nil, http.StatusOK, v, nil)
	a := answer{status: rec.Code, body: rec.Body.String()}
	wantPage(t, "preview in progress", a, http.StatusOK, "Status <strong>IN_PROGRESS</strong>", `id="preview-reload" href="/console/lifecycle?name=app&amp;preview=1"`,
		"2030-01-02 00:00 UTC")
	wantNot(t, "preview in progress", a, `id="preview-results"`)
}

var (
	controlRE = regexp.MustCompile(`<(input|select|textarea)\b[^>]*>`)
	idRE      = regexp.MustCompile(`\bid="([^"]+)"`)
	thRE      = regexp.MustCompile(`<th\b[^>]*>`)
	scriptRE  = regexp.MustCompile(`<script\b[^>]*>`)
)

// accessible checks a page's markup: a label for every control (by
// for=, by wrapping it, or aria-label), a scope on every table header,
// and nothing inline that the Content-Security-Policy forbids (style
// attributes, scripts without a source).
func accessible(t *testing.T, name, body string) {
	t.Helper()
	for _, loc := range controlRE.FindAllStringIndex(body, -1) {
		tag := body[loc[0]:loc[1]]
		if strings.Contains(tag, `type="hidden"`) || strings.Contains(tag, "aria-label=") {
			continue
		}
		if m := idRE.FindStringSubmatch(tag); m != nil && regexp.MustCompile(`<label\b[^>]*\bfor="`+regexp.QuoteMeta(m[1])+`"`).MatchString(body) {
			continue
		}
		before := body[:loc[0]]
		if strings.LastIndex(before, "<label") > strings.LastIndex(before, "</label>") {
			continue
		}
		t.Errorf("%s: a control without a label: %s", name, tag)
	}
	for _, th := range thRE.FindAllString(body, -1) {
		if !strings.Contains(th, "scope=") {
			t.Errorf("%s: a table header without a scope: %s", name, th)
		}
	}
	if strings.Contains(body, " style=") {
		t.Errorf("%s: an inline style", name)
	}
	for _, s := range scriptRE.FindAllString(body, -1) {
		if !strings.Contains(s, "src=") {
			t.Errorf("%s: an inline script", name)
		}
	}
}
