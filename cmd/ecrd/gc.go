package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	api "github.com/ecrd/ecrd/internal/api/ecr"
)

const gcUsage = `Usage:
  ecrd gc
      collect garbage now on a running server: remove repositories' links
      to blobs no image references, then blobs no repository links, once
      they have been unreferenced for the server's --gc-grace. Pushes go
      on meanwhile. Only an account's root may.

It calls the server: --endpoint (ECRD_ENDPOINT, default
http://127.0.0.1:5000), --region, and AWS credentials from the
environment, --profile, or the server's data folder (--data).
`

// gc runs the gc subcommand.
func gc(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ecrd gc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, gcUsage) }
	var cf clientFlags
	cf.register(fs)
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	ctx := context.Background()
	c, err := cf.newClient(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "ecrd gc: %v\n", err)
		return 1
	}
	var out api.CollectGarbageOutput
	if err := c.call(ctx, "CollectGarbage", api.CollectGarbageInput{}, &out); err != nil {
		fmt.Fprintf(stderr, "ecrd gc: %s\n", describe(err))
		return 1
	}
	fmt.Fprintf(stdout, "links removed: %d\nblobs deleted: %d\norphan files deleted: %d\nbytes freed: %d\ntook: %.3fs\n",
		out.LinksRemoved, out.BlobsDeleted, out.OrphansDeleted, out.BytesFreed, out.DurationSeconds)
	return 0
}
