package main

// Every command prints its usage in one layout, ecrd serve's: a "Usage:"
// line, a blank line, what the command does, a blank line, and its flags
// (or, for a command with commands under it, those). --help prints it on
// stdout and exits 0; a bad flag or a missing command prints it on stderr
// and exits 2.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// command is a command that takes flags: gc, import, lifecycle run, ...
type command struct {
	name    string // as typed after ecrd: "gc", "lifecycle run"
	args    string // what follows [flags] on the usage line, if anything
	summary string // one line for the list of its group's commands
	about   string // what it does, and what its flags do not say
}

// flagSet returns the command's flag set, which prints nothing itself:
// parse prints errors and usage.
func (c command) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("ecrd "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// usage prints the command's usage and its flags (those of fs, which may
// be nil) to w.
func (c command) usage(w io.Writer, fs *flag.FlagSet) {
	flags := 0
	if fs != nil {
		fs.VisitAll(func(*flag.Flag) { flags++ })
	}
	line := "Usage: ecrd " + c.name
	if flags > 0 {
		line += " [flags]"
	}
	if c.args != "" {
		line += " " + c.args
	}
	fmt.Fprintf(w, "%s\n\n%s\n", line, strings.TrimSpace(c.about))
	if flags > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

// parse reads args, whose flags may come before or after the arguments
// ("--" ends the flags), and returns the arguments. When the command is
// to stop instead, it returns ok false and the exit status: 0 after
// printing the usage for -h or --help, 2 after printing a bad flag's error
// and the usage to stderr.
func (c command) parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (rest []string, status int, ok bool) {
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			c.usage(stdout, fs)
			return nil, 0, false
		}
		if err != nil {
			fmt.Fprintf(stderr, "ecrd %s: %v\n\n", c.name, err)
			c.usage(stderr, fs)
			return nil, 2, false
		}
		left := fs.Args()
		if len(left) == 0 {
			return rest, 0, true
		}
		if n := len(args) - len(left); n > 0 && args[n-1] == "--" {
			return append(rest, left...), 0, true
		}
		rest, args = append(rest, left[0]), left[1:]
	}
}

// noArgs fails a command that takes no arguments but was given some.
func (c command) noArgs(fs *flag.FlagSet, rest []string, stderr io.Writer) bool {
	if len(rest) == 0 {
		return true
	}
	fmt.Fprintf(stderr, "ecrd %s: unexpected argument %q\n\n", c.name, rest[0])
	c.usage(stderr, fs)
	return false
}

// group is a command with commands under it: ecrd itself, lifecycle,
// account, ...
type group struct {
	name     string // "" for ecrd itself
	about    string
	commands []command // their names include the group's
}

func (g group) usage(w io.Writer) {
	prefix := "ecrd "
	if g.name != "" {
		prefix += g.name + " "
	}
	fmt.Fprintf(w, "Usage: %s<command> [flags] [arguments]\n\n%s\n\nCommands:\n", prefix, strings.TrimSpace(g.about))
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	for _, c := range g.commands {
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimPrefix(c.name, strings.TrimPrefix(prefix, "ecrd ")), c.summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nRun %s<command> --help for a command's flags.\n", prefix)
}

// run runs the command args[0] names with the rest of args. It prints the
// usage on stdout for -h, --help and help, and help <command> runs
// <command> --help; no command or an unknown one prints it on stderr
// with status 2.
func (g group) run(args []string, stdout, stderr io.Writer, runCommand func(name string, args []string) int) int {
	if len(args) == 0 {
		g.usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if args[0] == "help" && len(args) > 1 {
			return g.run(slices.Concat(args[1:], []string{"--help"}), stdout, stderr, runCommand)
		}
		g.usage(stdout)
		return 0
	}
	for _, c := range g.commands {
		if c.name == strings.TrimSpace(g.name+" "+args[0]) {
			return runCommand(args[0], args[1:])
		}
	}
	what := "ecrd"
	if g.name != "" {
		what += " " + g.name
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n\n", what, args[0])
	g.usage(stderr)
	return 2
}
