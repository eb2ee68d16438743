package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/blobstore/s3store"
	"github.com/ecrd/ecrd/internal/testutil/s3test"
	"github.com/ecrd/ecrd/test/ecrdtest"
)

// TestCrashSafety kills ecrd with SIGKILL while several clients push to it,
// restarts it on the same data folder, and checks that it kept every promise
// it made before dying:
//
//   - every blob it acknowledged (201) is in its repository, with its size,
//     and reads back with its digest;
//   - every manifest it acknowledged (201) reads back, by digest, as exactly
//     the bytes pushed, with their media type and digest; every tag it
//     acknowledged points where the last acknowledged operation left it;
//   - every deletion it acknowledged (202) stays done;
//   - every upload session it acknowledged holds the bytes it acknowledged
//     and can be resumed and finished;
//   - nothing half-written is visible: every file under blobs/ hashes to its
//     name, tags/list matches the acknowledged tags, and every manifest
//     reachable by tag parses and finds its blobs and child manifests;
//   - start-up recovery left in uploads/ only live upload sessions, and
//     ecrd logged no error.
//
// The clients are plain net/http, so the test knows exactly which requests
// were answered. Each of them owns two repositories and keeps a model of what
// ecrd acknowledged there. A request that got no answer (the kill cut it)
// may or may not have taken effect: the test lists its possible outcomes
// (not done, done, and for a blob upload's last request the states in
// between) and after the restart requires that ecrd shows exactly one of
// them, all of its parts together. The model then follows what ecrd shows,
// so every later iteration checks against exact expectations again.
//
// ECRD_CRASH_ITERATIONS sets the number of crashes (default 20, 3 with
// -short); ECRD_CRASH_SEED replays the same random choices (not the same
// timing).
func TestCrashSafety(t *testing.T) {
	runCrashTest(t, &crashTest{t: t, data: t.TempDir(), hashed: map[string]crashStamp{}})
}

// TestCrashSafetyOnReplicas is TestCrashSafety against three replicas on
// one PostgreSQL database and one S3 bucket: each pusher talks to one
// replica, and each crash kills one replica, chosen at random, with
// SIGKILL while the others keep answering; the verification goes through
// another replica, and the killed one is started again on the same
// stores. What a replica acknowledged must survive its death whatever
// replica is asked, once the outbox has reached it: a replica answers
// from its cache until then, so a mismatch is looked at again for up to
// crashSettle (and logged) before it counts as lost. Upload leftovers
// are not checked: with shared stores
// they are removed by expiry, not at start-up (see registry.Recover);
// every blob object in the bucket must hash to its name.
func TestCrashSafetyOnReplicas(t *testing.T) {
	c := ecrdtest.StartCluster(t, 3)
	c.Replicas[0].CreateOnPush(t)
	s3test.Start(t).Setenv(t) // the test reads the bucket too
	runCrashTest(t, &crashTest{t: t, cluster: c, hashed: map[string]crashStamp{}})
}

func runCrashTest(t *testing.T, ct *crashTest) {
	iterations := crashEnvInt(t, "ECRD_CRASH_ITERATIONS", crashDefaultIterations)
	if testing.Short() && os.Getenv("ECRD_CRASH_ITERATIONS") == "" {
		iterations = 3
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ECRD_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("ECRD_CRASH_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("%d crashes, %d pushers, ECRD_CRASH_SEED=%d", iterations, crashPushers, seed)

	rng := rand.New(rand.NewPCG(seed, 0))
	for i := range crashPushers {
		ct.pushers = append(ct.pushers, &crashPusher{
			t:       t,
			id:      i,
			repos:   []string{fmt.Sprintf("crash/p%d/app", i), fmt.Sprintf("crash/p%d/lib", i)},
			rng:     rand.New(rand.NewPCG(seed, uint64(i)+1)),
			model:   map[crashKey]crashFact{},
			checked: map[crashKey]bool{},
			created: map[string]bool{},
		})
	}

	if ct.cluster != nil {
		for it := 1; it <= iterations; it++ {
			for len(ct.cluster.Replicas) < 3 {
				ct.cluster.Add(t)
			}
			if it > 1 {
				ct.verify(ct.cluster.Replicas[0], fmt.Sprintf("after crash %d", it-1), false)
			}
			delay := 50*time.Millisecond + time.Duration(rng.Int64N(int64(750*time.Millisecond)))
			victim := rng.IntN(len(ct.cluster.Replicas))
			ct.crashCycle(ct.cluster.Replicas[victim], it, delay)
			ct.cluster.Replicas = slices.Delete(ct.cluster.Replicas, victim, victim+1)
		}
		e := ct.cluster.Replicas[0]
		ct.verify(e, fmt.Sprintf("after crash %d", iterations), false)
		ct.cleanCycle(e, "clean cycle")
		ct.verify(e, "after the clean cycle", true)
		ct.finishUploads(e)
		ct.verify(e, "after finishing the open uploads", false)
		for _, r := range ct.cluster.Replicas {
			ct.checkErrorLogs(r, "final")
		}
		return
	}

	for it := 1; it <= iterations; it++ {
		e := startECRD(t, ct.data)
		if it > 1 {
			ct.verify(e, fmt.Sprintf("after crash %d", it-1), false)
		}
		delay := 50*time.Millisecond + time.Duration(rng.Int64N(int64(750*time.Millisecond)))
		ct.crashCycle(e, it, delay)
	}

	e := startECRD(t, ct.data)
	ct.verify(e, fmt.Sprintf("after crash %d", iterations), false)

	// An uninterrupted cycle, a clean stop: uploads/ must then hold exactly
	// the upload sessions left open on purpose.
	ct.cleanCycle(e, "clean cycle")
	e.Stop()
	ct.checkErrorLogs(e, "clean cycle")
	ct.checkUploadsStopped("after the clean stop")
	ct.failNow()

	// A clean restart: everything again, every blob's content re-read; then
	// finish every open upload and stop: uploads/ must be empty.
	e = startECRD(t, ct.data)
	ct.verify(e, "after the clean restart", true)
	ct.finishUploads(e)
	ct.verify(e, "after finishing the open uploads", false)
	e.Stop()
	ct.checkErrorLogs(e, "final stop")
	ct.checkUploadsStopped("after the final stop")
}

const (
	crashDefaultIterations = 20
	crashPushers           = 6
	crashMaxOpenUploads    = 3  // upload sessions a pusher leaves open on purpose
	crashCleanOps          = 12 // operations per pusher in the uninterrupted cycle
	crashMaxErrors         = 60

	crashOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	crashOCIIndex       = "application/vnd.oci.image.index.v1+json"
	crashDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	crashDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	crashOctets         = "application/octet-stream"
)

var crashTags = []string{"latest", "v1", "v2", "v3", "stable", "edge"}

func crashEnvInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

func crashDigest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// crashRange is the Range header ecrd answers for an upload holding n bytes.
func crashRange(n int64) string { return "0-" + strconv.FormatInt(max(n-1, 0), 10) }

// crashBlob is a blob's content: inline, or size bytes generated from seed,
// so that any part of it can be produced again to resume an upload.
type crashBlob struct {
	digest string
	size   int64
	seed   uint64
	data   []byte
}

func crashRandomBlob(seed uint64, size int64) crashBlob {
	b := crashBlob{size: size, seed: seed}
	b.digest = crashDigest(b.bytes())
	return b
}

func crashInlineBlob(data []byte) crashBlob {
	return crashBlob{digest: crashDigest(data), size: int64(len(data)), data: data}
}

func (b crashBlob) bytes() []byte {
	if b.data != nil {
		return b.data
	}
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], b.seed)
	buf := make([]byte, b.size)
	rand.NewChaCha8(key).Read(buf)
	return buf
}

// crashManifest is a manifest as pushed.
type crashManifest struct {
	digest    string
	mediaType string
	body      []byte
	blobs     []crashBlob // image: config and layers
	children  []string    // index: the manifests it lists
}

func (m *crashManifest) isIndex() bool {
	return m.mediaType == crashOCIIndex || m.mediaType == crashDockerList
}

type crashDescriptor struct {
	MediaType string         `json:"mediaType"`
	Digest    string         `json:"digest"`
	Size      int64          `json:"size"`
	Platform  *crashPlatform `json:"platform,omitempty"`
}

type crashPlatform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

type crashImage struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Config        crashDescriptor   `json:"config"`
	Layers        []crashDescriptor `json:"layers"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type crashIndex struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Manifests     []crashDescriptor `json:"manifests"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// A crashKey names one thing ecrd may promise: a blob or manifest (by
// digest) or a tag of a repository, or an upload session (by ID).
type crashKey struct {
	kind crashKind
	repo string
	name string
}

type crashKind int

const (
	crashKindBlob crashKind = iota
	crashKindManifest
	crashKindTag
	crashKindUpload
)

func (k crashKey) String() string {
	switch k.kind {
	case crashKindBlob:
		return "blob " + k.repo + "@" + k.name
	case crashKindManifest:
		return "manifest " + k.repo + "@" + k.name
	case crashKindTag:
		return "tag " + k.repo + ":" + k.name
	default:
		return "upload " + k.name + " of " + k.repo
	}
}

func crashBlobKey(repo, d string) crashKey     { return crashKey{crashKindBlob, repo, d} }
func crashManifestKey(repo, d string) crashKey { return crashKey{crashKindManifest, repo, d} }
func crashTagKey(repo, tag string) crashKey    { return crashKey{crashKindTag, repo, tag} }
func crashUploadKey(repo, id string) crashKey  { return crashKey{crashKindUpload, repo, id} }

// crashFact is the state of a key: what was acknowledged, or what ecrd
// shows. The zero value is "absent".
type crashFact struct {
	present  bool
	blob     crashBlob      // blob: the blob; upload: the blob being uploaded
	man      *crashManifest // manifest (kept after a delete, to push it again)
	digest   string         // tag: the manifest it points to
	size     int64          // upload: bytes acknowledged
	rangeHdr string         // upload, as observed: the Range header
}

func (f crashFact) describe(k crashKey) string {
	if !f.present {
		return "absent"
	}
	switch k.kind {
	case crashKindBlob:
		return fmt.Sprintf("present with %d bytes", f.blob.size)
	case crashKindManifest:
		return fmt.Sprintf("present (%s, %d bytes)", f.man.mediaType, len(f.man.body))
	case crashKindTag:
		return "pointing to " + f.digest
	default:
		if f.rangeHdr != "" {
			return "open with Range " + f.rangeHdr
		}
		return fmt.Sprintf("open with %d bytes (Range %s)", f.size, crashRange(f.size))
	}
}

// crashDiffers says how the observed state got differs from the expected
// state want, or returns "".
func crashDiffers(k crashKey, want, got crashFact) string {
	if want.present != got.present {
		return "found " + got.describe(k)
	}
	if !want.present {
		return ""
	}
	switch k.kind {
	case crashKindBlob:
		if got.blob.size != want.blob.size {
			return fmt.Sprintf("HEAD answers Content-Length %d, want %d", got.blob.size, want.blob.size)
		}
	case crashKindManifest:
		var d []string
		if got.man.mediaType != want.man.mediaType {
			d = append(d, fmt.Sprintf("Content-Type %q, want %q", got.man.mediaType, want.man.mediaType))
		}
		if got.man.digest != want.man.digest {
			d = append(d, fmt.Sprintf("Docker-Content-Digest %q, want %q", got.man.digest, want.man.digest))
		}
		if !bytes.Equal(got.man.body, want.man.body) {
			d = append(d, fmt.Sprintf("GET returned %d bytes with digest %s, not the %d acknowledged bytes",
				len(got.man.body), crashDigest(got.man.body), len(want.man.body)))
		}
		return strings.Join(d, "; ")
	case crashKindTag:
		if got.digest != want.digest {
			return fmt.Sprintf("points to %s, want %s", got.digest, want.digest)
		}
	case crashKindUpload:
		if got.rangeHdr != crashRange(want.size) {
			return fmt.Sprintf("status answers Range %s, want %s (%d bytes acknowledged)", got.rangeHdr, crashRange(want.size), want.size)
		}
	}
	return ""
}

// crashOutcome is one state an unanswered request may have left.
type crashOutcome struct {
	name  string
	facts map[crashKey]crashFact
}

// crashPending is a request that was sent and not (yet) answered.
type crashPending struct {
	desc     string
	outcomes []crashOutcome // [0] is "nothing happened"; all name the same keys
	// A POST opening an upload session: its ID is known only from the
	// answer, so a session it opened is found in uploads/.
	upload     *crashBlob
	uploadRepo string
}

// crashPusher is one client. It alone writes to its repositories, so its
// model is exact: what the last acknowledged operation on each key left.
type crashPusher struct {
	t       *testing.T
	id      int
	repos   []string
	rng     *rand.Rand
	model   map[crashKey]crashFact
	checked map[crashKey]bool // blobs whose content was read back after a crash
	created map[string]bool   // repositories ecrd has acknowledged a write to
	pending *crashPending

	// Per cycle.
	base     string
	client   *http.Client
	label    string
	inFlight *atomic.Int32
	stats    crashStats
}

type crashStats struct{ blobs, blobBytes, manifests, deletes, uploads int }

func (s *crashStats) add(o crashStats) {
	s.blobs += o.blobs
	s.blobBytes += o.blobBytes
	s.manifests += o.manifests
	s.deletes += o.deletes
	s.uploads += o.uploads
}

var (
	errCrashNoAnswer = errors.New("no answer")
	errCrashRefused  = errors.New("refused")
)

type crashAnswer struct {
	status int
	header http.Header
	body   []byte
}

// send makes one request. No answer (the server is gone) is errCrashNoAnswer.
func (p *crashPusher) send(method, path string, hdr map[string]string, body []byte, streamed bool) (*crashAnswer, error) {
	var r io.Reader
	switch {
	case streamed:
		r = struct{ io.Reader }{bytes.NewReader(body)} // no length: chunked encoding
	case body != nil:
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, p.base+path, r)
	if err != nil {
		return nil, err
	}
	if streamed {
		req.ContentLength = -1
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	p.inFlight.Add(1)
	resp, err := p.client.Do(req)
	p.inFlight.Add(-1)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %v", errCrashNoAnswer, method, path, err)
	}
	defer resp.Body.Close()
	a := &crashAnswer{status: resp.StatusCode, header: resp.Header}
	a.body, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return a, nil
}

func (p *crashPusher) refused(what string, a *crashAnswer, want string) error {
	p.t.Errorf("%s: pusher %d: %s: ecrd answered %d %s %s; want %s", p.label, p.id, what, a.status,
		crashHeaders(a.header, "Location", "Range", "Docker-Content-Digest", "Docker-Upload-UUID"), crashSnippet(a.body), want)
	return errCrashRefused
}

func crashHeaders(h http.Header, names ...string) string {
	var s []string
	for _, n := range names {
		if v := h.Get(n); v != "" {
			s = append(s, n+": "+v)
		}
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func crashSnippet(b []byte) string {
	if len(b) > 300 {
		b = b[:300]
	}
	return strings.TrimSpace(string(b))
}

// attempt records the request about to be sent: nothing may happen, or any
// of alts (each gives the keys it changes).
func (p *crashPusher) attempt(desc string, alts ...crashOutcome) {
	keys := map[crashKey]bool{}
	for _, a := range alts {
		for k := range a.facts {
			keys[k] = true
		}
	}
	before := map[crashKey]crashFact{}
	for k := range keys {
		before[k] = p.model[k]
	}
	outcomes := []crashOutcome{{"not done", before}}
	for _, a := range alts {
		facts := maps.Clone(before)
		maps.Copy(facts, a.facts)
		outcomes = append(outcomes, crashOutcome{a.name, facts})
	}
	p.pending = &crashPending{desc: desc, outcomes: outcomes}
}

// ack records what an answered request did (or, answered is false, what
// an unanswered one turned out to have done).
func (p *crashPusher) ack(facts map[crashKey]crashFact, answered bool) {
	maps.Copy(p.model, facts)
	for k, f := range facts {
		if answered || f.present {
			p.created[k.repo] = true
		}
	}
	p.pending = nil
}

// run performs random operations until stop is set (or limit operations,
// if limit > 0), or until a request gets no answer or a refusal.
func (p *crashPusher) run(stop *atomic.Bool, limit int) error {
	for n := 0; limit == 0 || n < limit; n++ {
		if stop != nil && stop.Load() {
			return nil
		}
		if err := p.step(); err != nil {
			return err
		}
	}
	return nil
}

func (p *crashPusher) step() error {
	repo := p.repos[p.rng.IntN(len(p.repos))]
	switch r := p.rng.IntN(100); {
	case r < 40:
		return p.pushImage(repo)
	case r < 50:
		return p.pushIndex(repo)
	case r < 58:
		return p.retag(repo)
	case r < 67:
		return p.deleteTag(repo)
	case r < 75:
		return p.deleteManifest(repo)
	case r < 83:
		return p.openUpload(repo)
	default:
		return p.advanceUpload()
	}
}

// keys returns the model's keys of a kind in repo ("" for all) whose fact
// satisfies keep, sorted.
func (p *crashPusher) keys(kind crashKind, repo string, keep func(crashFact) bool) []crashKey {
	var out []crashKey
	for k, f := range p.model {
		if k.kind == kind && (repo == "" || k.repo == repo) && keep(f) {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b crashKey) int {
		return strings.Compare(a.repo+" "+a.name, b.repo+" "+b.name)
	})
	return out
}

func crashIsPresent(f crashFact) bool { return f.present }

func crashPick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

func (p *crashPusher) blobSize() int64 {
	switch r := p.rng.IntN(20); {
	case r == 0:
		return 0
	case r < 7:
		return p.rng.Int64N(4 << 10)
	case r < 16:
		return p.rng.Int64N(512 << 10)
	default:
		return p.rng.Int64N(3 << 20)
	}
}

func (p *crashPusher) marshal(v any) []byte {
	var b []byte
	var err error
	if p.rng.IntN(2) == 0 {
		b, err = json.MarshalIndent(v, "", "   ")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		panic(err)
	}
	return b
}

// pushImage pushes a config and up to three layers (new, already in the
// repository, or mounted from the pusher's other repository) and an image
// manifest referencing them.
func (p *crashPusher) pushImage(repo string) error {
	configType, layerType, manifestType := "application/vnd.oci.image.config.v1+json", "application/vnd.oci.image.layer.v1.tar+gzip", crashOCIManifest
	if p.rng.IntN(5) == 0 {
		configType, layerType, manifestType = "application/vnd.docker.container.image.v1+json", "application/vnd.docker.image.rootfs.diff.tar.gzip", crashDockerManifest
	}
	config := crashInlineBlob(fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{"Labels":{"crash-test":"%d-%x"}}}`,
		p.id, p.rng.Uint64()))
	if err := p.pushBlob(repo, config); err != nil {
		return err
	}
	m := crashImage{
		SchemaVersion: 2,
		MediaType:     manifestType,
		Config:        crashDescriptor{MediaType: configType, Digest: config.digest, Size: config.size},
		Layers:        []crashDescriptor{},
		Annotations:   map[string]string{"org.ecrd.crash-test.nonce": strconv.FormatUint(p.rng.Uint64(), 16)},
	}
	blobs := []crashBlob{config}
	for range p.rng.IntN(4) {
		layer, err := p.layer(repo)
		if err != nil {
			return err
		}
		blobs = append(blobs, layer)
		m.Layers = append(m.Layers, crashDescriptor{MediaType: layerType, Digest: layer.digest, Size: layer.size})
	}
	body := p.marshal(m)
	return p.putManifest(repo, &crashManifest{digest: crashDigest(body), mediaType: manifestType, body: body, blobs: blobs}, p.ref())
}

// layer returns a blob that is in the repository, pushing or mounting it.
func (p *crashPusher) layer(repo string) (crashBlob, error) {
	here := p.keys(crashKindBlob, repo, crashIsPresent)
	other := p.repos[0]
	if other == repo {
		other = p.repos[1]
	}
	var mountable []crashKey
	for _, k := range p.keys(crashKindBlob, other, crashIsPresent) {
		if !p.model[crashBlobKey(repo, k.name)].present {
			mountable = append(mountable, k)
		}
	}
	switch r := p.rng.IntN(10); {
	case r < 2 && len(here) > 0:
		return p.model[crashPick(p.rng, here)].blob, nil
	case r < 4 && len(mountable) > 0:
		b := p.model[crashPick(p.rng, mountable)].blob
		return b, p.mountBlob(repo, other, b)
	case r < 5 && len(here) > 0:
		// The same content again: ecrd keeps the stored copy.
		b := p.model[crashPick(p.rng, here)].blob
		return b, p.pushBlob(repo, b)
	}
	b := crashRandomBlob(p.rng.Uint64(), p.blobSize())
	return b, p.pushBlob(repo, b)
}

// ref picks how a manifest is pushed: by tag, by digest, or by digest with
// tag parameters.
func (p *crashPusher) ref() []string {
	switch r := p.rng.IntN(10); {
	case r < 6:
		return []string{crashPick(p.rng, crashTags)}
	case r < 8:
		return nil
	default:
		a := crashPick(p.rng, crashTags)
		b := crashPick(p.rng, crashTags)
		if a == b {
			return []string{"", a}
		}
		return []string{"", a, b}
	}
}

// putManifest pushes m by tags[0] (by digest if tags is empty or tags[0]
// is ""), with tags[1:] as tag parameters.
func (p *crashPusher) putManifest(repo string, m *crashManifest, tags []string) error {
	path := "/v2/" + repo + "/manifests/" + m.digest
	how := "by digest"
	if len(tags) > 0 && tags[0] != "" {
		path = "/v2/" + repo + "/manifests/" + tags[0]
		how = "by tag " + tags[0]
	}
	if len(tags) > 1 {
		q := make([]string, 0, len(tags)-1)
		for _, t := range tags[1:] {
			q = append(q, "tag="+t)
		}
		path += "?" + strings.Join(q, "&")
		how += " with tags " + strings.Join(tags[1:], ",")
	}
	done := map[crashKey]crashFact{crashManifestKey(repo, m.digest): {present: true, man: m}}
	for _, t := range tags {
		if t != "" {
			done[crashTagKey(repo, t)] = crashFact{present: true, digest: m.digest}
		}
	}
	what := fmt.Sprintf("push of %s %s to %s %s", m.mediaType, m.digest, repo, how)
	p.attempt(what, crashOutcome{"pushed", done})
	a, err := p.send("PUT", path, map[string]string{"Content-Type": m.mediaType}, m.body, false)
	if err != nil {
		return err
	}
	if a.status != http.StatusCreated || a.header.Get("Docker-Content-Digest") != m.digest {
		return p.refused(what, a, "201 with Docker-Content-Digest "+m.digest)
	}
	p.ack(done, true)
	p.stats.manifests++
	return nil
}

// pushIndex pushes an index listing images of the repository.
func (p *crashPusher) pushIndex(repo string) error {
	images := p.keys(crashKindManifest, repo, func(f crashFact) bool { return f.present && !f.man.isIndex() })
	if len(images) == 0 {
		return p.pushImage(repo)
	}
	mediaType := crashOCIIndex
	if p.rng.IntN(4) == 0 {
		mediaType = crashDockerList
	}
	idx := crashIndex{SchemaVersion: 2, MediaType: mediaType}
	var children []string
	for i, j := range p.rng.Perm(len(images))[:1+p.rng.IntN(min(3, len(images)))] {
		child := p.model[images[j]].man
		children = append(children, child.digest)
		idx.Manifests = append(idx.Manifests, crashDescriptor{MediaType: child.mediaType, Digest: child.digest, Size: int64(len(child.body)),
			Platform: &crashPlatform{Architecture: []string{"amd64", "arm64", "s390x"}[i], OS: "linux"}})
	}
	if mediaType == crashOCIIndex {
		idx.Annotations = map[string]string{"org.ecrd.crash-test.nonce": strconv.FormatUint(p.rng.Uint64(), 16)}
	}
	body := p.marshal(idx)
	m := &crashManifest{digest: crashDigest(body), mediaType: mediaType, body: body, children: children}
	return p.putManifest(repo, m, []string{crashPick(p.rng, crashTags)})
}

// retag pushes the bytes of a manifest again, present or deleted, by tag.
func (p *crashPusher) retag(repo string) error {
	candidates := p.keys(crashKindManifest, repo, func(f crashFact) bool {
		if f.man == nil {
			return false
		}
		if f.present {
			return true
		}
		if f.man.isIndex() {
			return false // its children may be gone
		}
		for _, b := range f.man.blobs {
			if !p.model[crashBlobKey(repo, b.digest)].present {
				return false
			}
		}
		return true
	})
	if len(candidates) == 0 {
		return p.pushImage(repo)
	}
	return p.putManifest(repo, p.model[crashPick(p.rng, candidates)].man, []string{crashPick(p.rng, crashTags)})
}

func (p *crashPusher) deleteTag(repo string) error {
	tags := p.keys(crashKindTag, repo, crashIsPresent)
	if len(tags) == 0 {
		return p.pushImage(repo)
	}
	k := crashPick(p.rng, tags)
	what := fmt.Sprintf("deletion of tag %s:%s (pointing to %s)", repo, k.name, p.model[k].digest)
	done := map[crashKey]crashFact{k: {}}
	p.attempt(what, crashOutcome{"deleted", done})
	a, err := p.send("DELETE", "/v2/"+repo+"/manifests/"+k.name, nil, nil, false)
	if err != nil {
		return err
	}
	if a.status != http.StatusAccepted {
		return p.refused(what, a, "202")
	}
	p.ack(done, true)
	p.stats.deletes++
	return nil
}

// deleteManifest deletes a manifest no index of the repository lists, and
// with it the tags pointing to it.
func (p *crashPusher) deleteManifest(repo string) error {
	listed := map[string]bool{}
	for _, k := range p.keys(crashKindManifest, repo, crashIsPresent) {
		for _, c := range p.model[k].man.children {
			listed[c] = true
		}
	}
	candidates := p.keys(crashKindManifest, repo, func(f crashFact) bool { return f.present && !listed[f.man.digest] })
	if len(candidates) == 0 {
		return p.pushImage(repo)
	}
	k := crashPick(p.rng, candidates)
	m := p.model[k].man
	done := map[crashKey]crashFact{k: {man: m}}
	for _, tk := range p.keys(crashKindTag, repo, func(f crashFact) bool { return f.present && f.digest == m.digest }) {
		done[tk] = crashFact{}
	}
	what := fmt.Sprintf("deletion of manifest %s@%s (%d tags pointing to it)", repo, m.digest, len(done)-1)
	p.attempt(what, crashOutcome{"deleted", done})
	a, err := p.send("DELETE", "/v2/"+repo+"/manifests/"+m.digest, nil, nil, false)
	if err != nil {
		return err
	}
	if a.status != http.StatusAccepted {
		return p.refused(what, a, "202")
	}
	p.ack(done, true)
	p.stats.deletes++
	return nil
}

// Ways to send a blob.
const (
	crashMonolithic = iota // POST ?digest= with the content
	crashPutWhole          // POST, then PUT ?digest= with the content
	crashChunked           // POST, PATCHes with Content-Range, PUT (maybe with the last chunk)
	crashStreamed          // POST, PATCHes without length or Content-Range, PUT
	crashStyles
)

var crashStyleNames = [crashStyles]string{"monolithic", "POST+PUT", "chunked", "streamed"}

// pushBlob pushes b to repo in a random style.
func (p *crashPusher) pushBlob(repo string, b crashBlob) error {
	style := p.rng.IntN(crashStyles)
	if b.size == 1 {
		// An upload holding 0 or 1 byte answers the same Range (0-0): an
		// unanswered 1-byte chunk would leave the upload's size unknown.
		style = crashMonolithic
	}
	if style == crashMonolithic {
		what := fmt.Sprintf("monolithic push of blob %s (%d bytes) to %s", b.digest, b.size, repo)
		done := map[crashKey]crashFact{crashBlobKey(repo, b.digest): {present: true, blob: b}}
		p.attempt(what, crashOutcome{"pushed", done})
		a, err := p.send("POST", "/v2/"+repo+"/blobs/uploads/?digest="+b.digest, map[string]string{"Content-Type": crashOctets}, b.bytes(), false)
		if err != nil {
			return err
		}
		if a.status != http.StatusCreated || a.header.Get("Docker-Content-Digest") != b.digest ||
			a.header.Get("Location") != "/v2/"+repo+"/blobs/"+b.digest {
			return p.refused(what, a, "201 with the digest and blob location")
		}
		p.ack(done, true)
		p.stats.blobs++
		p.stats.blobBytes += int(b.size)
		return nil
	}
	k, err := p.startUpload(repo, b)
	if err != nil {
		return err
	}
	return p.finishUpload(k, style)
}

func (p *crashPusher) mountBlob(repo, from string, b crashBlob) error {
	what := fmt.Sprintf("mount of blob %s (%d bytes) from %s into %s", b.digest, b.size, from, repo)
	done := map[crashKey]crashFact{crashBlobKey(repo, b.digest): {present: true, blob: b}}
	p.attempt(what, crashOutcome{"mounted", done})
	a, err := p.send("POST", "/v2/"+repo+"/blobs/uploads/?mount="+b.digest+"&from="+from, nil, nil, false)
	if err != nil {
		return err
	}
	if a.status != http.StatusCreated || a.header.Get("Docker-Content-Digest") != b.digest {
		return p.refused(what, a, "201 with the digest")
	}
	p.ack(done, true)
	return nil
}

// startUpload opens an upload session for b.
func (p *crashPusher) startUpload(repo string, b crashBlob) (crashKey, error) {
	what := fmt.Sprintf("POST opening an upload in %s (for blob %s, %d bytes)", repo, b.digest, b.size)
	p.pending = &crashPending{desc: what, outcomes: []crashOutcome{{"not done", nil}}, upload: &b, uploadRepo: repo}
	a, err := p.send("POST", "/v2/"+repo+"/blobs/uploads/", nil, nil, false)
	if err != nil {
		return crashKey{}, err
	}
	id := a.header.Get("Docker-Upload-UUID")
	if a.status != http.StatusAccepted || id == "" || a.header.Get("Location") != "/v2/"+repo+"/blobs/uploads/"+id || a.header.Get("Range") != "0-0" {
		return crashKey{}, p.refused(what, a, "202 with an upload ID, its Location and Range 0-0")
	}
	k := crashUploadKey(repo, id)
	p.ack(map[crashKey]crashFact{k: {present: true, blob: b}}, true)
	p.stats.uploads++
	return k, nil
}

// chunk picks the length of the next chunk of an upload holding size of
// want bytes: at least 2 bytes at the start (see pushBlob).
func (p *crashPusher) chunk(size, remaining int64) int64 {
	lo := int64(1)
	if size == 0 {
		lo = 2
	}
	if remaining <= lo {
		return remaining
	}
	return lo + p.rng.Int64N(remaining-lo+1)
}

// patch appends n bytes of the upload's blob.
func (p *crashPusher) patch(k crashKey, n int64, streamed bool) error {
	f := p.model[k]
	start := f.size
	hdr := map[string]string{"Content-Type": crashOctets}
	how := "streamed PATCH"
	if !streamed {
		hdr["Content-Range"] = fmt.Sprintf("%d-%d", start, start+n-1)
		how = "PATCH " + hdr["Content-Range"]
	}
	what := fmt.Sprintf("%s (%d bytes) of blob %s to upload %s in %s", how, n, f.blob.digest, k.name, k.repo)
	after := f
	after.size = start + n
	done := map[crashKey]crashFact{k: after}
	p.attempt(what, crashOutcome{"chunk stored", done})
	a, err := p.send("PATCH", "/v2/"+k.repo+"/blobs/uploads/"+k.name, hdr, f.blob.bytes()[start:start+n], streamed)
	if err != nil {
		return err
	}
	if a.status != http.StatusAccepted || a.header.Get("Range") != crashRange(start+n) {
		return p.refused(what, a, "202 with Range "+crashRange(start+n))
	}
	p.ack(done, true)
	return nil
}

// finishUpload sends the rest of an upload in a style and finishes it.
func (p *crashPusher) finishUpload(k crashKey, style int) error {
	b := p.model[k].blob
	switch style {
	case crashChunked:
		for p.model[k].size < b.size && p.rng.IntN(4) != 0 {
			f := p.model[k]
			if err := p.patch(k, p.chunk(f.size, b.size-f.size), false); err != nil {
				return err
			}
		}
	case crashStreamed:
		for p.model[k].size < b.size {
			f := p.model[k]
			n := b.size - f.size
			if p.rng.IntN(2) == 0 {
				n = p.chunk(f.size, n)
			}
			if err := p.patch(k, n, true); err != nil {
				return err
			}
		}
	}
	f := p.model[k]
	tail := b.bytes()[f.size:]
	hdr := map[string]string{"Content-Type": crashOctets}
	how := fmt.Sprintf("PUT with %d bytes", len(tail))
	if len(tail) > 0 && (f.size > 0 || p.rng.IntN(2) == 0) {
		hdr["Content-Range"] = fmt.Sprintf("%d-%d", f.size, b.size-1)
		how += " and Content-Range " + hdr["Content-Range"]
	}
	what := fmt.Sprintf("%s finishing upload %s (%s, %d of %d bytes stored) as blob %s in %s",
		how, k.name, crashStyleNames[style], f.size, b.size, b.digest, k.repo)
	bk := crashBlobKey(k.repo, b.digest)
	done := map[crashKey]crashFact{k: {}, bk: {present: true, blob: b}}
	var alts []crashOutcome
	if len(tail) > 0 {
		stored := f
		stored.size = b.size
		alts = append(alts, crashOutcome{"last chunk stored, not finished", map[crashKey]crashFact{k: stored}})
	}
	alts = append(alts,
		crashOutcome{"finished", done},
		// The blob was moved into place but not linked: recovery drops the
		// session, whose bytes are gone.
		crashOutcome{"moved into place, not linked", map[crashKey]crashFact{k: {}}})
	p.attempt(what, alts...)
	var body []byte
	if len(tail) > 0 {
		body = tail
	}
	a, err := p.send("PUT", "/v2/"+k.repo+"/blobs/uploads/"+k.name+"?digest="+b.digest, hdr, body, false)
	if err != nil {
		return err
	}
	if a.status != http.StatusCreated || a.header.Get("Docker-Content-Digest") != b.digest ||
		a.header.Get("Location") != "/v2/"+k.repo+"/blobs/"+b.digest {
		return p.refused(what, a, "201 with the digest and blob location")
	}
	p.ack(done, true)
	p.stats.blobs++
	p.stats.blobBytes += int(b.size)
	return nil
}

// openUpload opens an upload, sends part of a blob and leaves it open.
func (p *crashPusher) openUpload(repo string) error {
	if len(p.keys(crashKindUpload, "", crashIsPresent)) >= crashMaxOpenUploads {
		return p.advanceUpload()
	}
	b := crashRandomBlob(p.rng.Uint64(), 3+p.rng.Int64N(2<<20))
	k, err := p.startUpload(repo, b)
	if err != nil {
		return err
	}
	return p.patch(k, 2+p.rng.Int64N(b.size-2), p.rng.IntN(2) == 0)
}

// advanceUpload continues an open upload: one more chunk, the rest and
// the PUT, or a cancel.
func (p *crashPusher) advanceUpload() error {
	open := p.keys(crashKindUpload, "", crashIsPresent)
	if len(open) == 0 {
		return p.openUpload(crashPick(p.rng, p.repos))
	}
	k := crashPick(p.rng, open)
	f := p.model[k]
	switch r := p.rng.IntN(10); {
	case r == 0:
		what := fmt.Sprintf("cancel of upload %s in %s", k.name, k.repo)
		done := map[crashKey]crashFact{k: {}}
		p.attempt(what, crashOutcome{"cancelled", done})
		a, err := p.send("DELETE", "/v2/"+k.repo+"/blobs/uploads/"+k.name, nil, nil, false)
		if err != nil {
			return err
		}
		if a.status != http.StatusNoContent {
			return p.refused(what, a, "204")
		}
		p.ack(done, true)
		return nil
	case r < 4 && f.blob.size-f.size > 2:
		n := p.chunk(f.size, f.blob.size-f.size-1) // leave at least a byte
		return p.patch(k, n, p.rng.IntN(2) == 0)
	}
	return p.finishUpload(k, crashPutWhole+p.rng.IntN(crashStyles-crashPutWhole))
}

// crashTest is the state of the whole test.
type crashTest struct {
	t       *testing.T
	data    string            // the data folder, or "" for a cluster
	cluster *ecrdtest.Cluster // the replicas on shared stores, or nil
	pushers []*crashPusher
	hashed  map[string]crashStamp // blob files already hashed
	nerr    atomic.Int32
}

type crashStamp struct {
	size    int64
	modTime time.Time
}

func crashClient(password string) *http.Client {
	return &http.Client{
		Transport: authTransport{Password: password,
			Base: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2 * crashPushers, DisableCompression: true}},
		Timeout: 2 * time.Minute,
	}
}

func (ct *crashTest) failNow() {
	if ct.t.Failed() {
		ct.t.FailNow()
	}
}

// crashCycle lets the pushers work for delay, kills ecrd and waits for the
// pushers to notice.
func (ct *crashTest) crashCycle(e *ecrd, it int, delay time.Duration) {
	client := crashClient(e.Password(ct.t))
	defer client.CloseIdleConnections()
	var stop atomic.Bool
	var inFlight atomic.Int32
	var wg sync.WaitGroup
	label := fmt.Sprintf("before crash %d", it)
	for _, p := range ct.pushers {
		p.base, p.client, p.label, p.inFlight, p.stats = ct.base(p, e), client, label, &inFlight, crashStats{}
		wg.Go(func() {
			if err := p.run(&stop, 0); err != nil && !errors.Is(err, errCrashNoAnswer) && !errors.Is(err, errCrashRefused) {
				ct.t.Errorf("%s: pusher %d: %v", label, p.id, err)
			}
		})
	}
	time.Sleep(delay)
	cut := inFlight.Load()
	e.Kill()
	stop.Store(true)
	wg.Wait()
	ct.checkErrorLogs(e, label)
	if ct.cluster != nil {
		for _, r := range ct.cluster.Replicas {
			ct.checkErrorLogs(r, label)
		}
	}

	var total crashStats
	unanswered := 0
	for _, p := range ct.pushers {
		total.add(p.stats)
		if p.pending != nil {
			unanswered++
		}
	}
	ct.t.Logf("crash %d: SIGKILL after %v with %d requests in flight; acknowledged %d blobs (%.1f MiB), %d manifests, %d deletions, %d uploads opened",
		it, delay.Round(time.Millisecond), cut, total.blobs, float64(total.blobBytes)/(1<<20), total.manifests, total.deletes, total.uploads)
	ct.failNow()
}

// base is where pusher p sends its requests while e is the server to be
// killed: e, or with replicas the one of p's turn, so that the victim
// dies with the requests of some pushers in flight while the others
// are answered.
func (ct *crashTest) base(p *crashPusher, e *ecrd) string {
	if ct.cluster == nil {
		return e.URL()
	}
	rs := ct.cluster.Replicas
	return rs[p.id%len(rs)].URL()
}

// cleanCycle runs a fixed number of operations per pusher; every request
// must be answered.
func (ct *crashTest) cleanCycle(e *ecrd, label string) {
	client := crashClient(e.Password(ct.t))
	defer client.CloseIdleConnections()
	var inFlight atomic.Int32
	var wg sync.WaitGroup
	for _, p := range ct.pushers {
		p.base, p.client, p.label, p.inFlight, p.stats = e.URL(), client, label, &inFlight, crashStats{}
		wg.Go(func() {
			if err := p.run(nil, crashCleanOps); err != nil && !errors.Is(err, errCrashRefused) {
				ct.t.Errorf("%s: pusher %d: %v (%s)", label, p.id, err, p.pending.desc)
			}
		})
	}
	wg.Wait()
	var total crashStats
	for _, p := range ct.pushers {
		total.add(p.stats)
	}
	ct.t.Logf("%s: acknowledged %d blobs (%.1f MiB), %d manifests, %d deletions, %d uploads opened",
		label, total.blobs, float64(total.blobBytes)/(1<<20), total.manifests, total.deletes, total.uploads)
	ct.failNow()
}

// finishUploads finishes every upload left open.
func (ct *crashTest) finishUploads(e *ecrd) {
	client := crashClient(e.Password(ct.t))
	defer client.CloseIdleConnections()
	var inFlight atomic.Int32
	var wg sync.WaitGroup
	n := 0
	for _, p := range ct.pushers {
		p.base, p.client, p.label, p.inFlight = e.URL(), client, "finishing the open uploads", &inFlight
		open := p.keys(crashKindUpload, "", crashIsPresent)
		n += len(open)
		wg.Go(func() {
			for _, k := range open {
				if err := p.finishUpload(k, crashPutWhole+p.rng.IntN(crashStyles-crashPutWhole)); err != nil {
					if !errors.Is(err, errCrashRefused) {
						ct.t.Errorf("%s: pusher %d: %v", p.label, p.id, err)
					}
					return
				}
			}
		})
	}
	wg.Wait()
	ct.t.Logf("finished %d uploads left open", n)
	ct.failNow()
}

func (ct *crashTest) checkErrorLogs(e *ecrd, label string) {
	for _, l := range e.ErrorLogs() {
		ct.t.Errorf("%s: ecrd logged an error: %v", label, l)
	}
}

// crashCheck is one verification pass against a running ecrd.
type crashCheck struct {
	ct     *crashTest
	label  string
	base   string
	client *http.Client
	full   bool // re-read every blob, not only those not read since acknowledged

	mu      sync.Mutex
	counts  map[crashKind]int
	outcome []string
}

func (c *crashCheck) errorf(format string, args ...any) {
	n := c.ct.nerr.Add(1)
	switch {
	case n < crashMaxErrors:
		c.ct.t.Errorf(c.label+": "+format, args...)
	case n == crashMaxErrors:
		c.ct.t.Errorf("%s: too many failures; the rest are not shown", c.label)
	}
}

// get makes a request and reads up to 16 MiB of the answer.
func (c *crashCheck) get(method, path string, accept string) (*crashAnswer, error) {
	req, err := http.NewRequest(method, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	a := &crashAnswer{status: resp.StatusCode, header: resp.Header}
	if a.body, err = io.ReadAll(io.LimitReader(resp.Body, 16<<20)); err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %v", method, path, err)
	}
	return a, nil
}

var crashAcceptManifests = strings.Join([]string{crashOCIManifest, crashOCIIndex, crashDockerManifest, crashDockerList}, ", ")

// observe reads the state of a key from ecrd.
func (c *crashCheck) observe(k crashKey) (crashFact, error) {
	var path, method, accept string
	switch k.kind {
	case crashKindBlob:
		method, path = "HEAD", "/v2/"+k.repo+"/blobs/"+k.name
	case crashKindManifest, crashKindTag:
		method, path, accept = "GET", "/v2/"+k.repo+"/manifests/"+k.name, crashAcceptManifests
	case crashKindUpload:
		method, path = "GET", "/v2/"+k.repo+"/blobs/uploads/"+k.name
	}
	a, err := c.get(method, path, accept)
	if err != nil {
		return crashFact{}, err
	}
	want := http.StatusOK
	if k.kind == crashKindUpload {
		want = http.StatusNoContent
	}
	switch a.status {
	case http.StatusNotFound:
		return crashFact{}, nil
	case want:
	default:
		return crashFact{}, fmt.Errorf("%s %s answered %d %s, want %d or 404", method, path, a.status, crashSnippet(a.body), want)
	}
	f := crashFact{present: true}
	dcd := a.header.Get("Docker-Content-Digest")
	switch k.kind {
	case crashKindBlob:
		if dcd != k.name {
			return f, fmt.Errorf("HEAD %s answered Docker-Content-Digest %q", path, dcd)
		}
		f.blob.size, err = strconv.ParseInt(a.header.Get("Content-Length"), 10, 64)
		if err != nil {
			return f, fmt.Errorf("HEAD %s answered Content-Length %q", path, a.header.Get("Content-Length"))
		}
	case crashKindManifest:
		f.man = &crashManifest{digest: dcd, mediaType: a.header.Get("Content-Type"), body: a.body}
	case crashKindTag:
		if got := crashDigest(a.body); got != dcd {
			return f, fmt.Errorf("GET %s answered Docker-Content-Digest %s with a body whose digest is %s", path, dcd, got)
		}
		f.digest = dcd
	case crashKindUpload:
		f.rangeHdr = a.header.Get("Range")
	}
	return f, nil
}

// crashSettle bounds how long a replica may answer from its cache after
// another replica changed what it cached: the outbox reaches every
// replica within milliseconds, or its poll (200 ms) if the notification
// is lost (docs/scale-out.md); ten polls is a bound that only a change
// that is lost, or never reaches the replica, exceeds.
const crashSettle = 2 * time.Second

// settle looks at k again through the checking replica, for a mismatch
// on replicas, until it shows what was acknowledged or crashSettle has
// passed, and says how long it took.
func (c *crashCheck) settle(k crashKey, want crashFact) (time.Duration, bool) {
	if c.ct.cluster == nil {
		return 0, false
	}
	start := time.Now()
	for time.Since(start) < crashSettle {
		time.Sleep(50 * time.Millisecond)
		if got, err := c.observe(k); err == nil && crashDiffers(k, want, got) == "" {
			return time.Since(start), true
		}
	}
	return 0, false
}

// elsewhere says, for a mismatch on replicas, what every replica shows
// of k now and what the checking one shows a second later: a replica
// answering from a cache that the change had not reached yet, and a
// change that was lost, read differently.
func (c *crashCheck) elsewhere(k crashKey) string {
	if c.ct.cluster == nil {
		return ""
	}
	var b strings.Builder
	for i, r := range c.ct.cluster.Replicas {
		other := &crashCheck{ct: c.ct, label: c.label, base: r.URL(), client: c.client}
		f, err := other.observe(k)
		fmt.Fprintf(&b, "; replica %d (%s) shows %s", i, r.Addr, describeObserved(k, f, err))
	}
	time.Sleep(time.Second)
	f, err := c.observe(k)
	fmt.Fprintf(&b, "; a second later the checking replica shows %s", describeObserved(k, f, err))
	return b.String()
}

func describeObserved(k crashKey, f crashFact, err error) string {
	if err != nil {
		return err.Error()
	}
	return f.describe(k)
}

// verify checks everything the pushers were promised, resolves what their
// unanswered requests did, and checks the data folder.
func (ct *crashTest) verify(e *ecrd, label string, full bool) {
	start := time.Now()
	c := &crashCheck{ct: ct, label: label, base: e.URL(), client: crashClient(e.Password(ct.t)), full: full, counts: map[crashKind]int{}}
	defer c.client.CloseIdleConnections()
	var wg sync.WaitGroup
	for _, p := range ct.pushers {
		wg.Go(func() { c.verifyPusher(p) })
	}
	wg.Wait()
	var files int
	if ct.cluster == nil {
		c.checkUploads()
		files = c.checkBlobFiles()
	} else {
		files = c.checkBlobObjects()
	}
	for _, l := range e.ErrorLogs() {
		c.errorf("ecrd logged an error: %v", l)
	}
	slices.Sort(c.outcome)
	ct.t.Logf("%s: checked in %v: %d blobs, %d manifests, %d tags, %d open uploads, %d blob files; %d unanswered requests%s",
		label, time.Since(start).Round(time.Millisecond), c.counts[crashKindBlob], c.counts[crashKindManifest], c.counts[crashKindTag],
		c.counts[crashKindUpload], files, len(c.outcome), strings.Join(append([]string{""}, c.outcome...), "\n\t"))
	ct.failNow()
}

func (c *crashCheck) verifyPusher(p *crashPusher) {
	affected := map[crashKey]bool{}
	if p.pending != nil {
		for k := range p.pending.outcomes[0].facts {
			affected[k] = true
		}
	}
	counts := map[crashKind]int{}
	keys := slices.SortedFunc(maps.Keys(p.model), func(a, b crashKey) int {
		return strings.Compare(a.String(), b.String())
	})
	for _, k := range keys {
		if affected[k] {
			continue
		}
		want := p.model[k]
		got, err := c.observe(k)
		if err != nil {
			c.errorf("%s (acknowledged %s): %v", k, want.describe(k), err)
			continue
		}
		if d := crashDiffers(k, want, got); d != "" {
			if waited, ok := c.settle(k, want); ok {
				c.ct.t.Logf("%s: %s: the checking replica answered from its cache for %v after another replica's change (%s)", c.label, k, waited.Round(time.Millisecond), d)
			} else {
				c.errorf("%s: acknowledged as %s, but %s%s", k, want.describe(k), d, c.elsewhere(k))
			}
		}
		if want.present {
			counts[k.kind]++
		}
	}

	if p.pending != nil && len(affected) > 0 {
		c.resolve(p)
	}

	// Blob contents: those not read back since acknowledged, or all.
	for _, k := range p.keys(crashKindBlob, "", crashIsPresent) {
		if c.full || !p.checked[k] {
			if c.checkBlobContent(k, p.model[k].blob) {
				p.checked[k] = true
			}
		}
	}
	for _, repo := range p.repos {
		c.checkRepo(p, repo)
	}
	c.mu.Lock()
	for kind, n := range counts {
		c.counts[kind] += n
	}
	c.mu.Unlock()
}

// resolve finds which outcome of the pusher's unanswered request ecrd shows.
func (c *crashCheck) resolve(p *crashPusher) {
	op := p.pending
	p.pending = nil
	keys := slices.SortedFunc(maps.Keys(op.outcomes[0].facts), func(a, b crashKey) int {
		return strings.Compare(a.String(), b.String())
	})
	observed := map[crashKey]crashFact{}
	for _, k := range keys {
		got, err := c.observe(k)
		if err != nil {
			c.errorf("pusher %d's unanswered %s: %s: %v", p.id, op.desc, k, err)
			return
		}
		observed[k] = got
	}
	for _, o := range op.outcomes {
		ok := true
		for _, k := range keys {
			if crashDiffers(k, o.facts[k], observed[k]) != "" {
				ok = false
				break
			}
		}
		if ok {
			p.ack(o.facts, false)
			c.mu.Lock()
			c.outcome = append(c.outcome, fmt.Sprintf("pusher %d: %s: %s", p.id, op.desc, o.name))
			c.mu.Unlock()
			return
		}
	}
	var found, possible []string
	for _, k := range keys {
		found = append(found, fmt.Sprintf("%s %s", k, observed[k].describe(k)))
	}
	for _, o := range op.outcomes {
		var s []string
		for _, k := range keys {
			s = append(s, o.facts[k].describe(k))
		}
		possible = append(possible, fmt.Sprintf("%s (%s)", o.name, strings.Join(s, ", ")))
	}
	c.errorf("pusher %d's unanswered %s left a state that is none of its possible outcomes: found %s; possible: %s",
		p.id, op.desc, strings.Join(found, ", "), strings.Join(possible, " | "))
}

// checkBlobContent reads a blob back and checks its length and digest.
func (c *crashCheck) checkBlobContent(k crashKey, b crashBlob) bool {
	path := "/v2/" + k.repo + "/blobs/" + k.name
	resp, err := c.client.Get(c.base + path)
	if err != nil {
		c.errorf("%s: GET: %v", k, err)
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		c.errorf("%s (acknowledged, %d bytes): GET answered %d %s", k, b.size, resp.StatusCode, crashSnippet(body))
		return false
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	got := "sha256:" + hex.EncodeToString(h.Sum(nil))
	switch {
	case err != nil:
		c.errorf("%s: GET: reading the content: %v after %d bytes", k, err, n)
	case n != b.size || got != b.digest:
		c.errorf("%s (acknowledged, %d bytes): GET returned %d bytes with digest %s", k, b.size, n, got)
	default:
		return true
	}
	return false
}

// checkRepo compares tags/list with the acknowledged tags and checks that
// every manifest reachable by tag parses and finds what it references.
func (c *crashCheck) checkRepo(p *crashPusher, repo string) {
	var want []string
	for _, k := range p.keys(crashKindTag, repo, crashIsPresent) {
		want = append(want, k.name)
	}
	a, err := c.get("GET", "/v2/"+repo+"/tags/list", "")
	if err != nil {
		c.errorf("tags of %s: %v", repo, err)
		return
	}
	if a.status == http.StatusNotFound && !p.created[repo] {
		return // no write to it was ever acknowledged
	}
	var list struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if a.status != http.StatusOK {
		c.errorf("GET /v2/%s/tags/list answered %d %s", repo, a.status, crashSnippet(a.body))
		return
	}
	if err := json.Unmarshal(a.body, &list); err != nil || list.Name != repo {
		c.errorf("GET /v2/%s/tags/list answered %q (%v)", repo, crashSnippet(a.body), err)
		return
	}
	got := slices.Sorted(slices.Values(list.Tags))
	if !slices.Equal(got, want) {
		c.errorf("tags/list of %s lists %v; the acknowledged tags are %v", repo, got, want)
	}
	for _, tag := range got {
		c.checkReachable(repo, tag)
	}
}

func (c *crashCheck) checkReachable(repo, tag string) {
	a, err := c.get("GET", "/v2/"+repo+"/manifests/"+tag, crashAcceptManifests)
	if err != nil {
		c.errorf("tag %s:%s: %v", repo, tag, err)
		return
	}
	if a.status != http.StatusOK {
		c.errorf("tag %s:%s is listed, but GET by tag answers %d %s", repo, tag, a.status, crashSnippet(a.body))
		return
	}
	var m struct {
		Config    *crashDescriptor  `json:"config"`
		Layers    []crashDescriptor `json:"layers"`
		Manifests []crashDescriptor `json:"manifests"`
	}
	if err := json.Unmarshal(a.body, &m); err != nil {
		c.errorf("tag %s:%s: the manifest (%d bytes) does not parse: %v", repo, tag, len(a.body), err)
		return
	}
	blobs := m.Layers
	if m.Config != nil {
		blobs = append(blobs, *m.Config)
	}
	for _, d := range blobs {
		b, err := c.get("HEAD", "/v2/"+repo+"/blobs/"+d.Digest, "")
		if err != nil || b.status != http.StatusOK || b.header.Get("Content-Length") != strconv.FormatInt(d.Size, 10) {
			c.errorf("tag %s:%s references blob %s (%d bytes), but HEAD answers %v", repo, tag, d.Digest, d.Size, crashStatus(b, err))
		}
	}
	for _, d := range m.Manifests {
		b, err := c.get("HEAD", "/v2/"+repo+"/manifests/"+d.Digest, crashAcceptManifests)
		if err != nil || b.status != http.StatusOK {
			c.errorf("tag %s:%s lists manifest %s, but HEAD answers %v", repo, tag, d.Digest, crashStatus(b, err))
		}
	}
}

func crashStatus(a *crashAnswer, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%d (Content-Length %s)", a.status, a.header.Get("Content-Length"))
}

// checkUploads compares uploads/ with the upload sessions: each file must
// belong to an open session (one acknowledged, or one an unanswered POST
// opened), and each acknowledged session must have its file.
func (c *crashCheck) checkUploads() {
	files, err := crashUploadFiles(c.ct.data)
	if err != nil {
		c.errorf("%v", err)
		return
	}
	owned := map[string]crashKey{}
	for _, p := range c.ct.pushers {
		for _, k := range p.keys(crashKindUpload, "", crashIsPresent) {
			owned[k.name] = k
		}
	}
	for _, id := range files {
		if _, ok := owned[id]; ok {
			continue
		}
		if c.adopt(id) {
			continue
		}
		c.errorf("uploads/%s belongs to no upload session: recovery should have removed it", id)
	}
	for id, k := range owned {
		if !slices.Contains(files, id) {
			c.errorf("%s is open, but uploads/%s is missing: recovery should have removed the session", k, id)
		}
	}
	for _, p := range c.ct.pushers {
		if p.pending != nil && p.pending.upload != nil {
			c.outcome = append(c.outcome, fmt.Sprintf("pusher %d: %s: no session", p.id, p.pending.desc))
			p.pending = nil
		}
	}
}

// adopt gives upload id to the pusher whose unanswered POST opened it.
func (c *crashCheck) adopt(id string) bool {
	for _, p := range c.ct.pushers {
		op := p.pending
		if op == nil || op.upload == nil {
			continue
		}
		k := crashUploadKey(op.uploadRepo, id)
		got, err := c.observe(k)
		if err != nil {
			c.errorf("%s: %v", k, err)
			continue
		}
		if !got.present {
			continue
		}
		if got.rangeHdr != "0-0" {
			c.errorf("%s, opened by pusher %d's unanswered %s, answers Range %s; want 0-0", k, p.id, op.desc, got.rangeHdr)
		}
		p.ack(map[crashKey]crashFact{k: {present: true, blob: *op.upload}}, false)
		c.outcome = append(c.outcome, fmt.Sprintf("pusher %d: %s: opened %s", p.id, op.desc, id))
		return true
	}
	return false
}

func crashUploadFiles(data string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(data, "uploads"))
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Name())
	}
	return ids, nil
}

// checkUploadsStopped checks, with ecrd stopped, that uploads/ holds exactly
// the open upload sessions.
func (ct *crashTest) checkUploadsStopped(label string) {
	files, err := crashUploadFiles(ct.data)
	if err != nil {
		ct.t.Fatal(err)
	}
	var want []string
	for _, p := range ct.pushers {
		for _, k := range p.keys(crashKindUpload, "", crashIsPresent) {
			want = append(want, k.name)
		}
	}
	slices.Sort(want)
	slices.Sort(files)
	if !slices.Equal(files, want) {
		ct.t.Errorf("%s: uploads/ holds %v; the open upload sessions are %v", label, files, want)
	}
	ct.t.Logf("%s: uploads/ holds the %d open upload sessions and nothing else", label, len(want))
}

// checkBlobFiles checks that every file under blobs/ is named
// sha256/<xx>/<hex> and holds content with that digest. A file already
// hashed is hashed again only if its size or time changed.
func (c *crashCheck) checkBlobFiles() int {
	root := filepath.Join(c.ct.data, "blobs")
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if d.IsDir() {
			if rel != "." && (parts[0] != "sha256" || len(parts) > 2 || len(parts) == 2 && !crashIsHex(parts[1], 2)) {
				c.errorf("blobs/%s: unexpected directory in the blob store", rel)
				return fs.SkipDir
			}
			return nil
		}
		n++
		if len(parts) != 3 || parts[0] != "sha256" || !crashIsHex(parts[2], 64) || parts[1] != parts[2][:2] || !d.Type().IsRegular() {
			c.errorf("blobs/%s: unexpected file in the blob store (a temporary or half-written file?)", rel)
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		stamp := crashStamp{fi.Size(), fi.ModTime()}
		if c.ct.hashed[path] == stamp {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		size, err := io.Copy(h, f)
		if err != nil {
			return err
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != parts[2] {
			c.errorf("blobs/%s holds %d bytes whose digest is sha256:%s: a blob file's content must match its name", rel, size, got)
			return nil
		}
		c.ct.hashed[path] = stamp
		return nil
	})
	if err != nil {
		c.errorf("walking blobs/: %v", err)
	}
	return n
}

// checkBlobObjects checks that every blob of the cluster's bucket holds
// content with its digest, reading it through the S3 store as the
// replicas do. A blob already hashed is not read again: objects are
// never rewritten in place.
func (c *crashCheck) checkBlobObjects() int {
	st, err := s3store.Open(context.Background(), c.ct.cluster.Blobs)
	if err != nil {
		c.errorf("opening the bucket: %v", err)
		return 0
	}
	defer st.Close()
	n := 0
	err = st.Walk(context.Background(), func(b blobstore.BlobInfo) error {
		n++
		if _, ok := c.ct.hashed[b.Digest.String()]; ok {
			return nil
		}
		rc, err := st.Open(context.Background(), b.Digest)
		if err != nil {
			return err
		}
		defer rc.Close()
		h := sha256.New()
		size, err := io.Copy(h, rc)
		if err != nil {
			return err
		}
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != b.Digest.String() || size != b.Size {
			c.errorf("bucket object of blob %s holds %d bytes whose digest is %s: a blob's content must match its name", b.Digest, size, got)
			return nil
		}
		c.ct.hashed[b.Digest.String()] = crashStamp{size: size}
		return nil
	})
	if err != nil {
		c.errorf("walking the bucket's blobs: %v", err)
	}
	return n
}

func crashIsHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}
