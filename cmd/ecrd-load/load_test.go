package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testConfig is a config as parseArgs would build it for args against reg.
func testConfig(t *testing.T, reg *testRegistry, args ...string) *config {
	t.Helper()
	cfg, err := parseArgs(append(args, reg.url))
	if err != nil {
		t.Fatalf("parseArgs(%q): %v", args, err)
	}
	return cfg
}

// mustRun executes cfg and fails the test unless every op succeeded.
func mustRun(t *testing.T, cfg *config) *result {
	t.Helper()
	res, err := execute(context.Background(), cfg)
	if err != nil {
		t.Fatalf("execute: %v", err)
	}
	if res.Errors != 0 {
		t.Fatalf("%d ops failed: %q", res.Errors, res.ErrorSamples)
	}
	return res
}

// An odd size that no chunk size divides, so the last chunk is short.
const testSize = 100_003

func TestPushModes(t *testing.T) {
	for _, mode := range []string{modeMonolithic, modeSingle, modeChunked} {
		t.Run(mode, func(t *testing.T) {
			reg := startTestRegistry(t, testRegistryOptions{})
			cfg := testConfig(t, reg, "push", "-c", "3", "-n", "10", "-size", "100003B", "-mode", mode, "-chunk", "30000B")
			res := mustRun(t, cfg)

			if res.Ops != 10 || res.Bytes != 10*testSize {
				t.Errorf("reported %d ops, %d bytes; want 10 ops, %d bytes", res.Ops, res.Bytes, 10*testSize)
			}
			if got := reg.blobs.stored(testSize); got != 10 {
				t.Errorf("registry stored %d distinct blobs of %d bytes, want 10", got, testSize)
			}
			if got := reg.uploadBytes.Load(); got != res.Bytes {
				t.Errorf("registry received %d upload bytes, tool reported %d", got, res.Bytes)
			}
			wantRequests := map[string]int64{modeMonolithic: 20, modeSingle: 10, modeChunked: 10 * (1 + 4 + 1)}[mode]
			if res.Requests != wantRequests {
				t.Errorf("%d HTTP requests, want %d", res.Requests, wantRequests)
			}
			if res.MBPerSec <= 0 || res.P50Ms <= 0 || res.P99Ms < res.P50Ms {
				t.Errorf("implausible figures: %.1f MB/s, p50 %.2f ms, p99 %.2f ms", res.MBPerSec, res.P50Ms, res.P99Ms)
			}
		})
	}
}

// A registry that declines the one-shot upload (distribution does) must
// still get every blob, through the PUT the spec prescribes.
func TestPushSingleFallsBackToPut(t *testing.T) {
	reg := startTestRegistry(t, testRegistryOptions{declineSingle: true})
	res := mustRun(t, testConfig(t, reg, "push", "-c", "2", "-n", "6", "-size", "100003B", "-mode", "single"))
	if res.Fallbacks != 6 {
		t.Errorf("%d fallbacks, want 6", res.Fallbacks)
	}
	if got := reg.blobs.stored(testSize); got != 6 {
		t.Errorf("registry stored %d blobs, want 6", got)
	}
}

func TestPushImage(t *testing.T) {
	reg := startTestRegistry(t, testRegistryOptions{})
	res := mustRun(t, testConfig(t, reg, "push", "-c", "2", "-n", "4", "-layers", "3", "-size", "100003B"))

	if got := reg.blobs.stored(testSize); got != 12 {
		t.Errorf("registry stored %d layers, want 12", got)
	}
	if got := reg.manifestPuts.Load(); got != 4 {
		t.Errorf("registry got %d manifest PUTs, want 4", got)
	}
	// Layers, configs and manifests: everything sent in request bodies.
	manifestBytes := res.Bytes - reg.uploadBytes.Load()
	if res.Bytes <= 12*testSize || manifestBytes <= 0 || manifestBytes > 4*2000 {
		t.Errorf("reported %d bytes; registry saw %d upload bytes", res.Bytes, reg.uploadBytes.Load())
	}
	if res.Repository != "ecrd-load/image" {
		t.Errorf("repository %q, want ecrd-load/image", res.Repository)
	}
}

func TestPull(t *testing.T) {
	reg := startTestRegistry(t, testRegistryOptions{})
	res := mustRun(t, testConfig(t, reg, "pull", "-c", "3", "-n", "12", "-blobs", "4", "-head", "-size", "100003B"))

	if res.Ops != 12 || res.Bytes != 12*testSize {
		t.Errorf("reported %d ops, %d bytes; want 12 ops, %d bytes", res.Ops, res.Bytes, 12*testSize)
	}
	if got := reg.blobGetBytes.Load(); got != res.Bytes {
		t.Errorf("registry sent %d blob bytes, tool reported %d", got, res.Bytes)
	}
	if got := reg.blobs.stored(testSize); got != 4 {
		t.Errorf("setup stored %d blobs, want 4", got)
	}
	if res.Requests != 24 { // HEAD + GET per op; setup is not counted
		t.Errorf("%d HTTP requests, want 24", res.Requests)
	}
}

func TestManifestGet(t *testing.T) {
	for _, method := range []string{"GET", "HEAD"} {
		t.Run(method, func(t *testing.T) {
			reg := startTestRegistry(t, testRegistryOptions{})
			res := mustRun(t, testConfig(t, reg, "manifest-get", "-c", "8", "-d", "200ms", "-method", method))

			if res.Ops < 1 {
				t.Fatal("no op in 200ms")
			}
			if res.WallSeconds < 0.2 {
				t.Errorf("wall %.3f s, shorter than -d 200ms", res.WallSeconds)
			}
			if res.Requests != res.Ops {
				t.Errorf("%d requests for %d ops, want one each", res.Requests, res.Ops)
			}
			manifestLen := res.Bytes / max(res.Ops, 1)
			switch {
			case method == "HEAD" && res.Bytes != 0:
				t.Errorf("HEAD moved %d bytes", res.Bytes)
			case method == "GET" && (res.Bytes != res.Ops*manifestLen || manifestLen < 200):
				t.Errorf("GET moved %d bytes in %d ops", res.Bytes, res.Ops)
			}
		})
	}
}

// With two registry URLs, operations alternate between them, each
// operation's requests staying on one; blobs pushed through the first in
// setup are read through both, and the result says who got what.
func TestReplicasRoundRobin(t *testing.T) {
	t.Run("push", func(t *testing.T) {
		reg := startTestRegistry(t, testRegistryOptions{replicas: 2})
		res := mustRun(t, testConfig(t, reg, "push", "-c", "3", "-n", "10", "-size", "1000B"))
		// Monolithic: POST and PUT per op, five ops each.
		for i, n := range reg.servedBy {
			if n.Load() != 10 {
				t.Errorf("replica %d served %d requests, want 10", i, n.Load())
			}
		}
		if len(res.Replicas) != 2 || res.Replicas[0].Requests != 10 || res.Replicas[1].Requests != 10 {
			t.Errorf("reported replicas %+v, want 10 requests each", res.Replicas)
		}
		if got := reg.blobs.stored(1000); got != 10 {
			t.Errorf("stored %d blobs, want 10", got)
		}
		if res.Registry != reg.url {
			t.Errorf("registry %q, want %q", res.Registry, reg.url)
		}
	})
	t.Run("pull", func(t *testing.T) {
		reg := startTestRegistry(t, testRegistryOptions{replicas: 2})
		res := mustRun(t, testConfig(t, reg, "pull", "-c", "2", "-n", "8", "-blobs", "1", "-size", "1000B"))
		// Setup pushed the blob through the first (POST, PUT); each
		// replica then served four GETs of it.
		if a, b := reg.servedBy[0].Load(), reg.servedBy[1].Load(); a != 2+4 || b != 4 {
			t.Errorf("replicas served %d and %d requests, want 6 and 4", a, b)
		}
		if res.Ops != 8 || res.Bytes != 8000 {
			t.Errorf("%d ops, %d bytes; want 8, 8000", res.Ops, res.Bytes)
		}
	})
	t.Run("manifest-get", func(t *testing.T) {
		reg := startTestRegistry(t, testRegistryOptions{replicas: 2})
		before := reg.servedBy[0].Load()
		res := mustRun(t, testConfig(t, reg, "manifest-get", "-c", "4", "-n", "40"))
		setup := int64(4) // layer and config (POST, PUT each), before timing
		if a, b := reg.servedBy[0].Load()-before-setup, reg.servedBy[1].Load(); a != 20+1 || b != 20 {
			t.Errorf("replicas served %d and %d GETs, want 20 each (and the manifest PUT on the first)", a, b)
		}
		if res.Ops != 40 {
			t.Errorf("%d ops, want 40", res.Ops)
		}
	})
}

func TestBasicAuth(t *testing.T) {
	opts := testRegistryOptions{basicAuth: "AWS:s3cret"}

	t.Run("preemptive", func(t *testing.T) {
		reg := startTestRegistry(t, opts)
		mustRun(t, testConfig(t, reg, "pull", "-c", "2", "-n", "4", "-size", "1000B", "-u", "AWS:s3cret"))
		if got := reg.unauthorized.Load(); got != 0 {
			t.Errorf("%d requests went without credentials", got)
		}
	})
	t.Run("after challenge", func(t *testing.T) {
		reg := startTestRegistry(t, opts)
		res := mustRun(t, testConfig(t, reg, "push", "-n", "5", "-size", "1000B", "-u", "AWS:s3cret", "-lazy-auth"))
		if got := reg.unauthorized.Load(); got != 1 {
			t.Errorf("%d challenges, want 1 (then credentials go up front)", got)
		}
		if res.Requests != 11 {
			t.Errorf("%d requests, want 10 + 1 retried", res.Requests)
		}
	})
	t.Run("wrong password fails", func(t *testing.T) {
		reg := startTestRegistry(t, opts)
		res, err := execute(context.Background(), testConfig(t, reg, "push", "-n", "3", "-size", "1000B", "-u", "AWS:nope"))
		if err != nil {
			t.Fatal(err)
		}
		if res.Errors != 3 || res.Ops != 0 || !strings.Contains(res.ErrorSamples[0], "401") {
			t.Errorf("%d ok, %d failed (%q); want every op to fail with 401", res.Ops, res.Errors, res.ErrorSamples)
		}
	})
}

// Failures must show in the result and in the exit status.
func TestFailuresExitNonZero(t *testing.T) {
	reg := startTestRegistry(t, testRegistryOptions{failPUT: true})
	var stdout, stderr bytes.Buffer
	code := realMain([]string{"push", "-n", "4", "-size", "1000B", "-json", reg.url}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit status %d, want 1; stderr: %s", code, stderr.String())
	}
	var res result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout.String())
	}
	if res.Errors != 4 || res.Ops != 0 || res.Bytes != 0 {
		t.Errorf("result %+v; want 4 errors, 0 ops, 0 bytes", res)
	}
	if !strings.Contains(stderr.String(), "500") {
		t.Errorf("stderr does not show the registry's answer: %s", stderr.String())
	}
}

func TestSetupFailureExitsTwo(t *testing.T) {
	reg := startTestRegistry(t, testRegistryOptions{failPUT: true})
	var stdout, stderr bytes.Buffer
	if code := realMain([]string{"pull", "-n", "1", reg.url}, &stdout, &stderr); code != 2 {
		t.Errorf("exit status %d, want 2; stderr: %s", code, stderr.String())
	}
}

func TestTextOutputAndWatchPID(t *testing.T) {
	reg := startTestRegistry(t, testRegistryOptions{})
	var stdout, stderr bytes.Buffer
	// The test registry runs in this process, so watch ourselves.
	args := []string{"push", reg.url, "-n", "3", "-size", "1MiB", "-watch-pid", strconv.Itoa(os.Getpid())}
	if code := realMain(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d; stderr: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"push monolithic, 1MiB blobs", "3 ok, 0 failed", "3145728 bytes; MB = 10^6 bytes", "peak VmRSS", "server CPU", "client CPU"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// Several watched processes are reported each under its name, the first
// also as "server".
func TestWatchSeveral(t *testing.T) {
	reg := startTestRegistry(t, testRegistryOptions{})
	self := strconv.Itoa(os.Getpid())
	var stdout, stderr bytes.Buffer
	args := []string{"push", reg.url, "-n", "20", "-size", "1MiB", "-json", "-watch-pid", "ecrd=" + self + ",postgres=" + strconv.Itoa(os.Getppid())}
	if code := realMain(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d; stderr: %s", code, stderr.String())
	}
	var res result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Servers) != 2 || res.Servers[0].Name != "ecrd" || res.Servers[1].Name != "postgres" ||
		res.Servers[1].PID != os.Getppid() || res.Server == nil || res.Server.PID != os.Getpid() {
		t.Fatalf("server %+v, servers %+v", res.Server, res.Servers)
	}
	// This process served and sent the pushes: it used CPU.
	if res.Servers[0].CPUSeconds <= 0 || res.Servers[0].PeakRSSBytes <= 0 {
		t.Errorf("no CPU or memory reported for this process: %+v", res.Servers[0])
	}
}

// /proc/PID/stat and getrusage measure the same thing for this process;
// they must agree within a few USER_HZ ticks.
func TestReadProcCPU(t *testing.T) {
	procBefore, err := readProcCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	ownBefore := ownCPU()
	deadline := time.Now().Add(5 * time.Second)
	for x := 0; ownCPU()-ownBefore < 100*time.Millisecond; x++ {
		if time.Now().After(deadline) {
			t.Fatal("could not burn 100 ms of CPU in 5 s")
		}
		_ = sha256.Sum256([]byte{byte(x)})
	}
	procAfter, err := readProcCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	proc, own := procAfter-procBefore, ownCPU()-ownBefore
	if diff := proc - own; diff < -40*time.Millisecond || diff > 40*time.Millisecond {
		t.Errorf("/proc/PID/stat counted %v, getrusage %v", proc, own)
	}
}

// CPU time spent by a child that has exited counts for the process that
// reaped it; and that of a living descendant, for its ancestors.
func TestReadTreeCPU(t *testing.T) {
	// The outer shell waits for a subshell that burns CPU, then starts a
	// second one in the background and sleeps.
	burn := "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"
	cmd := exec.Command("sh", "-c", "("+burn+"); ("+burn+"; exec sleep 30) & sleep 30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	deadline := time.Now().Add(30 * time.Second)
	var own, tree time.Duration
	for {
		var err error
		if own, err = readProcCPU(pid); err != nil {
			t.Fatal(err)
		}
		if tree, err = readTreeCPU(pid); err != nil {
			t.Fatal(err)
		}
		// Both burns done: twice what one costs, at least 100 ms in all.
		if tree-own >= 100*time.Millisecond && burnsDone(t, pid) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: own %v, tree %v", own, tree)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if own > 50*time.Millisecond {
		t.Errorf("the outer shell itself used %v; the burns ran in it, not in children", own)
	}
	// The reaped burn and the living one each took about half.
	reaped, err := readProcStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	if live := tree - own - reaped.reaped; reaped.reaped < 20*time.Millisecond || live < 20*time.Millisecond {
		t.Errorf("reaped %v, living descendants %v: want both counted", reaped.reaped, live)
	}
}

// burnsDone reports whether both burns are over: the outer shell then
// has two children, both running sleep (the background subshell execs
// it when its burn ends).
func burnsDone(t *testing.T, pid int) bool {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	sleeping := 0
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readProcStat(p)
		comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err == nil && st.ppid == pid && strings.TrimSpace(string(comm)) == "sleep" {
			sleeping++
		}
	}
	return sleeping == 2
}

func TestBlobSource(t *testing.T) {
	for _, size := range []int64{16, 17, 1000, periodLen + 5, 3*periodLen + 100} {
		src, err := newBlobSource(size)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for i := range int64(3) {
			b := src.blob(i)
			whole, _ := io.ReadAll(b.open(0, size))
			if int64(len(whole)) != size {
				t.Fatalf("size %d: blob has %d bytes", size, len(whole))
			}
			sum := sha256.Sum256(whole)
			if want := "sha256:" + hex.EncodeToString(sum[:]); b.digest != want {
				t.Errorf("size %d, blob %d: digest %s, content hashes to %s", size, i, b.digest, want)
			}
			// Ranges, as chunked uploads read them, join up to the whole.
			var joined []byte
			for off := int64(0); off < size; off += 7777 {
				part, _ := io.ReadAll(b.open(off, min(off+7777, size)))
				joined = append(joined, part...)
			}
			if !bytes.Equal(joined, whole) {
				t.Errorf("size %d, blob %d: ranges do not join to the blob", size, i)
			}
			if seen[b.digest] {
				t.Errorf("size %d: blob %d repeats a digest", size, i)
			}
			seen[b.digest] = true
		}
	}
	if _, err := newBlobSource(15); err == nil {
		t.Error("a 15-byte source was accepted; blobs that small cannot be distinct")
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"4096": 4096, "100B": 100, "1MB": 1_000_000, "1mb": 1_000_000, "100MB": 100_000_000,
		"2GB": 2_000_000_000, "1MiB": 1 << 20, "1.5GiB": 3 << 29, "10kB": 10_000, "64KiB": 64 << 10, "1M": 1_000_000,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MB", "-1MB", "1XB", "1e30GB"} {
		if got, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", bad, got)
		}
	}
	for n, want := range map[int64]string{1_000_000: "1MB", 1 << 20: "1MiB", 2_000_000_000: "2GB", 100_003: "0.100MB", 17: "17B"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{0.5: 100 * time.Millisecond, 0.99: 198 * time.Millisecond, 1: 200 * time.Millisecond} {
		if got := percentile(d, p); got != want {
			t.Errorf("p%v = %v, want %v", p*100, got, want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile of nothing = %v", got)
	}
}

func TestParseArgs(t *testing.T) {
	cfg, err := parseArgs([]string{"pull", "-c", "4", "127.0.0.1:5000", "-size", "100MB", "-repo", "bench/"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.registry.String() != "http://127.0.0.1:5000" || cfg.concurrency != 4 || cfg.size != 100_000_000 ||
		cfg.ops != 100 || cfg.blobs != 4 || cfg.repo() != "bench/pull" || len(cfg.registries) != 1 || cfg.watch != nil {
		t.Errorf("parsed %+v", cfg)
	}
	cfg, err = parseArgs([]string{"push", "http://127.0.0.1:5000,127.0.0.1:5001", "-watch-pid", "ecrd=12,ecrd=13,postgres=14"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.registries) != 2 || cfg.registries[1].String() != "http://127.0.0.1:5001" || cfg.registry != cfg.registries[0] {
		t.Errorf("registries %v", cfg.registries)
	}
	if want := []watchTarget{{"ecrd", 12}, {"ecrd", 13}, {"postgres", 14}}; !slices.Equal(cfg.watch, want) {
		t.Errorf("-watch-pid parsed as %v, want %v", cfg.watch, want)
	}
	if cfg, err = parseArgs([]string{"push", "-watch-pid", "7", "http://a"}); err != nil || !slices.Equal(cfg.watch, []watchTarget{{"", 7}}) {
		t.Errorf("-watch-pid 7: %v, %v", cfg, err)
	}
	for _, bad := range [][]string{
		{},
		{"fly", "http://x"},
		{"push"},
		{"push", "http://a", "http://b"},
		{"push", "-c", "0", "http://a"},
		{"push", "-mode", "streamed", "http://a"},
		{"push", "-size", "8B", "http://a"},
		{"push", "-u", "nopassword", "http://a"},
		{"manifest-get", "-method", "POST", "http://a"},
		{"push", "ftp://a"},
		{"push", "http://a,ftp://b"},
		{"push", "http://a,"},
		{"push", "-watch-pid", "x", "http://a"},
		{"push", "-watch-pid", "ecrd=", "http://a"},
		{"push", "-watch-pid", "1,-2", "http://a"},
		{"push", "-wrk", "wrk", "-d", "2s", "http://a"},
		{"pull", "-wrk", "wrk", "http://a"},
		{"pull", "-wrk", "wrk", "-d", "2s", "-n", "10", "http://a"},
		{"pull", "-wrk", "wrk", "-d", "2s", "http://a,http://b"},
		{"pull", "-wrk", "wrk", "-d", "2s", "-head", "http://a"},
		{"push", "-splice", "http://a"},
		{"pull", "-splice", "https://a"},
		{"pull", "-splice", "-head", "http://a"},
		{"pull", "-raw", "http://a"},
		{"manifest-get", "-raw", "https://a"},
		{"manifest-get", "-raw", "-wrk", "wrk", "-d", "2s", "http://a"},
	} {
		if _, err := parseArgs(bad); err == nil {
			t.Errorf("parseArgs(%q) accepted", bad)
		}
	}
}
