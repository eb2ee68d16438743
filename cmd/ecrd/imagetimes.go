package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	api "github.com/ecrd/ecrd/internal/api/ecr"
)

var imageTimesCmd = command{
	name:    "image-times",
	summary: "set an image's push, last pull or upstream check time on a running server",
	about: `Sets the times of one image on a running server: --pushed-at and
--last-pulled-at (what lifecycle rules count from), and for a tag of a
pull-through cache repository --upstream-checked-at (a day back makes the
next pull check the tag upstream). Times are RFC 3339 or a date; a time
not given is left as it is. It takes the action ecrd:SetImageTimes, which
an account's root has and an identity policy can allow.
` + clientAbout,
}

// imageTimes runs the image-times command.
func imageTimes(args []string, stdout, stderr io.Writer) int {
	fs := imageTimesCmd.flagSet()
	var (
		cf                               clientFlags
		repository, registryID, tag, dig string
		pushed, pulled, checked          string
	)
	cf.register(fs)
	fs.StringVar(&repository, "repository", "", "the image's `REPOSITORY` (required)")
	fs.StringVar(&registryID, "registry-id", "", "the repository's account `ID` (default the caller's)")
	fs.StringVar(&tag, "image-tag", "", "the image's `TAG`")
	fs.StringVar(&dig, "image-digest", "", "the image's `DIGEST`")
	fs.StringVar(&pushed, "pushed-at", "", "set the push `TIME`")
	fs.StringVar(&pulled, "last-pulled-at", "", "set the last pull `TIME`")
	fs.StringVar(&checked, "upstream-checked-at", "", "set when the cached tag was last checked upstream (`TIME`)")
	rest, status, ok := imageTimesCmd.parse(fs, args, stdout, stderr)
	if !ok {
		return status
	}
	if !imageTimesCmd.noArgs(fs, rest, stderr) {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "ecrd image-times: "+format+"\n", a...)
		return 2
	}
	if repository == "" || (tag == "" && dig == "") {
		return fail("give --repository and --image-tag or --image-digest")
	}
	in := api.SetImageTimesInput{RegistryId: optional(registryID), RepositoryName: &repository,
		ImageId: &api.ImageIdentifier{ImageTag: optional(tag), ImageDigest: optional(dig)}}
	for _, f := range []struct {
		name, value string
		dst         **api.Timestamp
	}{{"--pushed-at", pushed, &in.ImagePushedAt}, {"--last-pulled-at", pulled, &in.LastRecordedPullTime}, {"--upstream-checked-at", checked, &in.UpstreamCheckedAt}} {
		t, err := parseImportTime(f.name, f.value)
		if err != nil {
			return fail("%v", err)
		}
		*f.dst = awsjson.NewTimestamp(t)
	}
	if in.ImagePushedAt == nil && in.LastRecordedPullTime == nil && in.UpstreamCheckedAt == nil {
		return fail("give at least one of --pushed-at, --last-pulled-at and --upstream-checked-at")
	}
	ctx := context.Background()
	c, err := cf.newClient(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "ecrd image-times: %v\n", err)
		return 1
	}
	var out api.SetImageTimesOutput
	if err := c.call(ctx, "SetImageTimes", in, &out); err != nil {
		fmt.Fprintf(stderr, "ecrd image-times: %s\n", describe(err))
		return 1
	}
	show := func(t *api.Timestamp) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	digest := ""
	if out.ImageId != nil && out.ImageId.ImageDigest != nil {
		digest = *out.ImageId.ImageDigest
	}
	fmt.Fprintf(stdout, "image: %s@%s\npushed at: %s\nlast pulled at: %s\n", out.RepositoryName, digest, show(out.ImagePushedAt), show(out.LastRecordedPullTime))
	return 0
}
