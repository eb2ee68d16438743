#!/usr/bin/env bash
# Image scanning through the AWS CLI: scan on push after a crane push,
# `aws ecr wait image-scan-complete`, findings by severity, paging, the
# daily quota, registry scanning rules with filters, and continuous
# scanning picking up an advisory loaded with `ecrd vulndb load` without a
# new push. TestScanningAWSCLI runs it with the variables of lib.sh and:
#
#   AWS_CURRENT  the pip-installed AWS CLI v1, for what v2 does not show
#   CRANE     crane
#   ECRD      the ecrd binary (ecrd vulndb load)
#   VULNDB    the server's vulnerability data folder
#   REGISTRY  the registry's host:port
#   IMAGES    image tarballs: debian.tar (openssl 3.0.11 vulnerable, zlib1g
#             fixed, three libN packages with MEDIUM advisories),
#             alpine.tar (busybox vulnerable, musl clean)
#   EXPORTS   OSV exports: alpine-new.zip, the Alpine data plus an
#             advisory for musl
set -Eeuo pipefail
: "${AWS:?}" "${AWS_CURRENT:?}" "${JQ:?}" "${CRANE:?}" "${ECRD:?}" "${VULNDB:?}" "${REGISTRY:?}" "${IMAGES:?}" "${EXPORTS:?}" "${WORK:?}" "${ENDPOINT:?}"
trap 'echo "FAIL: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export DOCKER_CONFIG=$WORK/docker
mkdir -p "$DOCKER_CONFIG"
started=$(date +%s)

step "crane logs in with the ECR password"
aws_ok ecr get-login-password | "$CRANE" auth login --username AWS --password-stdin "$REGISTRY" 2>"$WORK/crane.err" ||
  die "crane auth login: $(cat "$WORK/crane.err")"

step "a repository that scans on push"
aws_ok ecr create-repository --repository-name app --image-scanning-configuration scanOnPush=true >/dev/null
"$CRANE" --insecure push "$IMAGES/debian.tar" "$REGISTRY/app:v1" >/dev/null 2>"$WORK/crane.err" ||
  die "crane push: $(cat "$WORK/crane.err")"
aws_ok ecr wait image-scan-complete --repository-name app --image-id imageTag=v1
findings=$(aws_ok ecr describe-image-scan-findings --repository-name app --image-id imageTag=v1)
expect "the scan's status" "$("$JQ" -c .imageScanStatus <<<"$findings")" \
  '{"status":"COMPLETE","description":"The scan was completed successfully."}'
expect_json "findings: CVE ids and severities, most severe first" \
  "$("$JQ" -c '[.imageScanFindings.findings[] | [.name, .severity, (.attributes | from_entries | .package_name, .package_version)]]' <<<"$findings")" \
  '[["CVE-2023-5678","CRITICAL","openssl","3.0.11-1~deb12u1"],
    ["CVE-2026-0100","MEDIUM","lib0","1.0"],["CVE-2026-0101","MEDIUM","lib1","1.0"],["CVE-2026-0102","MEDIUM","lib2","1.0"]]'
expect_json "findingSeverityCounts" "$("$JQ" -c .imageScanFindings.findingSeverityCounts <<<"$findings")" '{"CRITICAL":1,"MEDIUM":3}'
expect_json "the CVSS attributes of the critical finding" \
  "$("$JQ" -c '.imageScanFindings.findings[0].attributes | from_entries | {CVSS3_VECTOR, CVSS3_SCORE, fixed_in_version}' <<<"$findings")" \
  '{"CVSS3_VECTOR":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H","CVSS3_SCORE":"9.8","fixed_in_version":"3.0.13-1~deb12u1"}'
expect_recent "imageScanCompletedAt" "$("$JQ" -r .imageScanFindings.imageScanCompletedAt <<<"$findings")"
expect "vulnerabilitySourceUpdatedAt is the data's newest advisory" \
  "$(date -u -d "$("$JQ" -r .imageScanFindings.vulnerabilitySourceUpdatedAt <<<"$findings")" +%FT%T)" "2026-11-05T23:49:57"

step "the CLI pages through findings (maxResults 1)"
paged=$(aws_ok ecr describe-image-scan-findings --repository-name app --image-id imageTag=v1 --page-size 1)
expect "findings over four pages" "$("$JQ" -c '[.imageScanFindings.findings[].name]' <<<"$paged")" \
  '["CVE-2023-5678","CVE-2026-0100","CVE-2026-0101","CVE-2026-0102"]'

step "describe-images carries the scan summary"
detail=$(aws_ok ecr describe-images --repository-name app --image-ids imageTag=v1)
expect "imageScanStatus" "$("$JQ" -r '.imageDetails[0].imageScanStatus.status' <<<"$detail")" COMPLETE
expect_json "imageScanFindingsSummary counts" "$("$JQ" -c '.imageDetails[0].imageScanFindingsSummary.findingSeverityCounts' <<<"$detail")" '{"CRITICAL":1,"MEDIUM":3}'

step "one scan per image per day"
# The CLI retries LimitExceededException as throttling, and says so; one
# attempt shows the error at once.
if AWS_MAX_ATTEMPTS=1 "$AWS" --endpoint-url "$ENDPOINT" ecr start-image-scan --repository-name app --image-id imageTag=v1 >/dev/null 2>"$WORK/aws.err"; then
  failed "a second start-image-scan within a day succeeded"
else
  expect "a second start-image-scan within a day" "$(grep -v '^$' "$WORK/aws.err")" \
    "An error occurred (LimitExceededException) when calling the StartImageScan operation (reached max retries: 0): The scan quota per image has been exceeded. Wait and try again."
fi

step "a manual repository: no scan until one is started"
aws_ok ecr create-repository --repository-name manual >/dev/null
"$CRANE" --insecure push "$IMAGES/alpine.tar" "$REGISTRY/manual:v1" >/dev/null 2>"$WORK/crane.err" ||
  die "crane push: $(cat "$WORK/crane.err")"
aws_err ScanNotFoundException DescribeImageScanFindings \
  "Image scan does not exist for the image with '{imageDigest:'null', imageTag:'v1'}' in the repository with name 'manual' in the registry with id '$ACCOUNT'" \
  ecr describe-image-scan-findings --repository-name manual --image-id imageTag=v1
scan=$(aws_ok ecr start-image-scan --repository-name manual --image-id imageTag=v1)
expect "start-image-scan answers" "$("$JQ" -r '.imageScanStatus.status' <<<"$scan")" IN_PROGRESS
aws_ok ecr wait image-scan-complete --repository-name manual --image-id imageTag=v1
expect_json "the Alpine findings" \
  "$(aws_ok ecr describe-image-scan-findings --repository-name manual --image-id imageTag=v1 | "$JQ" -c '[.imageScanFindings.findings[] | [.name, .severity]]')" \
  '[["CVE-2023-42366","MEDIUM"]]'
aws_err ImageNotFoundException StartImageScan \
  "The image with imageId {imageDigest:'null', imageTag:'gone'} does not exist within the repository with name 'manual' in the registry with id '$ACCOUNT'" \
  ecr start-image-scan --repository-name manual --image-id imageTag=gone

step "registry scanning rules with filters"
aws_ok ecr put-registry-scanning-configuration --scan-type ENHANCED --rules \
  '[{"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":[{"filter":"prod-*","filterType":"WILDCARD"}]},
    {"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":[{"filter":"dev-*","filterType":"WILDCARD"}]}]' >/dev/null
for repo in prod-api dev-api other; do
  aws_ok ecr create-repository --repository-name "$repo" >/dev/null
done
expect_json "batch-get-repository-scanning-configuration" \
  "$(aws_ok ecr batch-get-repository-scanning-configuration --repository-names prod-api dev-api other |
    "$JQ" -c '[.scanningConfigurations[] | [.repositoryName, .scanFrequency, (.appliedScanFilters | map(.filter))]]')" \
  '[["prod-api","CONTINUOUS_SCAN",["prod-*"]],["dev-api","SCAN_ON_PUSH",["dev-*"]],["other","MANUAL",[]]]'
for repo in prod-api dev-api other; do
  "$CRANE" --insecure push "$IMAGES/alpine.tar" "$REGISTRY/$repo:v1" >/dev/null 2>"$WORK/crane.err" ||
    die "crane push: $(cat "$WORK/crane.err")"
done
aws_ok ecr wait image-scan-complete --repository-name prod-api --image-id imageTag=v1
aws_ok ecr wait image-scan-complete --repository-name dev-api --image-id imageTag=v1
aws_err ScanNotFoundException DescribeImageScanFindings \
  "Image scan does not exist for the image with '{imageDigest:'null', imageTag:'v1'}' in the repository with name 'other' in the registry with id '$ACCOUNT'" \
  ecr describe-image-scan-findings --repository-name other --image-id imageTag=v1
names() { aws_ok ecr describe-image-scan-findings --repository-name "$1" --image-id imageTag=v1 | "$JQ" -c '[.imageScanFindings.findings[].name]'; }
expect "prod-api before the update" "$(names prod-api)" '["CVE-2023-42366"]'

step "new vulnerability data: the continuously scanned image shows the new advisory without a push"
"$ECRD" vulndb load --vulndb "$VULNDB" "$EXPORTS/alpine-new.zip" >"$WORK/load.out" 2>&1 || die "ecrd vulndb load: $(cat "$WORK/load.out")"
expect_contains "ecrd vulndb load" "$(cat "$WORK/load.out")" "2 advisories installed as Alpine"
for _ in $(seq 1 100); do
  got=$(names prod-api)
  [[ $got == '["CVE-2023-42366"]' ]] || break
  sleep 0.2
done
expect "prod-api after the update" "$got" '["CVE-2026-2222","CVE-2023-42366"]'
expect "dev-api (scan on push) keeps its scan" "$(names dev-api)" '["CVE-2023-42366"]'

step "a scan that ends without findings: the AWS CLI v1's paginator reads imageScanFindings"
echo "not an operating system" >"$WORK/note.txt"
tar -C "$WORK" -cf "$WORK/note.tar" note.txt
"$CRANE" --insecure append -f "$WORK/note.tar" -t "$REGISTRY/app:unsupported" >/dev/null 2>"$WORK/crane.err" ||
  die "crane append: $(cat "$WORK/crane.err")"
for _ in $(seq 1 100); do
  status=$(aws_ok ecr describe-image-scan-findings --repository-name app --image-id imageTag=unsupported --query imageScanStatus.status --output text)
  [[ $status == IN_PROGRESS ]] || break
  sleep 0.2
done
expect "the scan of an image with no operating system" "$status" UNSUPPORTED_IMAGE
expect "findings of the unsupported image, through the AWS CLI v1" \
  "$(AWS_BIN=$AWS_CURRENT aws_ok ecr describe-image-scan-findings --repository-name app --image-id imageTag=unsupported \
    --query 'length(imageScanFindings.findings)' --output text)" 0

finish
