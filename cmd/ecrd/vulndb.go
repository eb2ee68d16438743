package main

import (
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

// vulndbAbout ends the description of each vulndb command.
const vulndbAbout = `
The folder is --vulndb, else <data>/vulndb. The Go advisories are
installed by scripts/vulndb.`

var (
	vulndbLoadCmd = command{
		name: "vulndb load", args: "FILE...", summary: "install OSV exports",
		about: `Validates OSV exports (osv.dev's per-ecosystem all.zip: Debian, Alpine,
Ubuntu, npm, PyPI, Maven, ...) and installs each under its ecosystem in the
vulnerability data folder, replacing that ecosystem's data. Running
servers pick the change up within --vulndb-check-interval and match
continuously scanned images against it again.
` + vulndbAbout,
	}
	vulndbStatusCmd = command{
		name: "vulndb status", summary: "print the version of the installed data",
		about: `Prints the version of the data in the vulnerability data folder and when
its newest advisory changed.
` + vulndbAbout,
	}
	vulndbCommands = group{
		name:     "vulndb",
		about:    "Installs and inspects the vulnerability data that image scans match against.",
		commands: []command{vulndbLoadCmd, vulndbStatusCmd},
	}
)

// vulndb runs the vulndb commands.
func vulndb(args []string, stdout, stderr io.Writer) int {
	return vulndbCommands.run(args, stdout, stderr, func(sub string, args []string) int {
		cmd := vulndbStatusCmd
		if sub == "load" {
			cmd = vulndbLoadCmd
		}
		fs := cmd.flagSet()
		data := fs.String("data", envOr("ECRD_DATA", config.DefaultDataDir()), "data folder (env ECRD_DATA)")
		dir := fs.String("vulndb", envOr("ECRD_VULNDB", ""), "vulnerability data folder (env ECRD_VULNDB; default <data>/vulndb)")
		files, status, ok := cmd.parse(fs, args, stdout, stderr)
		if !ok {
			return status
		}
		folder := *dir
		if folder == "" {
			folder = filepath.Join(*data, "vulndb")
		}
		if sub == "status" {
			if !cmd.noArgs(fs, files, stderr) {
				return 2
			}
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
		}
		if len(files) == 0 {
			fmt.Fprint(stderr, "ecrd vulndb load: name at least one OSV export (an all.zip)\n\n")
			cmd.usage(stderr, fs)
			return 2
		}
		for _, f := range files {
			eco, n, err := scanner.Install(folder, f)
			if err != nil {
				fmt.Fprintf(stderr, "ecrd vulndb load: %v\n", err)
				return 1
			}
			fmt.Fprintf(stdout, "%s: %d advisories installed as %s\n", f, n, eco)
		}
		return 0
	})
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
