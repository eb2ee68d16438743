package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ecrd/ecrd/internal/events/delivery"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metrics"
	"github.com/ecrd/ecrd/internal/registry"
)

// activities tells every registry.Activity of a pull or a push.
type activities []registry.Activity

func (a activities) Pulled(repo metadata.RepoKey) {
	for _, x := range a {
		x.Pulled(repo)
	}
}

func (a activities) Pushed(repo metadata.RepoKey) {
	for _, x := range a {
		x.Pushed(repo)
	}
}

// serveMetrics serves Prometheus metrics on their own listener until ctx
// ends. The listener has no authentication: the setting's documentation
// says to keep it private.
func serveMetrics(ctx context.Context, ln net.Listener, m *metrics.Metrics, log *slog.Logger) {
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("metrics server stopped", "err", err)
	}
}

// deliveryStats gives Prometheus event delivery's backlog: the events
// not yet past the slowest rule's cursor, and the dead letters given up
// on since the process started.
type deliveryStats struct{ e *delivery.Engine }

func (d deliveryStats) DeliveryStats(context.Context) (metrics.DeliveryStats, error) {
	var s metrics.DeliveryStats
	for _, r := range d.e.Stats().Rules {
		s.Pending = max(s.Pending, r.Backlog)
		s.DeadLetters += int64(r.DeadLettered)
	}
	return s, nil
}
