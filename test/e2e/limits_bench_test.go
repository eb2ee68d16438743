package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rssBytes reads a process's resident set size.
func rssBytes(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// peakRSS samples a process's RSS until stop is closed and returns the
// highest reading.
func peakRSS(pid int, stop <-chan struct{}) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		for {
			peak = max(peak, rssBytes(pid))
			select {
			case <-stop:
				out <- peak
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return out
}

// BenchmarkUnsignedBodies sends rounds of 48 parallel unsigned POST /
// requests with 31 MiB bodies, as a flood would, and reports the
// server's peak resident memory (target: under 300 MB).
//
//	go test ./test/e2e -run '^$' -bench BenchmarkUnsignedBodies -benchtime 5x
func BenchmarkUnsignedBodies(b *testing.B) {
	e := startECRD(b, b.TempDir())
	pid := e.Pid()
	body := make([]byte, 31<<20)
	before := rssBytes(pid)
	stop := make(chan struct{})
	peak := peakRSS(pid, stop)
	tr := &http.Transport{MaxIdleConnsPerHost: 48}
	c := &http.Client{Transport: tr}
	var refused atomic.Int64
	b.ResetTimer()
	for range b.N {
		var wg sync.WaitGroup
		for range 48 {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodPost, e.URL()+"/", strings.NewReader(string(body)))
				req.Header.Set("X-Amz-Target", ecrTarget+"UploadLayerPart")
				req.Header.Set("Content-Type", "application/x-amz-json-1.1")
				resp, err := c.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusForbidden {
						refused.Add(1)
					}
				}
			})
		}
		wg.Wait()
	}
	b.StopTimer()
	close(stop)
	b.ReportMetric(float64(before)/1e6, "start-RSS-MB")
	b.ReportMetric(float64(<-peak)/1e6, "peak-RSS-MB")
	if refused.Load() == 0 {
		b.Fatal("no request was refused: the flood did not reach the server")
	}
}

// BenchmarkSlowBodies holds 2,000 connections that trickle request
// bodies (half of them authenticated uploads, half unsigned AWS calls
// that reconnect whenever they are refused), from eight client addresses,
// against a server limited to 1,024 file descriptors, and measures
// /healthz and an authenticated manifest GET from another address
// meanwhile (target: p99 under 50 ms).
//
//	go test ./test/e2e -run '^$' -bench BenchmarkSlowBodies -benchtime 2000x
func BenchmarkSlowBodies(b *testing.B) {
	e := startECRDUnder(b, []string{tool(b, "prlimit"), "--nofile=1024:1024", "--"}, b.TempDir())
	e.CreateOnPush(b)
	hc := e.HTTPClient(b)
	img := newOCIImage(b, mtOCIManifest, []byte("layer"))
	ociPushImage(b, e, hc, "slow/app", img, "v1")
	password := e.Password(b)
	done := make(chan struct{})
	var wg sync.WaitGroup
	var held atomic.Int64
	trickle := func(local net.IP, head func() string) {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: local}, Timeout: 5 * time.Second}
			c, err := d.Dial("tcp", e.Addr)
			if err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			held.Add(1)
			_, err = io.WriteString(c, head())
			for err == nil {
				select {
				case <-done:
					err = io.EOF
				case <-time.After(5 * time.Second):
					_, err = c.Write([]byte{'x'})
				}
			}
			c.Close()
			held.Add(-1)
		}
	}
	unsigned := func() string {
		return "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: " + ecrTarget + "UploadLayerPart\r\nContent-Length: 33554432\r\n\r\n"
	}
	for i := range 2000 {
		ip := net.IPv4(127, 0, 3, byte(1+i%8))
		head := unsigned
		if i%2 == 0 {
			resp, err := hc.Post(e.URL()+"/v2/slow/app/blobs/uploads/", "", nil)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			patch := "PATCH " + resp.Header.Get("Location") + " HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + basicAuth(password) +
				"\r\nContent-Type: application/octet-stream\r\nContent-Length: 104857600\r\n\r\n"
			head = func() string { return patch }
		}
		wg.Add(1)
		go trickle(ip, head)
	}
	time.Sleep(3 * time.Second)
	healthz := make([]time.Duration, 0, b.N)
	manifest := make([]time.Duration, 0, b.N)
	probe := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 4, 1)}}).DialContext}}
	auth := &http.Client{Transport: authTransport{Password: password, Base: probe.Transport}}
	b.ResetTimer()
	for range b.N {
		for _, m := range []struct {
			c   *http.Client
			url string
			out *[]time.Duration
		}{{probe, e.URL() + "/healthz", &healthz}, {auth, e.URL() + "/v2/slow/app/manifests/v1", &manifest}} {
			req, _ := http.NewRequest(http.MethodGet, m.url, nil)
			req.Header.Set("Accept", img.MediaType)
			start := time.Now()
			resp, err := m.c.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("%s: %d", m.url, resp.StatusCode)
			}
			*m.out = append(*m.out, time.Since(start))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(held.Load()), "held-conns")
	close(done)
	wg.Wait()
	b.ReportMetric(quantile(healthz, 0.99), "healthz-p99-ms")
	b.ReportMetric(quantile(manifest, 0.99), "manifest-p99-ms")
	b.ReportMetric(quantile(append(healthz, manifest...), 1), "max-ms")
}

// quantile returns the q-quantile of d in milliseconds.
func quantile(d []time.Duration, q float64) float64 {
	slices.Sort(d)
	return float64(d[min(int(float64(len(d))*q), len(d)-1)].Microseconds()) / 1000
}
