package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/ecrd/ecrd/internal/config"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/scanner"
)

const vulndbUsage = `Usage:
  ecrd vulndb load [--data DIR] [--vulndb DIR] FILE...
      validate OSV exports (osv.dev's per-ecosystem all.zip: Debian, Alpine,
      Ubuntu, npm, PyPI, Maven, ...) and install each under its ecosystem in
      the vulnerability data folder, replacing that ecosystem's data.
      Running servers pick the change up within --vulndb-check-interval and
      match continuously scanned images against it again.
  ecrd vulndb status [--data DIR] [--vulndb DIR]
      print the version of the data in the folder and when its newest
      advisory changed.

The folder is --vulndb, else <data>/vulndb (ECRD_VULNDB, ECRD_DATA). The
Go advisories are installed by scripts/vulndb.
`

// vulndb runs the vulndb subcommands.
func vulndb(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, vulndbUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub := args[0]
	fs := flag.NewFlagSet("ecrd vulndb "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, vulndbUsage) }
	data := fs.String("data", envOr("ECRD_DATA", config.DefaultDataDir()), "data folder")
	dir := fs.String("vulndb", envOr("ECRD_VULNDB", ""), "vulnerability data folder (default <data>/vulndb)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	folder := *dir
	if folder == "" {
		folder = filepath.Join(*data, "vulndb")
	}
	switch sub {
	case "load":
		if fs.NArg() == 0 {
			fmt.Fprint(stderr, "ecrd vulndb load: name at least one OSV export (an all.zip)\n\n"+vulndbUsage)
			return 2
		}
		for _, f := range fs.Args() {
			eco, n, err := scanner.Install(folder, f)
			if err != nil {
				fmt.Fprintf(stderr, "ecrd vulndb load: %v\n", err)
				return 1
			}
			fmt.Fprintf(stdout, "%s: %d advisories installed as %s\n", f, n, eco)
		}
		return 0
	case "status":
		s, err := scanner.New(folder)
		if err != nil {
			fmt.Fprintf(stderr, "ecrd vulndb status: %v\n", err)
			return 1
		}
		src := s.Source()
		version := src.Version
		if version == "" {
			version = "none: no data is installed"
		}
		fmt.Fprintf(stdout, "folder: %s\nversion: %s\nupdated: %s\n", folder, version, formatTime(src.UpdatedAt))
		return 0
	default:
		fmt.Fprintf(stderr, "ecrd vulndb: unknown subcommand %q\n\n%s", sub, vulndbUsage)
		return 2
	}
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}

// openScanner opens the vulnerability data folder for image scans,
// creating it if missing. Without data the server still runs; scans fail,
// saying how to install it, until it is installed, which the server then
// picks up without a restart.
func openScanner(dir string, log *slog.Logger) registry.ImageScanner {
	scanner.SetLogger(log.With("component", "scanner"))
	if err := os.MkdirAll(filepath.Join(dir, "osv-scalibr"), 0o755); err != nil {
		log.Warn("image scanning is off: the vulnerability data folder cannot be made", "vulndb", dir, "err", err)
		return nil
	}
	s, err := scanner.New(dir)
	if err != nil {
		log.Warn("image scanning is off: the vulnerability data folder cannot be read", "vulndb", dir, "err", err)
		return nil
	}
	src := s.Source()
	if src.Version == "" {
		log.Warn("no vulnerability data is installed: scans fail until it is (scripts/vulndb --out DIR, ecrd vulndb load)", "vulndb", dir)
		return s
	}
	log.Info("vulnerability data", "vulndb", dir, "version", src.Version, "updated", formatTime(src.UpdatedAt))
	return s
}
