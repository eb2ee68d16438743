package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
)

// A scenario is one kind of load. setup runs before timing starts; each
// worker then gets its own op from newOp, so that buffers and prepared
// requests are per worker and need no locking.
type scenario interface {
	setup(ctx context.Context) error
	newOp() opFunc
}

// opFunc performs operation number i (unique across workers) and returns
// the payload bytes it moved.
type opFunc func(ctx context.Context, i int64) (int64, error)

func newScenario(cfg *config, c *client) (scenario, error) {
	switch cfg.scenario {
	case scenarioPush:
		src, err := newBlobSource(int64(cfg.size))
		if err != nil {
			return nil, err
		}
		return &pushScenario{cfg: cfg, c: c, src: src}, nil
	case scenarioPull:
		src, err := newBlobSource(int64(cfg.size))
		if err != nil {
			return nil, err
		}
		return &pullScenario{cfg: cfg, c: c, src: src}, nil
	case scenarioManifest:
		return &manifestScenario{cfg: cfg, c: c}, nil
	}
	return nil, fmt.Errorf("unknown scenario %q", cfg.scenario)
}

// pushScenario pushes a fresh blob, or a fresh image, per op.
type pushScenario struct {
	cfg *config
	c   *client
	src *blobSource
}

func (s *pushScenario) setup(context.Context) error { return nil }

func (s *pushScenario) newOp() opFunc {
	repo := s.cfg.repo()
	if s.cfg.layers == 0 {
		return func(ctx context.Context, i int64) (int64, error) {
			b := s.src.blob(i)
			return b.size, s.c.at(i).pushBlob(ctx, repo, b, s.cfg.mode, int64(s.cfg.chunk))
		}
	}
	n := int64(s.cfg.layers)
	return func(ctx context.Context, i int64) (int64, error) {
		layers := make([]blob, n)
		for k := range layers {
			layers[k] = s.src.blob(i*n + int64(k))
		}
		img := newImage(layers, fmt.Sprintf("%x-%d", s.src.id, i))
		tag := fmt.Sprintf("op-%d", i)
		return img.bytes(), s.c.at(i).pushImage(ctx, repo, tag, img, s.cfg.mode, int64(s.cfg.chunk))
	}
}

// pullScenario GETs blobs pushed during setup.
type pullScenario struct {
	cfg   *config
	c     *client
	src   *blobSource
	blobs []blob

	getters held[*spliceGetter] // with -splice, every worker's
}

// setup pushes the blobs to pull, a few at a time, through the first
// replica: with several, the GETs then read through each what one
// stored.
func (s *pullScenario) setup(ctx context.Context) error {
	s.blobs = make([]blob, s.cfg.blobs)
	for i := range s.blobs {
		s.blobs[i] = s.src.blob(int64(i))
	}
	return parallel(ctx, min(s.cfg.concurrency, 4), len(s.blobs), func(ctx context.Context, i int) error {
		if err := s.c.pushMonolithic(ctx, s.cfg.repo(), s.blobs[i]); err != nil {
			return fmt.Errorf("setup: push blob to pull: %w", err)
		}
		return nil
	})
}

func (s *pullScenario) newOp() opFunc {
	repo := s.cfg.repo()
	if s.cfg.splice {
		return s.newSpliceOp()
	}
	buf := make([]byte, 256<<10)
	return func(ctx context.Context, i int64) (int64, error) {
		b := s.blobs[i%int64(len(s.blobs))]
		c := s.c.at(i)
		if s.cfg.head {
			if err := c.headBlob(ctx, repo, b); err != nil {
				return 0, err
			}
		}
		return c.getBlob(ctx, repo, b, buf)
	}
}

// newSpliceOp is a worker's op for -splice: one connection per replica.
func (s *pullScenario) newSpliceOp() opFunc {
	getters := make([]*spliceGetter, max(1, len(s.c.replicas)))
	var setupErr error
	for k := range getters {
		c := s.c.at(int64(k))
		if getters[k], setupErr = newSpliceGetter(c); setupErr != nil {
			break
		}
		s.getters.add(getters[k])
	}
	repo := s.cfg.repo()
	return func(ctx context.Context, i int64) (int64, error) {
		if setupErr != nil {
			return 0, setupErr
		}
		b := s.blobs[i%int64(len(s.blobs))]
		g := getters[i%int64(len(getters))]
		return g.get(ctx, urlPath(g.c.url(repo, "blobs/"+b.digest)), b.size)
	}
}

// close releases what -splice's workers hold.
func (s *pullScenario) close() { s.getters.closeAll() }

// held keeps what workers open (connections, pipes), for the scenario
// to close when the run ends.
type held[T interface{ close() }] struct {
	mu  sync.Mutex
	all []T
}

func (h *held[T]) add(v T) {
	h.mu.Lock()
	h.all = append(h.all, v)
	h.mu.Unlock()
}

func (h *held[T]) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, v := range h.all {
		v.close()
	}
	h.all = nil
}

// manifestScenario GETs (or HEADs) one manifest by tag, as fast as the
// registry allows. It is the requests/s test, so each worker prepares its
// request (one per replica) once and reuses it: net/http allows reuse
// once the previous response body is closed.
type manifestScenario struct {
	cfg      *config
	c        *client
	manifest []byte

	getters held[*rawGetter] // with -raw, every worker's
}

const manifestTag = "ecrd-load"

// setup pushes a small image (one 4 KiB layer) under manifestTag.
func (s *manifestScenario) setup(ctx context.Context) error {
	src, err := newBlobSource(4096)
	if err != nil {
		return err
	}
	img := newImage([]blob{src.blob(0)}, fmt.Sprintf("%x", src.id))
	if err := s.c.pushImage(ctx, s.cfg.repo(), manifestTag, img, modeMonolithic, 0); err != nil {
		return fmt.Errorf("setup: push image: %w", err)
	}
	s.manifest = img.manifest
	return nil
}

func (s *manifestScenario) newOp() opFunc {
	want := int64(len(s.manifest))
	if s.cfg.raw {
		return s.newRawOp(want)
	}
	buf := make([]byte, 16<<10)
	reqs := make([]*http.Request, max(1, len(s.c.replicas)))
	return func(ctx context.Context, i int64) (int64, error) {
		c, k := s.c.at(i), i%int64(len(reqs))
		req := reqs[k]
		if req == nil {
			var err error
			req, err = http.NewRequestWithContext(ctx, s.cfg.method, c.url(s.cfg.repo(), "manifests/"+manifestTag), nil)
			if err != nil {
				return 0, err
			}
			req.Header.Set("Accept", manifestAccept)
			reqs[k] = req
		}
		resp, err := c.do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if err := expect(resp, http.StatusOK); err != nil {
			return 0, err
		}
		if req.Method == http.MethodHead {
			if resp.ContentLength != want {
				return 0, fmt.Errorf("HEAD manifest: Content-Length %d, want %d", resp.ContentLength, want)
			}
			return 0, nil
		}
		n, err := drain(resp.Body, buf)
		if err == nil && n != want {
			err = fmt.Errorf("GET manifest: got %d bytes, want %d", n, want)
		}
		return n, err
	}
}

// newRawOp is a worker's op for -raw: one connection per replica.
func (s *manifestScenario) newRawOp(want int64) opFunc {
	getters := make([]*rawGetter, max(1, len(s.c.replicas)))
	var setupErr error
	for k := range getters {
		c := s.c.at(int64(k))
		if getters[k], setupErr = newRawGetter(c, s.cfg.method, urlPath(c.url(s.cfg.repo(), "manifests/"+manifestTag))); setupErr != nil {
			break
		}
		s.getters.add(getters[k])
	}
	return func(ctx context.Context, i int64) (int64, error) {
		if setupErr != nil {
			return 0, setupErr
		}
		return getters[i%int64(len(getters))].get(ctx, want)
	}
}

// close releases what -raw's workers hold.
func (s *manifestScenario) close() { s.getters.closeAll() }

// parallel runs fn(0..n-1) on up to workers goroutines and returns the
// first error.
func parallel(ctx context.Context, workers, n int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && err != context.Canceled {
		return err
	}
	return ctx.Err()
}
