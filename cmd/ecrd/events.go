package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	api "github.com/ecrd/ecrd/internal/api/ecr"
)

var (
	deadLettersListCmd = command{
		name:    "events dead-letters list",
		summary: "list the events rules' targets gave up on",
		about: `Lists the dead letters of event delivery in the registry: events an
EventBridge rule's API destination refused or failed to take until its
retry policy ran out, with the attempts made and the last error. With
--rule, only that rule's. --json prints each with its event. It takes the
action ecrd:ListDeadLetters, which an account's root has and an identity
policy can allow.
` + clientAbout,
	}
	deadLettersRedriveCmd = command{
		name:    "events dead-letters redrive",
		args:    "<dead-letter-id>...",
		summary: "deliver dead letters again now",
		about: `Delivers the named dead letters again now, once each, in the order of
their events, to their rules' targets as they are defined now; those
delivered are removed. When one fails, the later ones of the same target
are kept for the next redrive, so that it receives them in order. It takes
the action ecrd:RedriveDeadLetters.
` + clientAbout,
	}
	deadLettersCommands = group{
		name:     "events dead-letters",
		about:    "Lists and redrives the events that rules' targets gave up on.",
		commands: []command{deadLettersListCmd, deadLettersRedriveCmd},
	}
	eventsCommands = group{
		name:     "events",
		about:    "Manages the delivery of events to EventBridge rules' targets on a running server.",
		commands: []command{{name: "events dead-letters", summary: "list or redrive the events rules' targets gave up on"}},
	}
	eventsCmd = command{name: "events", summary: "list and redrive undelivered events of EventBridge rules"}
)

// eventsCommand runs the events commands.
func eventsCommand(args []string, stdout, stderr io.Writer) int {
	return eventsCommands.run(args, stdout, stderr, func(_ string, args []string) int {
		return deadLettersCommands.run(args, stdout, stderr, func(verb string, args []string) int {
			if verb == "redrive" {
				return redriveDeadLetters(args, stdout, stderr)
			}
			return listDeadLetters(args, stdout, stderr)
		})
	})
}

func listDeadLetters(args []string, stdout, stderr io.Writer) int {
	cmd := deadLettersListCmd
	fs := cmd.flagSet()
	var cf clientFlags
	cf.register(fs)
	rule := fs.String("rule", "", "the ARN of the rule whose dead letters to list (default: every rule's)")
	asJSON := fs.Bool("json", false, "print the dead letters as JSON, with their events")
	rest, status, ok := cmd.parse(fs, args, stdout, stderr)
	if !ok {
		return status
	}
	if !cmd.noArgs(fs, rest, stderr) {
		return 2
	}
	ctx := context.Background()
	c, err := cf.newClient(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "ecrd %s: %v\n", cmd.name, err)
		return 1
	}
	var all []api.DeadLetter
	in := api.ListDeadLettersInput{RuleArn: optional(*rule)}
	for {
		var out api.ListDeadLettersOutput
		if err := c.call(ctx, "ListDeadLetters", in, &out); err != nil {
			fmt.Fprintf(stderr, "ecrd %s: %s\n", cmd.name, describe(err))
			return 1
		}
		all = append(all, out.DeadLetters...)
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			DeadLetters []api.DeadLetter `json:"deadLetters"`
		}{append([]api.DeadLetter{}, all...)}); err != nil {
			fmt.Fprintf(stderr, "ecrd %s: %v\n", cmd.name, err)
			return 1
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRULE\tTARGET\tATTEMPTS\tFAILED AT\tLAST ERROR")
	for _, d := range all {
		at := ""
		if d.FailedAt != nil {
			at = d.FailedAt.Time.UTC().Format("2006-01-02T15:04:05Z")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", d.DeadLetterId, d.RuleArn, d.TargetId, d.Attempts, at, d.LastError)
	}
	tw.Flush()
	return 0
}

func redriveDeadLetters(args []string, stdout, stderr io.Writer) int {
	cmd := deadLettersRedriveCmd
	fs := cmd.flagSet()
	var cf clientFlags
	cf.register(fs)
	ids, status, ok := cmd.parse(fs, args, stdout, stderr)
	if !ok {
		return status
	}
	if len(ids) == 0 {
		fmt.Fprintf(stderr, "ecrd %s: name the dead letters to redrive (ecrd events dead-letters list shows their IDs)\n", cmd.name)
		return 2
	}
	ctx := context.Background()
	c, err := cf.newClient(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "ecrd %s: %v\n", cmd.name, err)
		return 1
	}
	failed := 0
	// The server takes a hundred at a time; the order holds across
	// batches since each is redriven before the next is sent.
	for start := 0; start < len(ids); start += 100 {
		batch := ids[start:min(start+100, len(ids))]
		var out api.RedriveDeadLettersOutput
		if err := c.call(ctx, "RedriveDeadLetters", api.RedriveDeadLettersInput{DeadLetterIds: batch}, &out); err != nil {
			fmt.Fprintf(stderr, "ecrd %s: %s\n", cmd.name, describe(err))
			return 1
		}
		for _, id := range out.Redriven {
			fmt.Fprintf(stdout, "redriven: %s\n", id)
		}
		for _, f := range out.Failures {
			fmt.Fprintf(stderr, "not redriven: %s: %s\n", f.DeadLetterId, f.Reason)
			failed++
		}
	}
	if failed > 0 {
		return 1
	}
	return 0
}
