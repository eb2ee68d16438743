package metadatatest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// OutsideTx fails the test if the calling goroutine is running the
// function of a write transaction of a DoubleRun store, naming what was
// done (what) and the code under test that did it. Test doubles of a
// logger, a blob store or a service call it first thing.
func OutsideTx(tb testing.TB, what string) {
	if InTransaction() {
		tb.Errorf("%s inside a metadata transaction, whose function may run more than once, at %s", what, culprit())
	}
}

// culprit names the first frames of the calling stack that are the code
// under test: no test package (…test.), test file or log/slog frame.
func culprit() string {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	var out []string
	for f, more := frames.Next(); more && len(out) < 4; f, more = frames.Next() {
		fn := f.Function[strings.LastIndex(f.Function, "/")+1:]
		if strings.Contains(fn, "test.") || strings.HasSuffix(f.File, "_test.go") || strings.HasPrefix(f.Function, "log/slog.") {
			continue
		}
		out = append(out, fmt.Sprintf("%s (%s:%d)", fn, filepath.Base(f.File), f.Line))
	}
	return strings.Join(out, " <- ")
}

// Logger wraps l's handler (nil: a logger that discards) so that a record
// made inside a transaction fails the test, whatever its level.
func Logger(tb testing.TB, l *slog.Logger) *slog.Logger {
	if l == nil {
		l = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(txHandler{l.Handler(), tb})
}

type txHandler struct {
	slog.Handler
	tb testing.TB
}

// Enabled is true at every level, so that every record reaches Handle,
// whatever the wrapped handler would keep.
func (h txHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h txHandler) Handle(ctx context.Context, r slog.Record) error {
	OutsideTx(h.tb, "a log record ("+r.Message+")")
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h txHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return txHandler{h.Handler.WithAttrs(a), h.tb}
}

func (h txHandler) WithGroup(name string) slog.Handler {
	return txHandler{h.Handler.WithGroup(name), h.tb}
}
