package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	api "github.com/ecrd/ecrd/internal/api/ecr"
)

var (
	lifecycleRunCmd = command{
		name:    "lifecycle run",
		summary: "run lifecycle policies now",
		about: `Runs lifecycle policies now: the repository's (--repository), or every
policy of the registry. It takes the action ecrd:RunLifecyclePolicy,
which an account's root has and an identity policy can allow.
` + clientAbout,
	}
	lifecyclePreviewCmd = command{
		name:    "lifecycle preview",
		summary: "show what a policy would expire or archive",
		about: `Shows what a lifecycle policy (the repository's, or the one in --policy)
would expire or archive, now or at --at: a time in RFC 3339
(2026-12-01T00:00:00Z) or a date (2026-12-01, midnight UTC).
` + clientAbout,
	}
	lifecycleCommands = group{
		name:     "lifecycle",
		about:    "Runs or previews the lifecycle policies of a running server.",
		commands: []command{lifecycleRunCmd, lifecyclePreviewCmd},
	}
)

// lifecycle runs the lifecycle commands.
func lifecycle(args []string, stdout, stderr io.Writer) int {
	return lifecycleCommands.run(args, stdout, stderr, func(verb string, args []string) int {
		cmd := lifecycleRunCmd
		if verb == "preview" {
			cmd = lifecyclePreviewCmd
		}
		fs := cmd.flagSet()
		var cf clientFlags
		cf.register(fs)
		repo := fs.String("repository", "", "repository name")
		registryID := fs.String("registry-id", "", "registry (account) ID; default: the credentials' account")
		var at, policyFile *string
		if verb == "preview" {
			at = fs.String("at", "", "the time to evaluate the policy at (default: now)")
			policyFile = fs.String("policy", "", "file of a policy to try instead of the repository's (- for stdin)")
		}
		rest, status, ok := cmd.parse(fs, args, stdout, stderr)
		if !ok {
			return status
		}
		if !cmd.noArgs(fs, rest, stderr) {
			return 2
		}
		regID := optional(*registryID)
		in := api.PreviewAtInput{RegistryId: regID, RepositoryName: repo}
		if verb == "preview" {
			if *repo == "" {
				fmt.Fprintln(stderr, "ecrd lifecycle preview: --repository is required")
				return 2
			}
			if *at != "" {
				t, err := parseWhen(*at)
				if err != nil {
					fmt.Fprintf(stderr, "ecrd lifecycle preview: %v\n", err)
					return 2
				}
				in.EvaluateAt = &api.Timestamp{Time: t}
			}
			if *policyFile != "" {
				text, err := readFileOrStdin(*policyFile)
				if err != nil {
					fmt.Fprintf(stderr, "ecrd lifecycle preview: %v\n", err)
					return 1
				}
				in.LifecyclePolicyText = &text
			}
		}
		ctx := context.Background()
		c, err := cf.newClient(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "ecrd %s: %v\n", cmd.name, err)
			return 1
		}
		if verb == "run" {
			var out api.RunLifecyclePolicyOutput
			err := c.call(ctx, "RunLifecyclePolicy", api.RunLifecyclePolicyInput{RegistryId: regID, RepositoryName: optional(*repo)}, &out)
			if err != nil {
				fmt.Fprintf(stderr, "ecrd lifecycle run: %s\n", describe(err))
				return 1
			}
			fmt.Fprintf(stdout, "repositories: %d\nexpired images: %d\narchived images: %d\nleft for the next run (changed meanwhile): %d\n",
				out.RepositoryCount, out.ExpiredImageCount, out.ArchivedImageCount, out.SkippedImageCount)
			return 0
		}
		if err := preview(ctx, c, in, stdout); err != nil {
			fmt.Fprintf(stderr, "ecrd lifecycle preview: %s\n", describe(err))
			return 1
		}
		return 0
	})
}

// preview starts a preview, waits for it and prints its results.
func preview(ctx context.Context, c *apiClient, in api.PreviewAtInput, stdout io.Writer) error {
	var started api.StartLifecyclePolicyPreviewOutput
	if err := c.call(ctx, "StartLifecyclePolicyPreview", in, &started); err != nil {
		return err
	}
	client := c.ecr()
	get := &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: in.RepositoryName, RegistryId: in.RegistryId, MaxResults: aws.Int32(100)}
	var (
		results []types.LifecyclePolicyPreviewResult
		summary *types.LifecyclePolicyPreviewSummary
	)
	for {
		out, err := client.GetLifecyclePolicyPreview(ctx, get)
		if err != nil {
			return err
		}
		switch out.Status {
		case types.LifecyclePolicyPreviewStatusInProgress:
			time.Sleep(time.Second)
			continue
		case types.LifecyclePolicyPreviewStatusComplete:
		default:
			return fmt.Errorf("the preview ended %s", out.Status)
		}
		results, summary = append(results, out.PreviewResults...), out.Summary
		if out.NextToken == nil {
			break
		}
		get.NextToken = out.NextToken
	}
	when := "now"
	if in.EvaluateAt != nil {
		when = in.EvaluateAt.UTC().Format(time.RFC3339)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "RULE\tACTION\tDIGEST\tTAGS\tPUSHED\n")
	for _, r := range results {
		action := string(r.Action.Type)
		if r.Action.TargetStorageClass != "" {
			action += " to " + string(r.Action.TargetStorageClass)
		}
		pushed := ""
		if r.ImagePushedAt != nil {
			pushed = r.ImagePushedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", aws.ToInt32(r.AppliedRulePriority), action, aws.ToString(r.ImageDigest), strings.Join(r.ImageTags, ","), pushed)
	}
	tw.Flush()
	archiving := int32(0)
	if summary != nil {
		for _, t := range summary.TransitioningImageTotalCounts {
			archiving += aws.ToInt32(t.ImageTotalCount)
		}
		fmt.Fprintf(stdout, "\nevaluated %s: %d to expire, %d to archive\n", when, aws.ToInt32(summary.ExpiringImageTotalCount), archiving)
	}
	return nil
}

// parseWhen reads an RFC 3339 time or a date.
func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("time %q: give RFC 3339 (2026-12-01T00:00:00Z) or a date (2026-12-01)", s)
}

func readFileOrStdin(name string) (string, error) {
	var (
		b   []byte
		err error
	)
	if name == "-" {
		b, err = io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
	} else {
		b, err = os.ReadFile(name)
	}
	if err != nil {
		return "", err
	}
	if len(b) == 0 {
		return "", errors.New("the policy file is empty")
	}
	return string(b), nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
