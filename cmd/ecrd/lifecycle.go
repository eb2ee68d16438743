package main

import (
	"context"
	"errors"
	"flag"
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

const lifecycleUsage = `Usage:
  ecrd lifecycle run [--repository NAME]
      run lifecycle policies now: the repository's, or every policy of the
      registry; only the account's root may
  ecrd lifecycle preview --repository NAME [--at TIME] [--policy FILE]
      show what a policy (the repository's, or the one in FILE; - reads
      stdin) would expire or archive, now or at TIME (RFC 3339, or a date
      YYYY-MM-DD, taken as midnight UTC)

Both call a running server: --endpoint (ECRD_ENDPOINT, default
http://127.0.0.1:5000), --region, --registry-id, and AWS credentials from
the environment, --profile, or the server's data folder (--data).
`

// lifecycle runs the lifecycle subcommands.
func lifecycle(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, lifecycleUsage)
		return 0
	}
	verb := args[0]
	fs := flag.NewFlagSet("ecrd lifecycle "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	repo := fs.String("repository", "", "repository name")
	registryID := fs.String("registry-id", "", "registry (account) ID; default: the credentials' account")
	at := fs.String("at", "", "preview: the time to evaluate the policy at")
	policyFile := fs.String("policy", "", "preview: file of the policy to try instead of the repository's (- for stdin)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	ctx := context.Background()
	c, err := cf.newClient(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "ecrd lifecycle: %v\n", err)
		return 1
	}
	regID := optional(*registryID)
	switch verb {
	case "run":
		var out api.RunLifecyclePolicyOutput
		err := c.call(ctx, "RunLifecyclePolicy", api.RunLifecyclePolicyInput{RegistryId: regID, RepositoryName: optional(*repo)}, &out)
		if err != nil {
			fmt.Fprintf(stderr, "ecrd lifecycle run: %s\n", describe(err))
			return 1
		}
		fmt.Fprintf(stdout, "repositories: %d\nexpired images: %d\narchived images: %d\nleft for the next run (changed meanwhile): %d\n",
			out.RepositoryCount, out.ExpiredImageCount, out.ArchivedImageCount, out.SkippedImageCount)
		return 0
	case "preview":
		if *repo == "" {
			fmt.Fprintln(stderr, "ecrd lifecycle preview: --repository is required")
			return 2
		}
		in := api.PreviewAtInput{RegistryId: regID, RepositoryName: repo}
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
		if err := preview(ctx, c, in, stdout); err != nil {
			fmt.Fprintf(stderr, "ecrd lifecycle preview: %s\n", describe(err))
			return 1
		}
		return 0
	default:
		fmt.Fprintf(stderr, "ecrd lifecycle: unknown command %q\n\n%s", verb, lifecycleUsage)
		return 2
	}
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
