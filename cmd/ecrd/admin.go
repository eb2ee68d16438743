package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/ecrd/ecrd/internal/config"
)

// adminAbout ends the description of each command that works on a data
// folder.
const adminAbout = `
It works on the data folder (--data) while the server runs, with the
server key of --server-key-file, or the keys themselves in ECRD_SERVER_KEY,
as ecrd serve does.`

var (
	accountCreateCmd = command{
		name: "account create", summary: "create an account",
		about: "Creates an account: the --id given, or a random 12-digit ID, which it prints.\n" + adminAbout,
	}
	accountListCmd = command{
		name: "account list", summary: "list accounts",
		about: "Lists the accounts of the data folder.\n" + adminAbout,
	}
	accessKeyCreateCmd = command{
		name: "access-key create", summary: "create a root access key of an account",
		about: `Creates an access key of an account's root and prints it, secret included,
as a credentials file section: the secret is shown this once.
` + adminAbout,
	}
	accessKeyListCmd = command{
		name: "access-key list", summary: "list access keys (never their secrets)",
		about: "Lists access keys, of every account or of --account, without their secrets.\n" + adminAbout,
	}
	adminCommands = map[string]group{
		"account": {
			name: "account", about: "Creates and lists the accounts of a data folder.",
			commands: []command{accountCreateCmd, accountListCmd},
		},
		"access-key": {
			name: "access-key", about: "Creates and lists the root access keys of a data folder's accounts.",
			commands: []command{accessKeyCreateCmd, accessKeyListCmd},
		},
	}
)

// admin runs the account and access-key commands on a data folder.
func admin(noun string, args []string, stdout, stderr io.Writer) int {
	g := adminCommands[noun]
	return g.run(args, stdout, stderr, func(verb string, args []string) int {
		var cmd command
		for _, c := range g.commands {
			if c.name == noun+" "+verb {
				cmd = c
			}
		}
		fs := cmd.flagSet()
		dataDir := fs.String("data", envOr("ECRD_DATA", config.DefaultDataDir()), "data folder (env ECRD_DATA)")
		keyFile := fs.String("server-key-file", os.Getenv("ECRD_SERVER_KEY_FILE"), "server key file (env ECRD_SERVER_KEY_FILE; default <data>/server.key)")
		metaURL := fs.String("metadata", os.Getenv("ECRD_METADATA"), "metadata store, as ecrd serve's --metadata (env ECRD_METADATA; default the data folder's)")
		var id, account *string
		switch cmd.name {
		case "account create":
			id = fs.String("id", "", "12-digit ID of the account (default: a random one)")
		case "access-key create":
			account = fs.String("account", "", "the account whose root gets the key (required)")
		case "access-key list":
			account = fs.String("account", "", "list only this account's keys")
		}
		rest, status, ok := cmd.parse(fs, args, stdout, stderr)
		if !ok {
			return status
		}
		if !cmd.noArgs(fs, rest, stderr) {
			return 2
		}
		if cmd.name == "access-key create" && *account == "" {
			fmt.Fprintln(stderr, "ecrd access-key create: --account is required")
			return 2
		}
		ctx := context.Background()
		st, err := openStores(ctx, storeSettings{DataDir: *dataDir, KeyFile: *keyFile, Metadata: *metaURL}, slog.New(slog.NewTextHandler(stderr, nil)))
		if err != nil {
			return fail(stderr, noun, err)
		}
		defer st.Close()
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		defer tw.Flush()
		switch cmd.name {
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
		}
		return 0
	})
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
