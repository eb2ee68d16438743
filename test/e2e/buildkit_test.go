package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestBuildKit builds testdata/buildkit with BuildKit (buildkitd's OCI
// worker running steps with runc, driven by buildctl) against ecrd, the
// way CI pipelines use ECR as a build cache:
//
//  1. a first build runs every step, pushes the image and exports its
//     cache as an OCI image manifest (mode=max, image-manifest=true, what
//     ECR supports);
//  2. a second build by a buildkitd with empty state imports that cache
//     and runs no step: the RUN steps report CACHED and the image it
//     pushes has the first build's random stamps;
//  3. a third, from empty state again, changes an argument of the final
//     stage's RUN: that step runs again, and the COPY after it gets the
//     intermediate stage's result from the cache (where only mode=max
//     puts it) instead of running that stage again.
//
// Every image pushed is then pulled back with crane. Nothing is fetched
// from the network: the base image is a static busybox the test pushes.
func TestBuildKit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("buildkitd's OCI worker runs build steps in runc containers, which needs root (this process runs as uid " + fmt.Sprint(os.Geteuid()) + ")")
	}
	buildkitd, buildctl, crane, runc := tool(t, "buildkitd"), tool(t, "buildctl"), tool(t, "crane"), tool(t, "runc")
	busybox := staticBusybox(t)

	// debug logs every request: on a failure the test prints the ones ecrd
	// refused, which is where a client incompatibility shows.
	e := startECRD(t, t.TempDir(), "--log-level", "debug")
	t.Cleanup(func() {
		if t.Failed() {
			logRefusedRequests(t, e)
		}
	})
	e.Login(t) // buildctl hands DOCKER_CONFIG's credentials to buildkitd
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	base := e.Addr + "/e2e/buildkit-base:busybox"
	app := e.Addr + "/e2e/buildkit-app"
	cacheRef := app + ":cache"
	pushBusyboxBase(t, ctx, crane, busybox, base)

	build := func(label, flavor string, extra ...string) string {
		t.Helper()
		// A buildkitd of its own with empty state for each build, so that
		// only the registry can supply cache.
		bk := startBuildkitd(t, buildkitd, runc, e.Addr)
		defer bk.stop(t)
		args := []string{"--addr", bk.addr, "build", "--progress=plain",
			"--frontend", "dockerfile.v0",
			"--local", "context=testdata/buildkit", "--local", "dockerfile=testdata/buildkit",
			"--opt", "build-arg:BASE=" + base, "--opt", "build-arg:FLAVOR=" + flavor,
			"--output", "type=image,name=" + app + ":" + label + ",push=true,registry.insecure=true"}
		out, err := exec.CommandContext(ctx, buildctl, append(args, extra...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("buildctl build (%s): %v\n%s\nbuildkitd's log:\n%s", label, err, out, bk.logTail())
		}
		for name, r := range buildSteps(string(out)) {
			if strings.Contains(name, "RUN ") {
				t.Logf("build %s: %s: %s", label, name, r)
			}
		}
		return string(out)
	}
	// The steps, by the stamp each writes. A step taken from the registry
	// cache is reported CACHED, except that one whose layers had to be
	// pulled (step 3 below) is sometimes reported DONE instead, so whether
	// a step ran is read from its output.
	const buildStep, finalStep = "build-stamp", "final-stamp"

	// 1. Runs everything, exports the cache.
	out := build("app", "plain", "--export-cache", "type=registry,ref="+cacheRef+",mode=max,image-manifest=true,oci-mediatypes=true")
	steps := buildSteps(out)
	for _, s := range []string{buildStep, finalStep} {
		if r, ran := steps.find(t, s, out); !ran {
			t.Errorf("first build: the step writing %s %s, want it run", s, r)
		}
	}
	if !strings.Contains(out, "exporting cache") {
		t.Errorf("first build: no cache export in its progress:\n%s", out)
	}
	first := imageFiles(t, ctx, crane, app+":app")
	if first["app/greeting.txt"] != "hello from the build context\n" {
		t.Errorf("the pushed image's /app/greeting.txt = %q, want the build context's greeting.txt", first["app/greeting.txt"])
	}
	for _, f := range []string{"app/build-stamp", "app/final-stamp", "bin/busybox"} {
		if first[f] == "" {
			t.Errorf("the pushed image has no (or an empty) /%s", f)
		}
	}

	// The cache is an OCI image manifest whose config is BuildKit's cache
	// config, which ECR reports as the image's artifact media type.
	var cm struct {
		MediaType string `json:"mediaType"`
		Config    struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
		Layers []json.RawMessage `json:"layers"`
	}
	raw := run(t, ctx, crane, "--insecure", "manifest", cacheRef)
	if err := json.Unmarshal([]byte(raw), &cm); err != nil {
		t.Fatalf("crane manifest %s: %v\n%s", cacheRef, err, raw)
	}
	const cacheConfig = "application/vnd.buildkit.cacheconfig.v0"
	if cm.MediaType != "application/vnd.oci.image.manifest.v1+json" || cm.Config.MediaType != cacheConfig || len(cm.Layers) < 3 {
		t.Errorf("the cache manifest has media type %q, config %q and %d layers; want an OCI image manifest, %s and the layers of both stages:\n%s",
			cm.MediaType, cm.Config.MediaType, len(cm.Layers), cacheConfig, raw)
	}
	desc, err := e.ECR().DescribeImages(ctx, &ecr.DescribeImagesInput{
		RepositoryName: aws.String("e2e/buildkit-app"),
		ImageIds:       []ecrtypes.ImageIdentifier{{ImageTag: aws.String("cache")}},
	})
	if err != nil {
		t.Fatalf("DescribeImages of the cache: %v", err)
	}
	if len(desc.ImageDetails) != 1 {
		t.Fatalf("DescribeImages of the cache returned %d images", len(desc.ImageDetails))
	}
	if d := desc.ImageDetails[0]; aws.ToString(d.ArtifactMediaType) != cacheConfig || aws.ToString(d.ImageManifestMediaType) != cm.MediaType {
		t.Errorf("DescribeImages of the cache: artifactMediaType %q, imageManifestMediaType %q; want %s and %s",
			aws.ToString(d.ArtifactMediaType), aws.ToString(d.ImageManifestMediaType), cacheConfig, cm.MediaType)
	}

	// 2. Same inputs, empty local state, the cache imported: nothing runs.
	out = build("app-cached", "plain", "--import-cache", "type=registry,ref="+cacheRef)
	if !strings.Contains(out, "importing cache manifest from "+cacheRef) {
		t.Errorf("second build: no cache import from %s in its progress:\n%s", cacheRef, out)
	}
	steps = buildSteps(out)
	for _, s := range []string{buildStep, finalStep} {
		if r, ran := steps.find(t, s, out); ran || !r.cached {
			t.Errorf("second build: the step writing %s %s, want it CACHED", s, r)
		}
	}
	second := imageFiles(t, ctx, crane, app+":app-cached")
	for _, f := range []string{"app/build-stamp", "app/final-stamp"} {
		if second[f] != first[f] {
			t.Errorf("second build: /%s = %q, want the first build's %q (the step ran again)", f, second[f], first[f])
		}
	}

	// 3. Only the last step's argument changes: the intermediate stage
	// comes from the cache, the last step runs.
	out = build("app-flavor", "spicy", "--import-cache", "type=registry,ref="+cacheRef)
	steps = buildSteps(out)
	if r, ran := steps.find(t, buildStep, out); ran {
		t.Errorf("third build: the intermediate stage's step %s, want it taken from the cache (exported with mode=max)", r)
	}
	if r, ran := steps.find(t, finalStep, out); !ran {
		t.Errorf("third build: the step using the changed argument %s, want it run", r)
	}
	third := imageFiles(t, ctx, crane, app+":app-flavor")
	if third["app/build-stamp"] != first["app/build-stamp"] {
		t.Errorf("third build: /app/build-stamp = %q, want the first build's %q", third["app/build-stamp"], first["app/build-stamp"])
	}
	if third["app/final-stamp"] == first["app/final-stamp"] || third["app/flavor"] != "spicy\n" {
		t.Errorf("third build: /app/final-stamp = %q and /app/flavor = %q; want a new stamp (first build: %q) and \"spicy\\n\"",
			third["app/final-stamp"], third["app/flavor"], first["app/final-stamp"])
	}
	noServerErrors(t, e)
}

// staticBusybox finds a statically linked busybox (Debian's
// busybox-static), which runs in an image with nothing else in it.
func staticBusybox(t *testing.T) string {
	t.Helper()
	p := tool(t, "busybox")
	f, err := elf.Open(p)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Fatalf("%s is dynamically linked; the build's base image needs a static one: install busybox-static (scripts/install-test-tools)", p)
		}
	}
	return p
}

// pushBusyboxBase pushes, with crane, a one-layer image for this machine's
// platform holding busybox as /bin/busybox, and /bin/sh and the applets the
// Dockerfile uses as links to it.
func pushBusyboxBase(t *testing.T, ctx context.Context, crane, busybox, ref string) {
	t.Helper()
	bin, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	mtime := time.Unix(0, 0)
	hdrs := []*tar.Header{
		{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime},
		{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin)), ModTime: mtime},
		{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: mtime},
	}
	for _, applet := range []string{"sh", "cat", "echo", "mkdir"} {
		hdrs = append(hdrs, &tar.Header{Name: "bin/" + applet, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777, ModTime: mtime})
	}
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Name == "bin/busybox" {
			if _, err := tw.Write(bin); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Env = []string{"PATH=/bin"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "base.tar")
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, crane, "--insecure", "push", path, ref)
}

// imageFiles pulls an image with crane and returns the regular files of
// its flattened filesystem, by path without the leading slash.
func imageFiles(t *testing.T, ctx context.Context, crane, ref string) map[string]string {
	t.Helper()
	// pull checks every blob's digest; export then flattens the layers.
	dir := t.TempDir()
	run(t, ctx, crane, "--insecure", "pull", "--format", "oci", ref, filepath.Join(dir, "layout"))
	fs := filepath.Join(dir, "fs.tar")
	run(t, ctx, crane, "--insecure", "export", ref, fs)
	f, err := os.Open(fs)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string]string{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("crane export %s: %v", ref, err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[strings.TrimPrefix(h.Name, "/")] = string(b)
		}
	}
}

// buildkitdProc is a buildkitd started by the test.
type buildkitdProc struct {
	addr string // unix:// address for buildctl --addr
	cmd  *exec.Cmd
	log  string // file its output goes to
	done chan struct{}
}

// startBuildkitd runs buildkitd with empty state in a temporary folder:
// the OCI worker with runc and the native snapshotter (copies, no overlay
// mounts), host networking (the steps need none), no garbage collection,
// and registry as plain HTTP. It waits until buildkitd lists its worker.
func startBuildkitd(t *testing.T, buildkitd, runc, registry string) *buildkitdProc {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "buildkitd.toml")
	writeFile(t, cfg, fmt.Sprintf("[registry.%q]\n  http = true\n  insecure = true\n", registry))
	p := &buildkitdProc{addr: "unix://" + filepath.Join(dir, "buildkitd.sock"), log: filepath.Join(dir, "buildkitd.log"), done: make(chan struct{})}
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	p.cmd = exec.Command(buildkitd, "--config", cfg, "--root", filepath.Join(dir, "root"), "--addr", p.addr,
		"--containerd-worker=false", "--oci-worker=true", "--oci-worker-binary", runc,
		"--oci-worker-snapshotter=native", "--oci-worker-net=host", "--oci-worker-gc=false")
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	// Its own process group: stopping it reaches nothing else.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.stop(t) })

	buildctl := tool(t, "buildctl")
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := exec.Command(buildctl, "--addr", p.addr, "debug", "workers").CombinedOutput()
		if err == nil && strings.Contains(string(out), "linux/") {
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("buildkitd exited at start: %v\n%s", p.cmd.ProcessState, p.logTail())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("buildkitd did not list a worker within 30s: %v\n%s\nbuildkitd's log:\n%s", err, out, p.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for buildkitd to exit.
func (p *buildkitdProc) stop(t *testing.T) {
	if p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		t.Errorf("buildkitd did not stop within 20s of SIGTERM")
	}
}

// logTail returns the end of buildkitd's log.
func (p *buildkitdProc) logTail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return string(b)
}

// stepReport is what a build's progress said about one step.
type stepReport struct {
	cached bool     // "#<n> CACHED"
	output []string // what it printed, as "#<n> <seconds> <line>"
}

// String summarises the report for logs.
func (r *stepReport) String() string {
	if len(r.output) > 0 {
		return fmt.Sprintf("ran (printed %q)", r.output)
	}
	if r.cached {
		return "was CACHED"
	}
	return "neither ran nor was reported CACHED"
}

// progressSteps maps the name of each step in buildctl's plain progress
// to what was reported about it.
type progressSteps map[string]*stepReport

var (
	plainLine   = regexp.MustCompile(`^#(\d+) (.*)$`) // "#<n> <text>"
	plainOutput = regexp.MustCompile(`^\d+\.\d+ (.*)$`)
)

// buildSteps reads plain progress output: a step's first line names it,
// later ones are its status, the output of its command, or "CACHED" when
// it came from the cache.
func buildSteps(out string) progressSteps {
	names := map[string]string{}
	steps := progressSteps{}
	for l := range strings.Lines(out) {
		m := plainLine.FindStringSubmatch(strings.TrimRight(l, "\r\n"))
		if m == nil {
			continue
		}
		n, text := m[1], m[2]
		name, ok := names[n]
		if !ok {
			names[n] = text
			steps[text] = &stepReport{}
			continue
		}
		if text == "CACHED" {
			steps[name].cached = true
		} else if o := plainOutput.FindStringSubmatch(text); o != nil {
			steps[name].output = append(steps[name].output, o[1])
		}
	}
	return steps
}

// find returns the report of the one RUN step that starts by printing
// "running <what>", and whether it ran.
func (p progressSteps) find(t *testing.T, what, out string) (r *stepReport, ran bool) {
	t.Helper()
	var found []string
	for name := range p {
		if strings.Contains(name, "RUN echo running "+what+" ") {
			found = append(found, name)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one RUN step printing \"running %s\" in the build's progress, found %q:\n%s", what, found, out)
	}
	r = p[found[0]]
	return r, slices.Contains(r.output, "running "+what)
}

// logRefusedRequests logs the requests ecrd answered with an error
// status, leaving out the routine ones: 401 challenges and HEAD 404s
// (clients checking whether something exists).
func logRefusedRequests(t *testing.T, e *ecrd) {
	routine := 0
	for _, l := range e.LogLines() {
		if l["msg"] != "request" {
			continue
		}
		status, _ := l["status"].(float64)
		switch {
		case status < 400:
		case status == 401 || status == 404 && l["method"] == "HEAD":
			routine++
		default:
			t.Logf("ecrd answered %v %v with %v", l["method"], l["path"], status)
		}
	}
	t.Logf("ecrd answered %d more requests with 401 or (to HEAD) 404", routine)
}
