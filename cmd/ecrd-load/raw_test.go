package main

import (
	"bufio"
	"strings"
	"testing"
)

// With -raw, manifest GETs and HEADs go out ready-made on plain
// connections: every request reaches the registry and is counted once,
// GETs move the manifest's bytes, and a request the registry refuses
// fails its op with the registry's status.
func TestRawManifestGet(t *testing.T) {
	for _, method := range []string{"GET", "HEAD"} {
		t.Run(method, func(t *testing.T) {
			reg := startTestRegistry(t, testRegistryOptions{basicAuth: "bench:secret"})
			before := reg.requestsServed.Load()
			res := mustRun(t, testConfig(t, reg, "manifest-get", "-c", "4", "-n", "40", "-raw", "-method", method, "-u", "bench:secret"))
			if !res.Raw || res.Ops != 40 || res.Requests != 40 {
				t.Errorf("reported raw %v, %d ops, %d requests", res.Raw, res.Ops, res.Requests)
			}
			// Setup's requests come before, and are not in the result.
			if served := reg.requestsServed.Load() - before; served < 40 {
				t.Errorf("the registry served %d requests in all, fewer than the 40 reported", served)
			}
			manifestLen := res.Bytes / 40
			switch {
			case method == "HEAD" && res.Bytes != 0:
				t.Errorf("HEAD moved %d bytes", res.Bytes)
			case method == "GET" && (res.Bytes != 40*manifestLen || manifestLen < 200):
				t.Errorf("GET moved %d bytes in 40 ops", res.Bytes)
			}

			cfg := testConfig(t, reg, "manifest-get", "-c", "2", "-n", "4", "-raw", "-method", method, "-u", "bench:secret")
			_, s := setUpWithoutCredentials(t, cfg)
			st := run(t.Context(), cfg, s)
			s.(*manifestScenario).close()
			if st.ok != 0 || st.failed != 4 || len(st.errSamples) == 0 || !strings.Contains(st.errSamples[0], "status 401") {
				t.Errorf("without credentials: %d ok, %d failed, %q", st.ok, st.failed, st.errSamples)
			}
		})
	}
}

func TestReadResponseHead(t *testing.T) {
	for _, tc := range []struct {
		in     string
		status int
		length int64
		close  bool
		bad    bool
	}{
		{in: "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Type: x\r\n\r\n", status: 200, length: 12},
		{in: "HTTP/1.1 401 Unauthorized\r\ncontent-length:  3 \r\nConnection: close\r\n\r\n", status: 401, length: 3, close: true},
		{in: "HTTP/1.1 200 OK\r\nCONNECTION: keep-alive\r\n\r\n", status: 200, length: -1},
		{in: "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", status: 200, length: 0, close: true},
		{in: "HTTP/1.1 200 OK\nContent-Length: 5\n\n", status: 200, length: 5},
		{in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", bad: true},
		{in: "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", bad: true},
		{in: "HTTP/2 200\r\n\r\n", bad: true},
		{in: "HTTP/1.1 2x0 OK\r\n\r\n", bad: true},
		{in: "HTTP/1.1 -20 OK\r\n\r\n", bad: true},
		{in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", bad: true}, // no end of header
		{in: "", bad: true},
	} {
		status, length, closeConn, err := readResponseHead(bufio.NewReader(strings.NewReader(tc.in)))
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error (status %d, length %d)", tc.in, status, length)
			}
			continue
		}
		if err != nil || status != tc.status || length != tc.length || closeConn != tc.close {
			t.Errorf("%q: %d, %d, close %v, %v; want %d, %d, close %v", tc.in, status, length, closeConn, err, tc.status, tc.length, tc.close)
		}
	}
}

// FuzzReadResponseHead: any input gets an answer or an error, never a
// panic, and a head that parses has a status of three digits and no
// negative length but -1.
func FuzzReadResponseHead(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nbody")
	f.Add("HTTP/1.0 404 Not Found\r\nConnection: close\r\n\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		status, length, _, err := readResponseHead(bufio.NewReaderSize(strings.NewReader(in), 64))
		if err != nil {
			return
		}
		if status < 0 || status > 999 || length < -1 {
			t.Errorf("%q: status %d, length %d", in, status, length)
		}
	})
}
