package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
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
		cfg.ops != 100 || cfg.blobs != 4 || cfg.repo() != "bench/pull" {
		t.Errorf("parsed %+v", cfg)
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
	} {
		if _, err := parseArgs(bad); err == nil {
			t.Errorf("parseArgs(%q) accepted", bad)
		}
	}
}
