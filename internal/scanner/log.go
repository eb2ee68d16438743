package scanner

import (
	"context"
	"fmt"
	"log/slog"

	scalibrlog "github.com/google/osv-scalibr/log"
)

// SetLogger sends osv-scalibr's log messages to l: its info and debug
// messages at slog's debug level, its warnings and errors at theirs. A nil
// l discards them. osv-scalibr's logger is process-wide, so this is too;
// without a call, osv-scalibr logs through the standard log package.
func SetLogger(l *slog.Logger) {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	scalibrlog.SetLogger(slogAdapter{l})
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) log(level slog.Level, msg string) {
	a.l.Log(context.Background(), level, msg, "component", "osv-scalibr")
}

func (a slogAdapter) Errorf(format string, args ...any) {
	a.log(slog.LevelError, fmt.Sprintf(format, args...))
}
func (a slogAdapter) Error(args ...any) { a.log(slog.LevelError, fmt.Sprint(args...)) }
func (a slogAdapter) Warnf(format string, args ...any) {
	a.log(slog.LevelWarn, fmt.Sprintf(format, args...))
}
func (a slogAdapter) Warn(args ...any) { a.log(slog.LevelWarn, fmt.Sprint(args...)) }
func (a slogAdapter) Infof(format string, args ...any) {
	a.log(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (a slogAdapter) Info(args ...any) { a.log(slog.LevelDebug, fmt.Sprint(args...)) }
func (a slogAdapter) Debugf(format string, args ...any) {
	a.log(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (a slogAdapter) Debug(args ...any) { a.log(slog.LevelDebug, fmt.Sprint(args...)) }
