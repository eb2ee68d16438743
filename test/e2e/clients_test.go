package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	imgspec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestCrane drives the crane CLI against ecrd: push, pull, copy, digest,
// ls, tag, manifest and delete of a single image, then a multi-arch index
// and ECR's rule that an index's child cannot be deleted before the index.
func TestCrane(t *testing.T) {
	crane := tool(t, "crane")
	e := startECRD(t, t.TempDir())
	e.Login(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := func(args ...string) string {
		t.Helper()
		return strings.TrimSpace(run(t, ctx, crane, append([]string{"--insecure"}, args...)...))
	}
	cFail := func(args ...string) string {
		t.Helper()
		return runFail(t, ctx, crane, append([]string{"--insecure"}, args...)...)
	}
	dir := t.TempDir()
	repoA, repoB := e.Addr+"/e2e/crane-a", e.Addr+"/e2e/crane-b"

	// A docker-style tarball of a random three-layer image.
	img, err := random.Image(2048, 3)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "src.tar")
	tag, err := name.NewTag(repoA+":v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(src, tag, img); err != nil {
		t.Fatal(err)
	}
	// What crane will push is the image as read back from the tarball.
	local, err := tarball.ImageFromPath(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := mustDigest(t, local)
	wantRaw, err := local.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	if want != mustDigest(t, img) {
		t.Fatalf("the tarball changed the image's digest: %s, built %s", want, mustDigest(t, img))
	}

	// push, digest, manifest
	c("push", src, repoA+":v1")
	if got := c("digest", repoA+":v1"); got != want {
		t.Errorf("crane digest %s:v1 = %q, want %s", repoA, got, want)
	}
	if got := c("manifest", repoA+":v1"); got != string(wantRaw) {
		t.Errorf("crane manifest returned\n%s\nwant the pushed manifest\n%s", got, wantRaw)
	}

	// pull: same digest, config and layers as pushed.
	pulled := filepath.Join(dir, "pulled.tar")
	c("pull", repoA+":v1", pulled)
	got, err := tarball.ImageFromPath(pulled, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := mustDigest(t, got); d != want {
		t.Errorf("pulled image digest %s, want %s", d, want)
	}
	if g, w := layerDigests(t, got), layerDigests(t, img); !slices.Equal(g, w) {
		t.Errorf("pulled layers %v, want %v", g, w)
	}
	gotCfg, _ := got.RawConfigFile()
	wantCfg, _ := img.RawConfigFile()
	if !bytes.Equal(gotCfg, wantCfg) {
		t.Errorf("pulled config differs from the pushed one:\n%s\n%s", gotCfg, wantCfg)
	}

	// tag and ls
	c("tag", repoA+":v1", "v2")
	if got := c("digest", repoA+":v2"); got != want {
		t.Errorf("crane digest %s:v2 = %q, want %s", repoA, got, want)
	}
	if got := lines(c("ls", repoA)); !slices.Equal(got, []string{"v1", "v2"}) {
		t.Errorf("crane ls %s = %q, want [v1 v2]", repoA, got)
	}

	// copy to another repository
	c("copy", repoA+":v1", repoB+":copied")
	if got := c("digest", repoB+":copied"); got != want {
		t.Errorf("crane digest of the copy = %q, want %s", got, want)
	}
	if got := lines(c("ls", repoB)); !slices.Equal(got, []string{"copied"}) {
		t.Errorf("crane ls %s = %q, want [copied]", repoB, got)
	}
	if got := lines(c("catalog", e.Addr)); !slices.Equal(got, []string{"e2e/crane-a", "e2e/crane-b"}) {
		t.Errorf("crane catalog = %q, want [e2e/crane-a e2e/crane-b]", got)
	}

	// delete by digest: the image and both its tags are gone from A only.
	c("delete", repoA+"@"+want)
	out := cFail("pull", repoA+":v1", filepath.Join(dir, "gone.tar"))
	if !strings.Contains(out, "MANIFEST_UNKNOWN") {
		t.Errorf("pulling a deleted image: want MANIFEST_UNKNOWN, got:\n%s", out)
	}
	cFail("manifest", repoA+"@"+want)
	if got := lines(c("ls", repoA)); len(got) != 0 {
		t.Errorf("crane ls %s after deleting the image = %q, want no tags", repoA, got)
	}
	if got := c("digest", repoB+":copied"); got != want {
		t.Errorf("the copy in %s must survive the delete in %s: digest %q", repoB, repoA, got)
	}

	// A multi-arch index pushed with --index from an OCI layout.
	amd := platformImage(t, "amd64", 2, nil)
	arm := platformImage(t, "arm64", 2, nil)
	amdD, armD := mustDigest(t, amd), mustDigest(t, arm)
	layoutDir := filepath.Join(dir, "multi")
	p, err := layout.Write(layoutDir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(amd, layout.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"})); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(arm, layout.WithPlatform(v1.Platform{OS: "linux", Architecture: "arm64"})); err != nil {
		t.Fatal(err)
	}
	li, err := layout.ImageIndexFromPath(layoutDir)
	if err != nil {
		t.Fatal(err)
	}
	idxD := mustDigest(t, li)
	multi := e.Addr + "/e2e/crane-multi"
	c("push", "--index", layoutDir, multi+":multi")

	var im v1.IndexManifest
	raw := c("manifest", multi+":multi")
	if d := sha256Digest([]byte(raw)); d != idxD {
		t.Errorf("crane manifest of the index has digest %s, want %s", d, idxD)
	}
	if err := json.Unmarshal([]byte(raw), &im); err != nil {
		t.Fatalf("crane manifest of the index: %v\n%s", err, raw)
	}
	if im.MediaType != types.OCIImageIndex {
		t.Errorf("index media type %q, want %q", im.MediaType, types.OCIImageIndex)
	}
	var children []string
	for _, m := range im.Manifests {
		plat := ""
		if m.Platform != nil {
			plat = m.Platform.String()
		}
		children = append(children, plat+"="+m.Digest.String())
	}
	if want := []string{"linux/amd64=" + amdD, "linux/arm64=" + armD}; !slices.Equal(children, want) {
		t.Errorf("index children %q, want %q", children, want)
	}
	if got := c("digest", multi+":multi"); got != idxD {
		t.Errorf("crane digest of the index = %q, want %s", got, idxD)
	}
	if got := c("digest", "--platform", "linux/arm64", multi+":multi"); got != armD {
		t.Errorf("crane digest --platform linux/arm64 = %q, want %s", got, armD)
	}
	if got := c("digest", "--platform", "linux/amd64", multi+":multi"); got != amdD {
		t.Errorf("crane digest --platform linux/amd64 = %q, want %s", got, amdD)
	}

	// Copying the index keeps its digest and its children.
	multiCopy := e.Addr + "/e2e/crane-multi-copy"
	c("copy", multi+":multi", multiCopy+":multi")
	if got := c("digest", multiCopy+":multi"); got != idxD {
		t.Errorf("crane digest of the copied index = %q, want %s", got, idxD)
	}
	if got := c("digest", "--platform", "linux/arm64", multiCopy+":multi"); got != armD {
		t.Errorf("crane digest --platform linux/arm64 of the copy = %q, want %s", got, armD)
	}

	// The index still lists the arm64 image: deleting it is refused.
	out = cFail("delete", multi+"@"+armD)
	if !strings.Contains(out, "DENIED") {
		t.Errorf("deleting a child of an index: want DENIED, got:\n%s", out)
	}
	status, code := deleteManifest(t, ctx, e.HTTPClient(t), e.URL()+"/v2/e2e/crane-multi/manifests/"+armD)
	if status != http.StatusConflict || code != "DENIED" {
		t.Errorf("DELETE of a child of an index answered %d %s, want 409 DENIED", status, code)
	}
	if got := c("digest", multi+"@"+armD); got != armD {
		t.Errorf("the refused delete removed the child: digest %q", got)
	}
	c("delete", multi+"@"+idxD)
	cFail("manifest", multi+":multi")
	c("delete", multi+"@"+armD)
	cFail("manifest", multi+"@"+armD)
	if got := c("digest", multi+"@"+amdD); got != amdD {
		t.Errorf("the amd64 image must remain: digest %q", got)
	}
	if got := c("digest", multiCopy+":multi"); got != idxD {
		t.Errorf("the copied index must survive deletes in the source repository: %q", got)
	}

	noServerErrors(t, e)
}

// isolateSkopeo keeps skopeo away from the machine's containers
// configuration: a fresh home, no registry search list, and a signature
// policy that accepts anything. It returns the home and the policy file.
func isolateSkopeo(t *testing.T) (home, policy string) {
	t.Helper()
	home = t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("XDG_RUNTIME_DIR", home)
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, ".local", "share"))
	regConf := filepath.Join(home, "registries.conf")
	writeFile(t, regConf, "unqualified-search-registries = []\n")
	t.Setenv("CONTAINERS_REGISTRIES_CONF", regConf)
	policy = filepath.Join(home, "policy.json")
	writeFile(t, policy, `{"default":[{"type":"insecureAcceptAnything"}]}`)
	return home, policy
}

// TestSkopeo copies an OCI layout image and a multi-arch index into ecrd
// and back out with skopeo, checking that digests and bytes are kept, and
// uses inspect, list-tags and delete.
func TestSkopeo(t *testing.T) {
	skopeo := tool(t, "skopeo")
	e := startECRD(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	home, policy := isolateSkopeo(t)
	e.Login(t)
	regD := filepath.Join(home, "registries.d")
	tmp := filepath.Join(home, "tmp")
	for _, d := range []string{regD, tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := func(args ...string) string {
		t.Helper()
		return run(t, ctx, skopeo, append([]string{"--policy", policy, "--registries.d", regD, "--tmpdir", tmp}, args...)...)
	}
	sFail := func(args ...string) string {
		t.Helper()
		return runFail(t, ctx, skopeo, append([]string{"--policy", policy, "--registries.d", regD, "--tmpdir", tmp}, args...)...)
	}
	dir := t.TempDir()

	// An OCI image with three layers and manifest annotations.
	anns := map[string]string{
		"org.opencontainers.image.source":  "https://example.com/ecrd/e2e",
		"org.opencontainers.image.version": "1.2.3",
	}
	img := platformImage(t, "amd64", 3, anns)
	want := mustDigest(t, img)
	wantRaw, _ := img.RawManifest()
	srcDir := filepath.Join(dir, "src")
	writeLayout(t, srcDir, img, "v1")

	repo := "docker://" + e.Addr + "/e2e/skopeo"
	s("copy", "--preserve-digests", "--dest-tls-verify=false", "oci:"+srcDir+":v1", repo+":v1")

	if got := s("inspect", "--raw", "--tls-verify=false", repo+":v1"); got != string(wantRaw) {
		t.Errorf("skopeo inspect --raw returned\n%s\nwant the manifest of the layout\n%s", got, wantRaw)
	}
	var info skopeoInspect
	if err := json.Unmarshal([]byte(s("inspect", "--tls-verify=false", repo+":v1")), &info); err != nil {
		t.Fatalf("skopeo inspect: %v", err)
	}
	if info.Digest != want {
		t.Errorf("skopeo inspect Digest = %s, want %s", info.Digest, want)
	}
	if info.Name != e.Addr+"/e2e/skopeo" {
		t.Errorf("skopeo inspect Name = %q, want %q", info.Name, e.Addr+"/e2e/skopeo")
	}
	if !slices.Equal(info.RepoTags, []string{"v1"}) {
		t.Errorf("skopeo inspect RepoTags = %q, want [v1]", info.RepoTags)
	}
	if info.Os != "linux" || info.Architecture != "amd64" {
		t.Errorf("skopeo inspect platform %s/%s, want linux/amd64", info.Os, info.Architecture)
	}
	if w := layerDigests(t, img); !slices.Equal(info.Layers, w) {
		t.Errorf("skopeo inspect Layers = %q, want %q", info.Layers, w)
	}

	// A second tag, by copying registry to registry.
	s("copy", "--preserve-digests", "--src-tls-verify=false", "--dest-tls-verify=false", repo+":v1", repo+":v2")
	if got := listTags(t, s("list-tags", "--tls-verify=false", repo)); !slices.Equal(got, []string{"v1", "v2"}) {
		t.Errorf("skopeo list-tags = %q, want [v1 v2]", got)
	}

	// Back out to a new layout: the same manifest, config and layers.
	outDir := filepath.Join(dir, "out")
	s("copy", "--preserve-digests", "--src-tls-verify=false", repo+":v2", "oci:"+outDir+":v2")
	desc := layoutEntry(t, outDir, "v2")
	if desc.Digest.String() != want {
		t.Errorf("the copied-out layout's image has digest %s, want %s", desc.Digest, want)
	}
	for _, d := range append(layerDigests(t, img), want, mustConfigDigest(t, img)) {
		a, err := os.ReadFile(blobPath(srcDir, d))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(blobPath(outDir, d))
		if err != nil {
			t.Errorf("blob %s is missing from the copied-out layout: %v", d, err)
			continue
		}
		if !bytes.Equal(a, b) {
			t.Errorf("blob %s differs after the round trip", d)
		}
	}
	var m v1.Manifest
	raw, _ := os.ReadFile(blobPath(outDir, want))
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range anns {
		if m.Annotations[k] != v {
			t.Errorf("annotation %s = %q after the round trip, want %q", k, m.Annotations[k], v)
		}
	}

	// delete removes the image, so both tags go.
	s("delete", "--tls-verify=false", repo+":v1")
	out := sFail("inspect", "--raw", "--tls-verify=false", repo+":v2")
	if !strings.Contains(out, "manifest unknown") && !strings.Contains(out, "MANIFEST_UNKNOWN") {
		t.Errorf("inspecting a deleted image: want manifest unknown, got:\n%s", out)
	}
	if got := listTags(t, s("list-tags", "--tls-verify=false", repo)); len(got) != 0 {
		t.Errorf("skopeo list-tags after the delete = %q, want none", got)
	}

	// A multi-arch index, in and out with --all.
	amd := platformImage(t, "amd64", 2, nil)
	arm := platformImage(t, "arm64", 2, nil)
	// skopeo 1.9 re-serializes an index with image-spec's types and, told
	// to preserve digests, refuses to change its bytes: build the index
	// with those types so that copying it keeps it byte for byte.
	idxRaw := specIndex(t, amd, arm)
	idxD := sha256Digest(idxRaw)
	multiSrc := filepath.Join(dir, "multi")
	p, err := layout.Write(multiSrc, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for _, child := range []v1.Image{amd, arm} {
		if err := p.WriteImage(child); err != nil {
			t.Fatal(err)
		}
	}
	h, _ := v1.NewHash(idxD)
	if err := p.WriteBlob(h, io.NopCloser(bytes.NewReader(idxRaw))); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendDescriptor(v1.Descriptor{
		MediaType: types.OCIImageIndex, Digest: h, Size: int64(len(idxRaw)),
		Annotations: map[string]string{"org.opencontainers.image.ref.name": "multi"},
	}); err != nil {
		t.Fatal(err)
	}
	multi := "docker://" + e.Addr + "/e2e/skopeo-multi"
	s("copy", "--all", "--preserve-digests", "--dest-tls-verify=false", "oci:"+multiSrc+":multi", multi+":multi")
	if got := s("inspect", "--raw", "--tls-verify=false", multi+":multi"); got != string(idxRaw) {
		t.Errorf("skopeo inspect --raw of the index returned\n%s\nwant\n%s", got, idxRaw)
	}
	for _, child := range []v1.Image{amd, arm} {
		d := mustDigest(t, child)
		r, _ := child.RawManifest()
		if got := s("inspect", "--raw", "--tls-verify=false", multi+"@"+d); got != string(r) {
			t.Errorf("skopeo inspect --raw of child %s returned\n%s\nwant\n%s", d, got, r)
		}
	}
	info = skopeoInspect{}
	if err := json.Unmarshal([]byte(s("--override-os", "linux", "--override-arch", "arm64", "inspect", "--tls-verify=false", multi+":multi")), &info); err != nil {
		t.Fatalf("skopeo inspect of the index: %v", err)
	}
	if info.Digest != idxD || info.Architecture != "arm64" {
		t.Errorf("skopeo inspect of the index for arm64: Digest %s Architecture %s, want %s arm64", info.Digest, info.Architecture, idxD)
	}
	if w := layerDigests(t, arm); !slices.Equal(info.Layers, w) {
		t.Errorf("skopeo inspect of the index for arm64: Layers %q, want %q", info.Layers, w)
	}

	multiOut := filepath.Join(dir, "multi-out")
	s("copy", "--all", "--preserve-digests", "--src-tls-verify=false", multi+":multi", "oci:"+multiOut+":multi")
	if d := layoutEntry(t, multiOut, "multi"); d.Digest.String() != idxD || d.MediaType != types.OCIImageIndex {
		t.Errorf("the copied-out index is %s %s, want %s %s", d.MediaType, d.Digest, types.OCIImageIndex, idxD)
	}
	for _, child := range []v1.Image{amd, arm} {
		d := mustDigest(t, child)
		r, _ := child.RawManifest()
		b, err := os.ReadFile(blobPath(multiOut, d))
		if err != nil || !bytes.Equal(b, r) {
			t.Errorf("child manifest %s not copied out intact (%v)", d, err)
		}
		for _, l := range layerDigests(t, child) {
			if _, err := os.Stat(blobPath(multiOut, l)); err != nil {
				t.Errorf("layer %s of child %s not copied out: %v", l, d, err)
			}
		}
	}
	if got := listTags(t, s("list-tags", "--tls-verify=false", multi)); !slices.Equal(got, []string{"multi"}) {
		t.Errorf("skopeo list-tags of the index repository = %q, want [multi]", got)
	}
	s("delete", "--tls-verify=false", multi+":multi")
	sFail("inspect", "--raw", "--tls-verify=false", multi+"@"+idxD)

	noServerErrors(t, e)
}

// TestOras pushes an artifact with oras, pulls it back, attaches referrers
// and discovers them, and lists repositories and tags.
func TestOras(t *testing.T) {
	oras := tool(t, "oras")
	e := startECRD(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	regConf := e.Login(t)
	o := func(args ...string) string {
		t.Helper()
		return run(t, ctx, oras, append(args, "--plain-http", "--registry-config", regConf)...)
	}

	// oras records the relative file names as titles: work in the source folder.
	src := t.TempDir()
	t.Chdir(src)
	files := map[string][]byte{
		"readme.txt": []byte("ecrd end-to-end artifact\n"),
		"data.bin":   randomBytes(t, 64<<10),
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(src, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(src, "sig.json"), `{"signature":"not really"}`)
	writeFile(t, filepath.Join(src, "sbom.json"), `{"packages":[]}`)
	const (
		bundleType = "application/vnd.ecrd.test.bundle"
		sigType    = "application/vnd.ecrd.test.signature"
		sbomType   = "application/vnd.ecrd.test.sbom"
	)
	ref := e.Addr + "/e2e/oras"
	meta := t.TempDir()

	exported := filepath.Join(meta, "manifest.json")
	o("push", "--artifact-type", bundleType, "--export-manifest", exported, ref+":v1",
		"readme.txt:text/plain", "data.bin:application/octet-stream")
	manifestRaw, err := os.ReadFile(exported)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256Digest(manifestRaw)
	var m v1.Manifest
	if err := json.Unmarshal(manifestRaw, &m); err != nil {
		t.Fatal(err)
	}
	if string(m.ArtifactType) != bundleType || len(m.Layers) != 2 {
		t.Fatalf("oras pushed an unexpected manifest:\n%s", manifestRaw)
	}
	for _, l := range m.Layers {
		title := l.Annotations["org.opencontainers.image.title"]
		if b, ok := files[title]; !ok || l.Digest.String() != sha256Digest(b) {
			t.Errorf("layer %s titled %q does not match a pushed file", l.Digest, title)
		}
	}

	// manifest fetch: the same bytes and digest.
	if got := o("manifest", "fetch", ref+":v1"); got != string(manifestRaw) {
		t.Errorf("oras manifest fetch returned\n%s\nwant\n%s", got, manifestRaw)
	}
	var desc v1.Descriptor
	if err := json.Unmarshal([]byte(o("manifest", "fetch", "--descriptor", ref+":v1")), &desc); err != nil {
		t.Fatal(err)
	}
	if desc.Digest.String() != want || desc.Size != int64(len(manifestRaw)) || desc.MediaType != types.OCIManifestSchema1 {
		t.Errorf("oras manifest fetch --descriptor = %+v, want %s of %d bytes, %s", desc, want, len(manifestRaw), types.OCIManifestSchema1)
	}

	// pull into another folder: the same files, byte for byte.
	pulled := t.TempDir()
	o("pull", "-o", pulled, ref+":v1")
	for n, b := range files {
		got, err := os.ReadFile(filepath.Join(pulled, n))
		if err != nil {
			t.Errorf("oras pull did not write %s: %v", n, err)
			continue
		}
		if !bytes.Equal(got, b) {
			t.Errorf("oras pull wrote %s with different content (%d bytes, want %d)", n, len(got), len(b))
		}
	}

	// Two referrers of different types.
	sigManifest, sbomManifest := filepath.Join(meta, "sig.json"), filepath.Join(meta, "sbom.json")
	o("attach", "--artifact-type", sigType, "--export-manifest", sigManifest, ref+":v1", "sig.json:application/json")
	o("attach", "--artifact-type", sbomType, "--export-manifest", sbomManifest, ref+"@"+want, "sbom.json:application/json")
	sigD, sbomD := fileDigest(t, sigManifest), fileDigest(t, sbomManifest)

	subject, got := discover(t, o("discover", "--format", "json", ref+":v1"))
	if subject != want {
		t.Errorf("oras discover resolved v1 to %s, want %s", subject, want)
	}
	if w := sortedCopy([]string{sbomType + "=" + sbomD, sigType + "=" + sigD}); !slices.Equal(got, w) {
		t.Errorf("oras discover = %q, want %q", got, w)
	}
	_, got = discover(t, o("discover", "--format", "json", "--artifact-type", sigType, ref+":v1"))
	if w := []string{sigType + "=" + sigD}; !slices.Equal(got, w) {
		t.Errorf("oras discover --artifact-type %s = %q, want %q", sigType, got, w)
	}
	// oras filters on its own when the registry does not: check that
	// ecrd applied the filter itself.
	var filtered v1.IndexManifest
	hdr := getJSON(t, ctx, e.HTTPClient(t), e.URL()+"/v2/e2e/oras/referrers/"+want+"?artifactType="+sigType, &filtered)
	if len(filtered.Manifests) != 1 || filtered.Manifests[0].Digest.String() != sigD || hdr.Get("OCI-Filters-Applied") != "artifactType" {
		t.Errorf("GET referrers?artifactType=%s: OCI-Filters-Applied %q, manifests %+v; want artifactType and only %s",
			sigType, hdr.Get("OCI-Filters-Applied"), filtered.Manifests, sigD)
	}

	// repo ls and repo tags: the referrers are pushed by digest, no tags.
	o("tag", ref+":v1", "v2")
	if got := lines(o("repo", "tags", ref)); !slices.Equal(got, []string{"v1", "v2"}) {
		t.Errorf("oras repo tags = %q, want [v1 v2]", got)
	}
	if got := lines(o("repo", "ls", e.Addr)); !slices.Equal(got, []string{"e2e/oras"}) {
		t.Errorf("oras repo ls = %q, want [e2e/oras]", got)
	}

	noServerErrors(t, e)
}

// runFail runs a command that must fail and returns its output.
func runFail(t *testing.T, ctx context.Context, name string, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err == nil {
		t.Errorf("%s %s succeeded, want a failure:\n%s", filepath.Base(name), strings.Join(args, " "), out)
	}
	return string(out)
}

// deleteManifest sends a DELETE and returns the status and the first
// error code of the answer.
func deleteManifest(t *testing.T, ctx context.Context, client *http.Client, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Errors []struct{ Code string }
	}
	json.NewDecoder(resp.Body).Decode(&body)
	code := ""
	if len(body.Errors) > 0 {
		code = body.Errors[0].Code
	}
	return resp.StatusCode, code
}

// getJSON GETs a URL that must answer 200 and decodes its body into v.
func getJSON(t *testing.T, ctx context.Context, client *http.Client, url string, v any) http.Header {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.Header
}

// platformImage builds an OCI image for linux/arch with random layers.
func platformImage(t *testing.T, arch string, layers int, anns map[string]string) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for range layers {
		l, err := random.Layer(4096, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	if anns != nil {
		img = mutate.Annotations(img, anns).(v1.Image)
	}
	return img
}

// specIndex returns an OCI index of linux images, serialized with
// image-spec's types, listing each image with its config's platform.
func specIndex(t *testing.T, imgs ...v1.Image) []byte {
	t.Helper()
	idx := imgspec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: imgspec.MediaTypeImageIndex,
	}
	for _, img := range imgs {
		raw, err := img.RawManifest()
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		idx.Manifests = append(idx.Manifests, imgspec.Descriptor{
			MediaType: imgspec.MediaTypeImageManifest,
			Digest:    digest.Digest(sha256Digest(raw)),
			Size:      int64(len(raw)),
			Platform:  &imgspec.Platform{OS: cf.OS, Architecture: cf.Architecture},
		})
	}
	b, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeLayout writes an OCI layout holding img under a ref name.
func writeLayout(t *testing.T, dir string, img v1.Image, ref string) {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
		t.Fatal(err)
	}
}

// layoutEntry returns the descriptor of an OCI layout's index.json named ref.
func layoutEntry(t *testing.T, dir, ref string) v1.Descriptor {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == ref {
			return d
		}
	}
	t.Fatalf("layout %s has no entry named %q: %+v", dir, ref, im.Manifests)
	return v1.Descriptor{}
}

func blobPath(layoutDir, digest string) string {
	alg, hex, _ := strings.Cut(digest, ":")
	return filepath.Join(layoutDir, "blobs", alg, hex)
}

type digester interface{ Digest() (v1.Hash, error) }

func mustDigest(t *testing.T, x digester) string {
	t.Helper()
	d, err := x.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func mustConfigDigest(t *testing.T, img v1.Image) string {
	t.Helper()
	d, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func layerDigests(t *testing.T, img v1.Image) []string {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range ls {
		out = append(out, mustDigest(t, l))
	}
	return out
}

func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func fileDigest(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256Digest(b)
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	l, err := random.Layer(int64(n), types.OCIUncompressedLayer)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// lines splits output into its non-empty lines.
func lines(s string) []string {
	var out []string
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// skopeoInspect is the part of skopeo inspect's output the tests check.
type skopeoInspect struct {
	Name         string
	Digest       string
	RepoTags     []string
	Architecture string
	Os           string
	Layers       []string
}

// listTags parses skopeo list-tags output.
func listTags(t *testing.T, out string) []string {
	t.Helper()
	var v struct {
		Repository string
		Tags       []string
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("skopeo list-tags: %v\n%s", err, out)
	}
	return sortedCopy(v.Tags)
}

// discover parses oras discover --format json output: the subject's
// digest and sorted "artifactType=digest" entries of its direct referrers.
func discover(t *testing.T, out string) (subject string, referrers []string) {
	t.Helper()
	var v struct {
		Digest    string
		Referrers []struct {
			Digest       string
			ArtifactType string
		}
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("oras discover: %v\n%s", err, out)
	}
	referrers = []string{}
	for _, m := range v.Referrers {
		referrers = append(referrers, m.ArtifactType+"="+m.Digest)
	}
	slices.Sort(referrers)
	return v.Digest, referrers
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
