package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
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
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestPullThroughCacheBearer runs the pull-through cache against the
// distribution project's registry with token authentication: the
// registry answers /v2/ with a Bearer challenge naming a token issuer
// (run here, signing ES256 tokens with a key whose certificate the
// registry trusts), so ecrd logs in through the issuer with the
// credentials of the rule's Secrets Manager secret, as Docker Hub and
// most public registries ask. Validate succeeds with the right password
// and fails with a wrong one; images come through with their digests;
// tokens are reused for their scope, not asked for on every pull; an
// anonymous rule gets anonymous tokens, which open only the repository
// the issuer grants anonymous callers.
func TestPullThroughCacheBearer(t *testing.T) {
	const user, pass = "cache-user", "s3cret-upstream-pass"
	iss := startTokenIssuer(t, user, pass, "public/hello")
	dist := startDistribution(t, iss)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Images pushed with go-containerregistry, which performs the Bearer
	// flow itself.
	push := func(repo string, layers int64) v1.Hash {
		t.Helper()
		img, err := random.Image(64<<10, layers)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.NewTag(dist+"/"+repo, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: user, Password: pass})); err != nil {
			t.Fatalf("push %s to the distribution registry: %v", repo, err)
		}
		d, _ := img.Digest()
		return d
	}
	appV1, appV2 := push("team/app:v1", 2), push("team/app:v2", 3)
	tool1 := push("team/tool:v1", 1)
	hello := push("public/hello:v1", 1)
	beforeCache, pushTokens := iss.counts(), iss.total()

	down := startECRD(t, t.TempDir(), "--insecure-upstreams", dist+","+iss.host)
	sm := secretsmanager.New(secretsmanager.Options{Region: testRegion, BaseEndpoint: aws.String(down.URL()),
		Credentials: static(testAccessKey, testSecret), Retryer: closedConnRetryer()})
	secret := func(name, password string) *string {
		t.Helper()
		b, _ := json.Marshal(map[string]string{"username": user, "accessToken": password})
		out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(string(b))})
		if err != nil {
			t.Fatal(err)
		}
		return out.ARN
	}
	c := ecrClient(down)
	for prefix, arn := range map[string]*string{
		"dist":      secret("ecr-pullthroughcache/dist", pass),
		"distwrong": secret("ecr-pullthroughcache/dist-wrong", "not-the-password"),
		"distanon":  nil,
	} {
		_, err := c.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String(prefix),
			UpstreamRegistryUrl: aws.String(dist), CredentialArn: arn})
		ecrMust(t, "CreatePullThroughCacheRule "+prefix, err)
	}
	for prefix, valid := range map[string]bool{"dist": true, "distwrong": false, "distanon": true} {
		v, err := c.ValidatePullThroughCacheRule(ctx, &ecr.ValidatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String(prefix)})
		if err != nil || v.IsValid != valid {
			t.Errorf("ValidatePullThroughCacheRule %s: %v, valid %v (%q), want valid %v",
				prefix, err, v != nil && v.IsValid, aws.ToString(v.Failure), valid)
		}
	}
	if n := iss.refused(); n == 0 {
		t.Error("the issuer refused no request, though a rule's secret holds a wrong password")
	}

	// Pulls through the cache: every blob read, digests unchanged.
	downAuth := remote.WithAuth(&authn.Basic{Username: "AWS", Password: down.Password(t)})
	pull := func(repo string) (v1.Hash, error) {
		t.Helper()
		ref, err := name.ParseReference(down.Addr+"/"+repo, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(ref, downAuth, remote.WithContext(ctx))
		if err != nil {
			return v1.Hash{}, err
		}
		if _, err := img.RawConfigFile(); err != nil {
			return v1.Hash{}, err
		}
		layers, err := img.Layers()
		if err != nil {
			return v1.Hash{}, err
		}
		for _, l := range layers {
			rc, err := l.Compressed()
			if err != nil {
				return v1.Hash{}, err
			}
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil {
				return v1.Hash{}, err
			}
		}
		return img.Digest()
	}
	mustPull := func(repo string, want v1.Hash) {
		t.Helper()
		got, err := pull(repo)
		if err != nil {
			t.Fatalf("pull %s through the cache: %v", repo, err)
		}
		if got != want {
			t.Fatalf("pull %s through the cache: digest %s, upstream's %s", repo, got, want)
		}
	}
	mustPull("dist/team/app:v1", appV1)
	appTokens := iss.issued(user, "repository:team/app:pull")
	if appTokens == 0 {
		t.Fatalf("the first pull asked the issuer for no token for team/app (issued: %v)", iss.counts())
	}
	mustPull("dist/team/app:v2", appV2)
	mustPull("dist/team/app@"+appV1.String(), appV1)
	mustPull("dist/team/tool:v1", tool1)
	if n := iss.issued(user, "repository:team/app:pull"); n != appTokens {
		t.Errorf("tokens for team/app: %d after the first pull, %d after two more; a token is kept for its scope until it expires", appTokens, n)
	}
	// The cache's tokens: one per scope it used (/v2/ for Validate, and
	// each repository), with room for requests racing for one scope.
	cacheTokens, scopes := 0, 0
	for k, n := range iss.counts() {
		if n -= beforeCache[k]; n > 0 {
			cacheTokens += n
			scopes++
		}
	}
	t.Logf("tokens issued: %v, %d of them before the cache asked", iss.counts(), pushTokens)
	if cacheTokens > scopes+2 {
		t.Errorf("the cache got %d tokens for %d scopes (issued: %v)", cacheTokens, scopes, iss.counts())
	}

	// A rule with a wrong password gets nothing through.
	if _, err := pull("distwrong/team/app:v1"); err == nil {
		t.Error("an image came through a rule whose password the issuer refuses")
	}

	// Anonymous: the issuer's anonymous tokens open public/hello only.
	mustPull("distanon/public/hello:v1", hello)
	if iss.issued("", "repository:public/hello:pull") == 0 {
		t.Errorf("no anonymous token for public/hello (issued: %v)", iss.counts())
	}
	if _, err := pull("distanon/team/app:v1"); err == nil {
		t.Error("an anonymous rule pulled a repository the issuer grants only to its user")
	}
	noServerErrors(t, down)
}

// tokenIssuer is a token server of the Docker token authentication
// specification: GET /token?service=...&scope=... with Basic credentials
// (or none) answers a JWT granting what the caller may have.
type tokenIssuer struct {
	url, host string
	certFile  string

	mu      sync.Mutex
	byKey   map[issueKey]int
	refusal int
}

type issueKey struct{ user, scope string }

func (s *tokenIssuer) counts() map[issueKey]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[issueKey]int, len(s.byKey))
	for k, v := range s.byKey {
		out[k] = v
	}
	return out
}

func (s *tokenIssuer) issued(user, scope string) int { return s.counts()[issueKey{user, scope}] }

func (s *tokenIssuer) total() int {
	n := 0
	for _, v := range s.counts() {
		n += v
	}
	return n
}

func (s *tokenIssuer) refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refusal
}

const (
	tokenService    = "test-registry"
	tokenIssuerName = "test-issuer"
)

// startTokenIssuer serves tokens for user/pass (every repository, the
// actions asked for) and for anonymous callers (pull of anonRepo only).
func startTokenIssuer(t *testing.T, user, pass, anonRepo string) *tokenIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: tokenIssuerName},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	s := &tokenIssuer{certFile: filepath.Join(t.TempDir(), "token-root.pem"), byKey: map[issueKey]int{}}
	if err := os.WriteFile(s.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	// The registry finds the signing key through the x5c chain, which its
	// root bundle (this certificate) verifies.
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("x5c", []string{base64.StdEncoding.EncodeToString(der)}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/token" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		if q.Get("service") != tokenService {
			http.Error(w, `{"errors":[{"code":"DENIED","message":"unknown service"}]}`, http.StatusBadRequest)
			return
		}
		caller := ""
		if u, p, ok := r.BasicAuth(); ok {
			if subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(pass)) != 1 {
				s.mu.Lock()
				s.refusal++
				s.mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return
			}
			caller = user
		}
		type access struct {
			Type    string   `json:"type"`
			Name    string   `json:"name"`
			Actions []string `json:"actions"`
		}
		grants := []access{}
		for _, scope := range q["scope"] {
			// repository:NAME:ACTIONS; the name may hold colons only
			// with a port, which repository names here do not.
			first, last := strings.Index(scope, ":"), strings.LastIndex(scope, ":")
			if first < 0 || first == last {
				continue
			}
			typ, repo, actions := scope[:first], scope[first+1:last], strings.Split(scope[last+1:], ",")
			if typ != "repository" {
				continue
			}
			if caller == "" {
				if repo != anonRepo {
					continue // anonymous callers get a token granting nothing
				}
				actions = []string{"pull"}
			}
			grants = append(grants, access{Type: typ, Name: repo, Actions: actions})
		}
		now := time.Now()
		claims := map[string]any{
			"iss": tokenIssuerName, "sub": caller, "aud": q.Get("service"),
			"iat": now.Unix(), "nbf": now.Add(-time.Second).Unix(), "exp": now.Add(5 * time.Minute).Unix(),
			"jti": fmt.Sprintf("%d", now.UnixNano()), "access": grants,
		}
		tok, err := jwt.Signed(signer).Claims(claims).Serialize()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.mu.Lock()
		s.byKey[issueKey{caller, strings.Join(q["scope"], " ")}]++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"token": tok, "access_token": tok, "expires_in": 300,
			"issued_at": now.UTC().Format(time.RFC3339)})
	}))
	t.Cleanup(srv.Close)
	// The realm names the issuer as localhost: go-containerregistry
	// refuses a realm at a loopback IP literal other than the registry's.
	s.host = "localhost:" + strings.TrimPrefix(srv.URL, "http://127.0.0.1:")
	s.url = "http://" + s.host
	return s
}

// startDistribution starts the distribution project's registry on a
// loopback port with token authentication through iss, and returns its
// host:port once /v2/ answers with the Bearer challenge.
func startDistribution(t *testing.T, iss *tokenIssuer) string {
	t.Helper()
	bin := distributionRegistry(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	config := fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
auth:
  token:
    realm: %s/token
    service: %s
    issuer: %s
    rootcertbundle: %s
`, filepath.Join(dir, "storage"), addr, iss.url, tokenService, tokenIssuerName, iss.certFile)
	cfgFile := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve", cfgFile)
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none", "OTEL_SDK_DISABLED=true")
	out := &syncWriter{w: &logs}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("distribution registry's log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			ch := resp.Header.Get("WWW-Authenticate")
			if resp.StatusCode == http.StatusUnauthorized && strings.HasPrefix(ch, `Bearer realm="`+iss.url+`/token"`) {
				return addr
			}
			t.Fatalf("the distribution registry's /v2/: %d %q, want 401 with a Bearer challenge", resp.StatusCode, ch)
		}
		select {
		case <-done:
			t.Fatalf("the distribution registry exited: %v\n%s", cmd.ProcessState, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the distribution registry did not answer on %s", addr)
		}
	}
}

// distributionRegistry finds the distribution project's registry binary
// that scripts/install-test-tools installs in GOPATH/bin (first, since
// another program may be called registry on PATH).
func distributionRegistry(t *testing.T) string {
	t.Helper()
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "registry")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return tool(t, "registry")
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
