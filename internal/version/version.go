// Package version says which ecrd this is.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set at build time with -ldflags "-X github.com/ecrd/ecrd/internal/version.Version=v1.2.3".
var Version = "dev"

// String describes the build: version, source revision and Go version.
func String() string {
	rev := "unknown revision"
	if info, ok := debug.ReadBuildInfo(); ok {
		var modified bool
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified {
			rev += "+dirty"
		}
	}
	return fmt.Sprintf("ecrd %s (%s, %s %s/%s)", Version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
