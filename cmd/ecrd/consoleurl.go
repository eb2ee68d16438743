package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	api "github.com/ecrd/ecrd/internal/api/ecr"
)

var consoleURLCmd = command{
	name:    "console-url",
	summary: "print a one-time sign-in URL of the web console for your AWS credentials",
	about: `Prints a URL that signs in to the web console of a running server as the
principal of your AWS credentials, in the region they are used for, as AWS
federation sign-in URLs do. The URL works once, within five minutes; the
session it starts lasts at most 12 hours and ends earlier when the access
key is deactivated or deleted, the principal is deleted, a role session
expires, or you sign out.
` + clientAbout,
}

// consoleURL runs the console-url command.
func consoleURL(args []string, stdout, stderr io.Writer) int {
	fs := consoleURLCmd.flagSet()
	var cf clientFlags
	cf.register(fs)
	rest, status, ok := consoleURLCmd.parse(fs, args, stdout, stderr)
	if !ok {
		return status
	}
	if !consoleURLCmd.noArgs(fs, rest, stderr) {
		return 2
	}
	ctx := context.Background()
	c, err := cf.newClient(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "ecrd console-url: %v\n", err)
		return 1
	}
	var out api.CreateConsoleSignInTokenOutput
	if err := c.call(ctx, "CreateConsoleSignInToken", api.CreateConsoleSignInTokenInput{}, &out); err != nil {
		fmt.Fprintf(stderr, "ecrd console-url: %s\n", describe(err))
		return 1
	}
	fmt.Fprintf(stdout, "%s/console/signin?token=%s\n", strings.TrimRight(c.endpoint, "/"), url.QueryEscape(out.SignInToken))
	if out.ExpiresAt != nil {
		fmt.Fprintf(stderr, "valid once, until %s\n", out.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return 0
}
