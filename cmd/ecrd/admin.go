package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/ecrd/ecrd/internal/config"
)

const adminUsage = `Usage:
  ecrd account create [--id ID]       create an account (a random ID if none)
  ecrd account list                   list accounts
  ecrd access-key create --account ID create a root access key; prints the secret once
  ecrd access-key list [--account ID] list access keys (never their secrets)

Each takes --data (or ECRD_DATA) and --server-key-file (or ECRD_SERVER_KEY_FILE,
or the keys themselves in ECRD_SERVER_KEY), as ecrd serve does, and works
while the server runs.
`

// admin runs the account and access-key subcommands on a data folder.
func admin(noun string, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, adminUsage)
		return 0
	}
	verb := args[0]
	fs := flag.NewFlagSet("ecrd "+noun+" "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", envOr("ECRD_DATA", config.DefaultDataDir()), "data folder")
	keyFile := fs.String("server-key-file", os.Getenv("ECRD_SERVER_KEY_FILE"), "server key file (default <data>/server.key)")
	id := fs.String("id", "", "account ID (account create)")
	account := fs.String("account", "", "account ID (access-key)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *keyFile == "" {
		*keyFile = filepath.Join(*dataDir, "server.key")
	}
	ctx := context.Background()
	st, err := openStores(ctx, *dataDir, *keyFile, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		fmt.Fprintf(stderr, "ecrd %s: %v\n", noun, err)
		return 1
	}
	defer st.Close()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	switch noun + " " + verb {
	case "account create":
		a, err := st.ids.CreateAccount(ctx, *id)
		if err != nil {
			return fail(stderr, noun, err)
		}
		fmt.Fprintln(tw, a.ID)
	case "account list":
		accounts, err := st.ids.Accounts(ctx)
		if err != nil {
			return fail(stderr, noun, err)
		}
		fmt.Fprintln(tw, "ACCOUNT\tCREATED")
		for _, a := range accounts {
			fmt.Fprintf(tw, "%s\t%s\n", a.ID, a.CreatedAt.Format(time.RFC3339))
		}
	case "access-key create":
		if *account == "" {
			return fail(stderr, noun, fmt.Errorf("--account is required"))
		}
		k, err := st.ids.CreateAccessKey(ctx, *account)
		if err != nil {
			return fail(stderr, noun, err)
		}
		fmt.Fprintf(tw, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", *account, k.ID, k.Secret)
	case "access-key list":
		keys, err := st.ids.AccessKeys(ctx, *account)
		if err != nil {
			return fail(stderr, noun, err)
		}
		fmt.Fprintln(tw, "ACCESS KEY ID\tACCOUNT\tPRINCIPAL\tSTATUS\tCREATED")
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Account, k.Principal, k.Status, k.CreatedAt.Format(time.RFC3339))
		}
	default:
		fmt.Fprintf(stderr, "ecrd: unknown command %q\n\n%s", noun+" "+verb, adminUsage)
		return 2
	}
	return 0
}

func fail(stderr io.Writer, noun string, err error) int {
	fmt.Fprintf(stderr, "ecrd %s: %v\n", noun, err)
	return 1
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
