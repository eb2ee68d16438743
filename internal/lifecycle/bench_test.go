package lifecycle

import (
	"fmt"
	"testing"
	"time"
)

// benchRepository is n images pushed a few minutes apart over the last
// year: multi-arch indexes (two untagged children each) tagged prod-N,
// beta-N or release-N, some with a git-sha tag too; plain untagged builds;
// signatures referring to prod images; a share of old images archived.
func benchRepository(n int) []Image {
	images := make([]Image, 0, n)
	step := 365 * 24 * time.Hour / time.Duration(n)
	pushed := now.Add(-365 * 24 * time.Hour)
	add := func(img Image) {
		pushed = pushed.Add(step)
		img.PushedAt = pushed
		if img.StorageClass == "" {
			img.StorageClass = StorageStandard
		}
		if i := len(images); i%7 == 0 {
			img.LastPulledAt = pushed.Add(time.Duration(i%90) * 24 * time.Hour)
		}
		images = append(images, img)
	}
	for i := 0; len(images) < n; i++ {
		digest := fmt.Sprintf("sha256:%064x", i)
		switch i % 10 {
		case 0, 1, 2, 3: // a multi-arch image and its children
			tag := [...]string{"prod", "beta", "release", "prod"}[i%10]
			amd, arm := digest+"-amd64", digest+"-arm64"
			add(Image{Digest: amd})
			add(Image{Digest: arm})
			add(Image{Digest: digest, Tags: []string{fmt.Sprintf("%s-%d", tag, i), fmt.Sprintf("git-%07x", i)}, Children: []string{amd, arm}})
		case 4:
			add(Image{Digest: digest, Tags: []string{fmt.Sprintf("prod-%d", i)}})
			add(Image{Digest: digest + ".sig", Subject: digest})
		case 5, 6:
			add(Image{Digest: digest})
		case 7:
			add(Image{Digest: digest, Tags: []string{fmt.Sprintf("feature-%d", i), "latest-dev"}})
		case 8:
			add(Image{Digest: digest, Tags: []string{fmt.Sprintf("beta-%d", i)}})
		case 9:
			if i < n/2 {
				add(Image{Digest: digest, Tags: []string{fmt.Sprintf("release-%d", i)}, StorageClass: StorageArchive, ArchivedAt: now.Add(-100 * 24 * time.Hour)})
			} else {
				add(Image{Digest: digest, Tags: []string{fmt.Sprintf("release-%d", i)}})
			}
		}
	}
	return images[:n]
}

const benchPolicy = `{"rules":[
{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPatternList":["prod*"],"countType":"imageCountMoreThan","countNumber":50},"action":{"type":"expire"}},
{"rulePriority":2,"selection":{"tagStatus":"tagged","tagPrefixList":["beta"],"countType":"sinceImagePushed","countUnit":"days","countNumber":30},"action":{"type":"expire"}},
{"rulePriority":3,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}},
{"rulePriority":4,"selection":{"tagStatus":"tagged","tagPatternList":["release*"],"countType":"imageCountMoreThan","countNumber":100},"action":{"type":"expire"}},
{"rulePriority":5,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":5000},"action":{"type":"expire"}}]}`

func BenchmarkEvaluate100k(b *testing.B) {
	p := mustParse(b, benchPolicy)
	images := benchRepository(100_000)
	var decided int
	for b.Loop() {
		decided = len(Evaluate(p, images, now))
	}
	b.ReportMetric(float64(decided), "decisions")
}
