package ecr

// Image scans: StartImageScan and DescribeImageScanFindings, their shapes,
// validation and handlers.

import (
	"context"
	"strconv"
	"strings"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/scanner"
)

// StartImageScanInput is the StartImageScan request.
type StartImageScanInput struct {
	RegistryId     *string          `json:"registryId,omitempty"`
	RepositoryName *string          `json:"repositoryName,omitempty"`
	ImageId        *ImageIdentifier `json:"imageId,omitempty"`
}

// StartImageScanOutput is the StartImageScan response.
type StartImageScanOutput struct {
	RegistryId      string           `json:"registryId,omitempty"`
	RepositoryName  string           `json:"repositoryName,omitempty"`
	ImageId         *ImageIdentifier `json:"imageId,omitempty"`
	ImageScanStatus *ImageScanStatus `json:"imageScanStatus,omitempty"`
}

// DescribeImageScanFindingsInput is the DescribeImageScanFindings request.
type DescribeImageScanFindingsInput struct {
	RegistryId     *string          `json:"registryId,omitempty"`
	RepositoryName *string          `json:"repositoryName,omitempty"`
	ImageId        *ImageIdentifier `json:"imageId,omitempty"`
	NextToken      *string          `json:"nextToken,omitempty"`
	MaxResults     *int32           `json:"maxResults,omitempty"`
}

// DescribeImageScanFindingsOutput is the DescribeImageScanFindings
// response.
type DescribeImageScanFindingsOutput struct {
	RegistryId        string             `json:"registryId,omitempty"`
	RepositoryName    string             `json:"repositoryName,omitempty"`
	ImageId           *ImageIdentifier   `json:"imageId,omitempty"`
	ImageScanStatus   *ImageScanStatus   `json:"imageScanStatus,omitempty"`
	ImageScanFindings *ImageScanFindings `json:"imageScanFindings,omitempty"`
	NextToken         string             `json:"nextToken,omitempty"`
}

// ImageScanFindings are a scan's findings (basic scanning's shape).
type ImageScanFindings struct {
	ImageScanCompletedAt         *Timestamp         `json:"imageScanCompletedAt,omitempty"`
	VulnerabilitySourceUpdatedAt *Timestamp         `json:"vulnerabilitySourceUpdatedAt,omitempty"`
	FindingSeverityCounts        map[string]int32   `json:"findingSeverityCounts,omitempty"`
	Findings                     []ImageScanFinding `json:"findings"`
}

// ImageScanFinding is one vulnerability of one package.
type ImageScanFinding struct {
	Name        string      `json:"name,omitempty"`
	Description string      `json:"description,omitempty"`
	URI         string      `json:"uri,omitempty"`
	Severity    string      `json:"severity,omitempty"`
	Attributes  []Attribute `json:"attributes"`
}

// Attribute is a finding's attribute.
type Attribute struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

func (in *StartImageScanInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	checkStructure(c, "imageId", in.ImageId, requiredMember, (*shapeChecker).imageIdentifier)
	return c.result()
}

func (in *DescribeImageScanFindingsInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	checkStructure(c, "imageId", in.ImageId, requiredMember, (*shapeChecker).imageIdentifier)
	c.str("nextToken", in.NextToken, optionalMember, shapeNextToken)
	c.int32("maxResults", in.MaxResults, optionalMember, shapeMaxResults)
	return c.result()
}

func (h *Handler) startImageScan(ctx context.Context, c auth.Caller, in *StartImageScanInput) (*StartImageScanOutput, error) {
	key := repoKey(c, in.RegistryId, in.RepositoryName)
	id := coreImageIDs([]ImageIdentifier{*in.ImageId})[0]
	img, status, err := h.reg.StartImageScan(ctx, key, id)
	if err != nil {
		return nil, err
	}
	return &StartImageScanOutput{
		RegistryId:     key.Account,
		RepositoryName: key.Name,
		ImageId:        wireID(registry.ImageID{Digest: string(img.Digest), Tag: id.Tag}),
		// ECR's answer carries the status alone.
		ImageScanStatus: &ImageScanStatus{Status: status.Status},
	}, nil
}

func (h *Handler) describeImageScanFindings(ctx context.Context, c auth.Caller, in *DescribeImageScanFindingsInput) (*DescribeImageScanFindingsOutput, error) {
	key := repoKey(c, in.RegistryId, in.RepositoryName)
	id := coreImageIDs([]ImageIdentifier{*in.ImageId})[0]
	res, err := h.reg.DescribeImageScanFindings(ctx, key, id, deref(in.NextToken), int(deref(in.MaxResults)))
	if err != nil {
		return nil, err
	}
	out := &DescribeImageScanFindingsOutput{
		RegistryId:      key.Account,
		RepositoryName:  key.Name,
		ImageId:         wireID(registry.ImageID{Digest: string(res.Image.Digest), Tag: id.Tag}),
		ImageScanStatus: &ImageScanStatus{Status: res.Status, Description: res.Description},
		NextToken:       res.NextToken,
	}
	if res.Status != "COMPLETE" {
		// Present and empty, as the findings of any scan: the AWS CLI's
		// paginator writes into it, and fails on an absent one.
		out.ImageScanFindings = &ImageScanFindings{Findings: []ImageScanFinding{}}
		return out, nil
	}
	f := &ImageScanFindings{
		ImageScanCompletedAt:  awsjson.NewTimestamp(res.CompletedAt),
		FindingSeverityCounts: severityCounts(res.Counts),
		Findings:              make([]ImageScanFinding, 0, len(res.Findings)),
	}
	if !res.SourceUpdatedAt.IsZero() {
		f.VulnerabilitySourceUpdatedAt = awsjson.NewTimestamp(res.SourceUpdatedAt)
	}
	for _, v := range res.Findings {
		f.Findings = append(f.Findings, wireFinding(v))
	}
	out.ImageScanFindings = f
	return out, nil
}

// wireFinding is a finding in basic scanning's shape: the package and its
// version, the CVSS vector and score under the CVSS version's keys, and
// (beyond ECR) the version that fixes it.
func wireFinding(v scanner.Finding) ImageScanFinding {
	attrs := []Attribute{
		{Key: "package_version", Value: v.Version},
		{Key: "package_name", Value: v.Package},
	}
	if v.CVSSVector != "" {
		prefix := "CVSS2"
		switch {
		case strings.HasPrefix(v.CVSSVector, "CVSS:3."):
			prefix = "CVSS3"
		case strings.HasPrefix(v.CVSSVector, "CVSS:4."):
			prefix = "CVSS4"
		}
		attrs = append(attrs,
			Attribute{Key: prefix + "_VECTOR", Value: v.CVSSVector},
			Attribute{Key: prefix + "_SCORE", Value: strconv.FormatFloat(v.Score, 'f', 1, 64)})
	}
	if v.FixedIn != "" {
		attrs = append(attrs, Attribute{Key: "fixed_in_version", Value: v.FixedIn})
	}
	return ImageScanFinding{Name: v.ID, Description: truncate(v.Description, 2000), URI: v.URI, Severity: v.Severity, Attributes: attrs}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// severityCounts is the wire form of findings per severity: only the
// severities that occur, or nothing.
func severityCounts(counts map[string]int) map[string]int32 {
	if len(counts) == 0 {
		return nil
	}
	out := make(map[string]int32, len(counts))
	for k, v := range counts {
		out[k] = int32(v)
	}
	return out
}

// scanDetail sets an image's scan status and summary in DescribeImages.
func scanDetail(d *ImageDetail, s *registry.ScanSummary) {
	if s == nil {
		return
	}
	d.ImageScanStatus = &ImageScanStatus{Status: s.Status, Description: s.Description}
	if s.Status != "COMPLETE" {
		return
	}
	d.ImageScanFindingsSummary = &ImageScanFindingsSummary{
		ImageScanCompletedAt:  awsjson.NewTimestamp(s.CompletedAt),
		FindingSeverityCounts: severityCounts(s.Counts),
	}
	if !s.SourceUpdatedAt.IsZero() {
		d.ImageScanFindingsSummary.VulnerabilitySourceUpdatedAt = awsjson.NewTimestamp(s.SourceUpdatedAt)
	}
}
