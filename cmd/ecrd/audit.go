package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
)

var (
	auditExportCmd = command{
		name: "audit export", summary: "write the audit trail's records of a time range as JSON lines",
		about: `Writes the audit trail's CloudTrail records of the calling account and
region whose time is within --since and --until (both included) to
standard output, one JSON record per line, newest first, for a SIEM. It
reads them with CloudTrail's LookupEvents, page by page, and takes the
action cloudtrail:LookupEvents, which an account's root has and an
identity policy can allow. Times are RFC 3339 (2026-12-01T10:00:00Z) or
dates (2026-12-01, midnight UTC).
` + clientAbout,
	}
	auditCommands = group{
		name:     "audit",
		about:    "The audit trail: CloudTrail's record of every AWS API call and /v2 request.",
		commands: []command{auditExportCmd},
	}
)

// auditCmds runs the audit commands.
func auditCmds(args []string, stdout, stderr io.Writer) int {
	return auditCommands.run(args, stdout, stderr, func(sub string, args []string) int {
		fs := auditExportCmd.flagSet()
		var cf clientFlags
		cf.register(fs)
		since := fs.String("since", "", "the earliest time exported (default: the trail's start)")
		until := fs.String("until", "", "the latest time exported (default: now)")
		rest, status, ok := auditExportCmd.parse(fs, args, stdout, stderr)
		if !ok {
			return status
		}
		if !auditExportCmd.noArgs(fs, rest, stderr) {
			return 2
		}
		in := &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(50)}
		for _, t := range []struct {
			flag, value string
			to          **time.Time
		}{{"--since", *since, &in.StartTime}, {"--until", *until, &in.EndTime}} {
			if t.value == "" {
				continue
			}
			at, err := parseTime(t.value)
			if err != nil {
				fmt.Fprintf(stderr, "ecrd audit export: %s %q: give an RFC 3339 time or a date (2006-01-02)\n", t.flag, t.value)
				return 2
			}
			*t.to = &at
		}
		ctx := context.Background()
		c, err := cf.newClient(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "ecrd audit export: %v\n", err)
			return 1
		}
		ct := cloudtrail.NewFromConfig(c.cfg, func(o *cloudtrail.Options) { o.BaseEndpoint = aws.String(c.endpoint) })
		out := bufio.NewWriter(stdout)
		defer out.Flush()
		pages := cloudtrail.NewLookupEventsPaginator(ct, in)
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				out.Flush()
				fmt.Fprintf(stderr, "ecrd audit export: %v\n", err)
				return 1
			}
			for _, e := range page.Events {
				fmt.Fprintln(out, aws.ToString(e.CloudTrailEvent))
			}
		}
		return 0
	})
}

// parseTime reads an RFC 3339 time or a date.
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}
