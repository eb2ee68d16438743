package main

import (
	"context"
	"fmt"
	"io"

	api "github.com/ecrd/ecrd/internal/api/ecr"
)

var gcCmd = command{
	name:    "gc",
	summary: "collect garbage on a running server now",
	about: `Collects garbage now on a running server: removes repositories' links to
blobs no image references, then blobs no repository links, once they have
been unreferenced for the server's --gc-grace. Pushes go on meanwhile.
It takes the action ecrd:CollectGarbage, which an account's root has and
an identity policy can allow.
` + clientAbout,
}

// gc runs the gc command.
func gc(args []string, stdout, stderr io.Writer) int {
	fs := gcCmd.flagSet()
	var cf clientFlags
	cf.register(fs)
	rest, status, ok := gcCmd.parse(fs, args, stdout, stderr)
	if !ok {
		return status
	}
	if !gcCmd.noArgs(fs, rest, stderr) {
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
