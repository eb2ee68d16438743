#!/usr/bin/env bash
# Drives a running ecrd with the AWS CLI v2, docker login and crane, the way
# a person follows the ECR user guide. TestAWSCLI (awscli_test.go) starts a
# bare ecrd (no repository creation template), writes an isolated AWS
# configuration and runs this script with:
#
#   AWS       the AWS CLI v2 (Debian's /usr/bin/aws)
#   CRANE     crane
#   DOCKER    the docker CLI (no engine needed: docker login only)
#   JQ        jq
#   ENDPOINT  ecrd's URL, http://127.0.0.1:<port>
#   REGISTRY  ecrd's host:port, the registry host of docker and crane
#   ACCOUNT   the account of the root key the AWS configuration holds
#   REGION    the region the AWS configuration names
#   WORK      an empty scratch folder
#   DOCKER_CONFIG  an empty folder for docker's config.json
#
# A command that must succeed and fails ends the script at once; a check of
# an answer that fails prints FAIL with what was expected and what came,
# and the script goes on, exiting 1 at the end.
# shellcheck disable=SC2016 # jq programs name their $variables in single quotes
set -Eeuo pipefail

: "${AWS:?}" "${CRANE:?}" "${DOCKER:?}" "${JQ:?}" "${ENDPOINT:?}" "${REGISTRY:?}"
: "${ACCOUNT:?}" "${REGION:?}" "${WORK:?}" "${DOCKER_CONFIG:?}"

trap 'echo "FAIL: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# crane_ok ARGS...: runs crane ARGS (plain HTTP) and prints its standard
# output; a failure ends the script.
crane_ok() {
  printf '+ crane %s\n' "$*" >&2
  local rc=0
  "$CRANE" --insecure "$@" >"$WORK/crane.out" 2>"$WORK/crane.err" || rc=$?
  if ((rc != 0)); then
    die "crane $* exited with status $rc, want success. It said:
$(cat "$WORK/crane.out" "$WORK/crane.err")"
  fi
  cat "$WORK/crane.out"
}

# crane_err CODE ARGS...: crane ARGS must fail with the registry error CODE
# in its output.
crane_err() {
  local code=$1
  shift
  printf '+ crane %s   (want %s)\n' "$*" "$code" >&2
  local rc=0 out
  out=$("$CRANE" --insecure "$@" 2>&1) || rc=$?
  if ((rc == 0)); then
    failed "crane $* succeeded, want a failure with $code. It said:
$out"
    return
  fi
  expect_contains "crane $* fails with $code" "$out" "$code"
}

started=$(date +%s)
"$AWS" --version >&2

# Debian 12's awscli (2.9.19, January 2023) predates repository creation
# templates (2024) and tag-mutability exclusion filters (July 2025). Those
# two commands run with AWS_CURRENT, a current AWS CLI (the machine's pip
# AWS CLI v1), through the same helpers; everything else with Debian's.
"$AWS_CURRENT" --version >&2

# ---------------------------------------------------------------------------
step "1. sts get-caller-identity names the test account"
identity=$(aws_ok sts get-caller-identity --output json)
expect_json "get-caller-identity" "$identity" \
  "{\"UserId\": \"$ACCOUNT\", \"Account\": \"$ACCOUNT\", \"Arn\": \"arn:aws:iam::$ACCOUNT:root\"}"

# ---------------------------------------------------------------------------
step "1b. empty lists are present: the CLI's paginators and --query read them"
expect "describe-repositories on an empty registry" \
  "$(aws_ok ecr describe-repositories --query 'length(repositories)' --output text)" 0

# ---------------------------------------------------------------------------
step "2. create-repository with each setting; describe-repositories shows them; resource tags"
# A KMS repository's key must exist and be enabled, as on AWS.
kms_key=$(aws_ok kms create-key --description "e2e repository key" --query KeyMetadata.Arn --output text)
repos=(e2e/tagged e2e/immutable e2e/exclusion e2e/kms e2e/scan)
declare -A created
created[e2e/tagged]=$(aws_ok ecr create-repository --output json --repository-name e2e/tagged \
  --tags Key=team,Value=platform Key=env,Value=test)
created[e2e/immutable]=$(aws_ok ecr create-repository --output json --repository-name e2e/immutable \
  --image-tag-mutability IMMUTABLE)
created[e2e/exclusion]=$(AWS_BIN=$AWS_CURRENT aws_ok ecr create-repository --output json --repository-name e2e/exclusion \
  --image-tag-mutability IMMUTABLE_WITH_EXCLUSION \
  --image-tag-mutability-exclusion-filters filterType=WILDCARD,filter=latest 'filterType=WILDCARD,filter=dev-*')
created[e2e/kms]=$(aws_ok ecr create-repository --output json --repository-name e2e/kms \
  --encryption-configuration "encryptionType=KMS,kmsKey=$kms_key")
created[e2e/scan]=$(aws_ok ecr create-repository --output json --repository-name e2e/scan \
  --image-scanning-configuration scanOnPush=true)

# want_repo NAME [JQ-UPDATE]: the repository ecrd should describe, without
# createdAt: the defaults (MUTABLE, AES256, no scan on push) with JQ-UPDATE
# applied ($kms is the KMS key).
want_repo() {
  "$JQ" -n --arg name "$1" --arg account "$ACCOUNT" --arg region "$REGION" --arg registry "$REGISTRY" \
    --arg kms "$kms_key" '{
      repositoryArn: "arn:aws:ecr:\($region):\($account):repository/\($name)",
      registryId: $account,
      repositoryName: $name,
      repositoryUri: "\($registry)/\($name)",
      imageTagMutability: "MUTABLE",
      imageScanningConfiguration: {scanOnPush: false},
      encryptionConfiguration: {encryptionType: "AES256"}
    } | '"${2:-.}"
}
declare -A want
want[e2e/tagged]=$(want_repo e2e/tagged)
want[e2e/immutable]=$(want_repo e2e/immutable '.imageTagMutability = "IMMUTABLE"')
want[e2e/exclusion]=$(want_repo e2e/exclusion '.imageTagMutability = "IMMUTABLE_WITH_EXCLUSION"
  | .imageTagMutabilityExclusionFilters = [{filterType: "WILDCARD", filter: "latest"}, {filterType: "WILDCARD", filter: "dev-*"}]')
want[e2e/kms]=$(want_repo e2e/kms '.encryptionConfiguration = {encryptionType: "KMS", kmsKey: $kms}')
want[e2e/scan]=$(want_repo e2e/scan '.imageScanningConfiguration = {scanOnPush: true}')

# Debian's CLI drops members its model lacks (the exclusion filters), so
# the current CLI reads them back.
described=$(AWS_BIN=$AWS_CURRENT aws_ok ecr describe-repositories --output json --repository-names "${repos[@]}")
expect_json "describe-repositories lists the five repositories" \
  "$("$JQ" -c '[.repositories[].repositoryName] | sort' <<<"$described")" \
  "$(printf '%s\n' "${repos[@]}" | "$JQ" -R . | "$JQ" -sc 'sort')"
for r in "${repos[@]}"; do
  got=$("$JQ" --arg r "$r" '.repositories[] | select(.repositoryName == $r)' <<<"$described")
  expect_json "describe-repositories $r" "$("$JQ" 'del(.createdAt)' <<<"$got")" "${want[$r]}"
  expect_json "create-repository $r answered what describe-repositories shows" \
    "$("$JQ" .repository <<<"${created[$r]}")" "$got"
  expect_recent "createdAt of $r" "$("$JQ" -r .createdAt <<<"$got")"
done

tagged_arn="arn:aws:ecr:$REGION:$ACCOUNT:repository/e2e/tagged"
tags=$(aws_ok ecr list-tags-for-resource --output json --resource-arn "$tagged_arn")
expect_json "list-tags-for-resource after create-repository --tags" "$("$JQ" '.tags | sort_by(.Key)' <<<"$tags")" \
  '[{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "platform"}]'
aws_ok ecr tag-resource --resource-arn "$tagged_arn" --tags Key=team,Value=infra Key=owner,Value=alice >/dev/null
aws_ok ecr untag-resource --resource-arn "$tagged_arn" --tag-keys env >/dev/null
tags=$(aws_ok ecr list-tags-for-resource --output json --resource-arn "$tagged_arn")
expect_json "list-tags-for-resource after tag-resource (team replaced, owner added) and untag-resource env" \
  "$("$JQ" '.tags | sort_by(.Key)' <<<"$tags")" \
  '[{"Key": "owner", "Value": "alice"}, {"Key": "team", "Value": "infra"}]'

# botocore checks lengths itself, so the name is long enough and fails
# only ECR's pattern, on the server.
aws_err InvalidParameterException CreateRepository \
  "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*''" \
  ecr create-repository --repository-name Bad_Name
aws_err RepositoryAlreadyExistsException CreateRepository \
  "The repository with name 'e2e/kms' already exists in the registry with id '$ACCOUNT'" \
  ecr create-repository --repository-name e2e/kms

# ---------------------------------------------------------------------------
step "3. get-login-password | docker login; crane pushes with docker's credentials"
printf '+ docker login --username AWS --password-stdin %s   (a wrong password: want 401)\n' "$REGISTRY" >&2
if out=$(printf 'not-the-password\n' | "$DOCKER" login --username AWS --password-stdin "$REGISTRY" 2>&1); then
  failed "docker login with a wrong password succeeded, want a refusal:
$out"
else
  expect_contains "docker login with a wrong password is refused" "$out" "401 Unauthorized"
fi
printf '+ aws ecr get-login-password | docker login --username AWS --password-stdin %s\n' "$REGISTRY" >&2
if ! out=$("$AWS" --endpoint-url "$ENDPOINT" ecr get-login-password | "$DOCKER" login --username AWS --password-stdin "$REGISTRY" 2>&1); then
  die "aws ecr get-login-password | docker login failed:
$out"
fi
expect_contains "docker login" "$out" "Login Succeeded"
auth=$(aws_ok ecr get-authorization-token --output json)
expect "get-authorization-token: proxyEndpoint" "$("$JQ" -r '.authorizationData[0].proxyEndpoint' <<<"$auth")" "$ENDPOINT"
expires=$(date -d "$("$JQ" -r '.authorizationData[0].expiresAt' <<<"$auth")" +%s)
((expires > $(date +%s) + 3600)) || failed "get-authorization-token: expiresAt $expires is not hours ahead"
auth_user=$("$JQ" -r --arg r "$REGISTRY" '.auths[$r].auth' "$DOCKER_CONFIG/config.json" | base64 -d | cut -d: -f1)
expect "the user docker stored for $REGISTRY" "$auth_user" "AWS"

# Three single-layer images, as docker-style tarballs: a, b and c.
for x in a b c; do
  mkdir -p "$WORK/layer-$x"
  head -c 4096 /dev/urandom >"$WORK/layer-$x/random-$x"
  tar -C "$WORK/layer-$x" -cf "$WORK/layer-$x.tar" .
  crane_ok append -f "$WORK/layer-$x.tar" -t "$REGISTRY/scratch/image-$x:latest" -o "$WORK/image-$x.tar" >/dev/null
done

crane_ok push "$WORK/image-a.tar" "$REGISTRY/e2e/tagged:v1" >/dev/null
crane_ok tag "$REGISTRY/e2e/tagged:v1" v2 >/dev/null
crane_ok push "$WORK/image-b.tar" "$REGISTRY/e2e/tagged:v3" >/dev/null
digest_a=$(crane_ok digest "$REGISTRY/e2e/tagged:v1")
digest_b=$(crane_ok digest "$REGISTRY/e2e/tagged:v3")
manifest_a=$(crane_ok manifest "$REGISTRY/e2e/tagged:v1")
manifest_b=$(crane_ok manifest "$REGISTRY/e2e/tagged:v3")
[[ "$digest_a" != "$digest_b" ]] || die "images a and b have the same digest $digest_a"
expect "crane digest of e2e/tagged:v2" "$(crane_ok digest "$REGISTRY/e2e/tagged:v2")" "$digest_a"

# ---------------------------------------------------------------------------
step "4. list-images, describe-images, batch-get-image, batch-delete-image"
expect "list-images on an empty repository" \
  "$(aws_ok ecr list-images --repository-name e2e/immutable --query 'length(imageIds)' --output text)" 0
expect "describe-images on an empty repository" \
  "$(aws_ok ecr describe-images --repository-name e2e/immutable --query 'length(imageDetails)' --output text)" 0
images=$(aws_ok ecr list-images --output json --repository-name e2e/tagged)
expect_json "list-images e2e/tagged" "$("$JQ" '.imageIds | sort_by(.imageTag)' <<<"$images")" \
  "[{\"imageDigest\": \"$digest_a\", \"imageTag\": \"v1\"}, {\"imageDigest\": \"$digest_a\", \"imageTag\": \"v2\"},
    {\"imageDigest\": \"$digest_b\", \"imageTag\": \"v3\"}]"

# want_detail MANIFEST DIGEST TAGS-JSON: the imageDetail of an image, without
# imagePushedAt and lastRecordedPullTime. imageSizeInBytes is ecrd's rule: the
# config and the layers.
want_detail() {
  "$JQ" -n --argjson m "$1" --arg d "$2" --argjson tags "$3" --arg account "$ACCOUNT" '{
    registryId: $account,
    repositoryName: "e2e/tagged",
    imageDigest: $d,
    imageTags: $tags,
    imageSizeInBytes: ($m.config.size + ([$m.layers[].size] | add)),
    imageManifestMediaType: $m.mediaType,
    artifactMediaType: $m.config.mediaType
  }'
}
details=$(aws_ok ecr describe-images --output json --repository-name e2e/tagged)
# Fields the CLI's model does not know (Debian 12's lacks imageStatus) are
# dropped by the CLI; compare what it shows. Both images were pulled (crane
# manifest), but ecrd writes pull times every 10 seconds (ECR at least
# daily), so lastRecordedPullTime may not be there yet.
# imageStatus, which newer models know, is checked apart.
got=$("$JQ" '.imageDetails | sort_by(.imageTags[0]) | map(.imageTags |= sort | del(.imagePushedAt, .lastRecordedPullTime, .imageStatus))' <<<"$details")
expect "imageStatus where the CLI shows it" "$("$JQ" -c '[.imageDetails[].imageStatus // "ACTIVE"] | unique' <<<"$details")" '["ACTIVE"]'
expect_json "describe-images e2e/tagged" "$got" \
  "[$(want_detail "$manifest_a" "$digest_a" '["v1", "v2"]'), $(want_detail "$manifest_b" "$digest_b" '["v3"]')]"
for d in "$digest_a" "$digest_b"; do
  detail=$("$JQ" --arg d "$d" '.imageDetails[] | select(.imageDigest == $d)' <<<"$details")
  expect_recent "imagePushedAt of $d" "$("$JQ" -r .imagePushedAt <<<"$detail")"
  pulled=$("$JQ" -r '.lastRecordedPullTime // empty' <<<"$detail")
  if [[ -n "$pulled" ]]; then
    expect_recent "lastRecordedPullTime of $d" "$pulled"
  fi
done
aws_err ImageNotFoundException DescribeImages \
  "The image with imageId {imageDigest:'null', imageTag:'missing'} does not exist within the repository with name 'e2e/tagged' in the registry with id '$ACCOUNT'" \
  ecr describe-images --repository-name e2e/tagged --image-ids imageTag=missing

batch=$(aws_ok ecr batch-get-image --output json --repository-name e2e/tagged --image-ids imageTag=v1 imageTag=missing)
expect "batch-get-image: the manifest of v1 is the one crane reads" "$("$JQ" -j '.images[0].imageManifest' <<<"$batch")" "$manifest_a"
expect "batch-get-image: the manifest's sha256" \
  "sha256:$("$JQ" -j '.images[0].imageManifest' <<<"$batch" | sha256sum | cut -d' ' -f1)" "$digest_a"
expect_json "batch-get-image: the image and the failure" "$("$JQ" 'del(.images[].imageManifest)' <<<"$batch")" \
  "$("$JQ" -n --arg d "$digest_a" --arg account "$ACCOUNT" --argjson m "$manifest_a" '{
    images: [{registryId: $account, repositoryName: "e2e/tagged", imageId: {imageDigest: $d, imageTag: "v1"},
              imageManifestMediaType: $m.mediaType}],
    failures: [{imageId: {imageTag: "missing"}, failureCode: "ImageNotFound", failureReason: "Requested image not found"}]}')"

missing_digest="sha256:$(printf '0%.0s' {1..64})"
deleted=$(aws_ok ecr batch-delete-image --output json --repository-name e2e/tagged --image-ids imageTag=v2 imageTag=missing)
expect_json "batch-delete-image by tag" "$deleted" \
  "{\"imageIds\": [{\"imageDigest\": \"$digest_a\", \"imageTag\": \"v2\"}],
    \"failures\": [{\"imageId\": {\"imageTag\": \"missing\"}, \"failureCode\": \"ImageNotFound\", \"failureReason\": \"Requested image not found\"}]}"
deleted=$(aws_ok ecr batch-delete-image --output json --repository-name e2e/tagged \
  --image-ids "imageDigest=$digest_b" "imageDigest=$missing_digest")
expect_json "batch-delete-image by digest" "$deleted" \
  "{\"imageIds\": [{\"imageDigest\": \"$digest_b\"}],
    \"failures\": [{\"imageId\": {\"imageDigest\": \"$missing_digest\"}, \"failureCode\": \"ImageNotFound\", \"failureReason\": \"Requested image not found\"}]}"
images=$(aws_ok ecr list-images --output json --repository-name e2e/tagged)
expect_json "list-images e2e/tagged after the deletes" "$("$JQ" .imageIds <<<"$images")" \
  "[{\"imageDigest\": \"$digest_a\", \"imageTag\": \"v1\"}]"
crane_err MANIFEST_UNKNOWN manifest "$REGISTRY/e2e/tagged@$digest_b"

# ---------------------------------------------------------------------------
step "5. an immutable tag refuses another image, through crane and through put-image"
crane_ok push "$WORK/image-a.tar" "$REGISTRY/e2e/immutable:v1" >/dev/null
crane_ok push "$WORK/image-b.tar" "$REGISTRY/e2e/immutable:other" >/dev/null
crane_err TAG_INVALID push "$WORK/image-b.tar" "$REGISTRY/e2e/immutable:v1"
aws_err ImageTagAlreadyExistsException PutImage \
  "The image tag 'v1' already exists in the 'e2e/immutable' repository and cannot be overwritten because the tag is immutable." \
  ecr put-image --repository-name e2e/immutable --image-tag v1 --image-manifest "$manifest_b"
aws_err ImageAlreadyExistsException PutImage \
  "Image with digest '$digest_a' and tag 'v1' already exists in the repository with name 'e2e/immutable' in registry with id '$ACCOUNT'" \
  ecr put-image --repository-name e2e/immutable --image-tag v1 --image-manifest "$manifest_a"
put=$(aws_ok ecr put-image --output json --repository-name e2e/immutable --image-tag promoted --image-manifest "$manifest_b")
expect_json "put-image of b under a new tag" "$put" \
  "$("$JQ" -n --arg d "$digest_b" --arg account "$ACCOUNT" --arg m "$manifest_b" '{image: {
    registryId: $account, repositoryName: "e2e/immutable", imageId: {imageDigest: $d, imageTag: "promoted"},
    imageManifest: $m, imageManifestMediaType: ($m | fromjson | .mediaType)}}')"
# ecrd's documented difference from ECR: the same image again under the
# same tag is accepted.
crane_ok push "$WORK/image-a.tar" "$REGISTRY/e2e/immutable:v1" >/dev/null
expect "crane digest of e2e/immutable:v1 after the refused overwrites" \
  "$(crane_ok digest "$REGISTRY/e2e/immutable:v1")" "$digest_a"

# IMMUTABLE_WITH_EXCLUSION: tags matching latest or dev-* move, others do not.
for tag in latest dev-1 v1; do
  crane_ok push "$WORK/image-a.tar" "$REGISTRY/e2e/exclusion:$tag" >/dev/null
done
crane_ok push "$WORK/image-b.tar" "$REGISTRY/e2e/exclusion:latest" >/dev/null
crane_ok push "$WORK/image-b.tar" "$REGISTRY/e2e/exclusion:dev-1" >/dev/null
crane_err TAG_INVALID push "$WORK/image-b.tar" "$REGISTRY/e2e/exclusion:v1"
images=$(aws_ok ecr list-images --output json --repository-name e2e/exclusion)
expect_json "list-images e2e/exclusion: latest and dev-1 moved to b, v1 stayed on a" \
  "$("$JQ" '.imageIds | sort_by(.imageTag)' <<<"$images")" \
  "[{\"imageDigest\": \"$digest_b\", \"imageTag\": \"dev-1\"}, {\"imageDigest\": \"$digest_b\", \"imageTag\": \"latest\"},
    {\"imageDigest\": \"$digest_a\", \"imageTag\": \"v1\"}]"

# ---------------------------------------------------------------------------
step "6. create on push through a repository creation template"
crane_err NAME_UNKNOWN push "$WORK/image-c.tar" "$REGISTRY/ci/new-app:v1"
template=$(AWS_BIN=$AWS_CURRENT aws_ok ecr create-repository-creation-template --output json --prefix ci --applied-for CREATE_ON_PUSH \
  --image-tag-mutability IMMUTABLE --resource-tags Key=team,Value=ci)
expect_json "create-repository-creation-template" \
  "$("$JQ" '{registryId, template: (.repositoryCreationTemplate | {prefix, appliedFor, imageTagMutability, resourceTags, encryptionConfiguration})}' <<<"$template")" \
  "{\"registryId\": \"$ACCOUNT\", \"template\": {\"prefix\": \"ci\", \"appliedFor\": [\"CREATE_ON_PUSH\"], \"imageTagMutability\": \"IMMUTABLE\",
    \"resourceTags\": [{\"Key\": \"team\", \"Value\": \"ci\"}], \"encryptionConfiguration\": {\"encryptionType\": \"AES256\"}}}"
crane_ok push "$WORK/image-c.tar" "$REGISTRY/ci/new-app:v1" >/dev/null
digest_c=$(crane_ok digest "$REGISTRY/ci/new-app:v1")
described=$(aws_ok ecr describe-repositories --output json --repository-names ci/new-app)
expect_json "describe-repositories ci/new-app (created by the push, from the template)" \
  "$("$JQ" '.repositories | map(del(.createdAt))' <<<"$described")" \
  "[$(want_repo ci/new-app '.imageTagMutability = "IMMUTABLE"')]"
tags=$(aws_ok ecr list-tags-for-resource --output json --resource-arn "arn:aws:ecr:$REGION:$ACCOUNT:repository/ci/new-app")
expect_json "list-tags-for-resource ci/new-app" "$("$JQ" .tags <<<"$tags")" '[{"Key": "team", "Value": "ci"}]'
crane_err TAG_INVALID push "$WORK/image-a.tar" "$REGISTRY/ci/new-app:v1"
images=$(aws_ok ecr list-images --output json --repository-name ci/new-app)
expect_json "list-images ci/new-app" "$("$JQ" .imageIds <<<"$images")" "[{\"imageDigest\": \"$digest_c\", \"imageTag\": \"v1\"}]"

# ---------------------------------------------------------------------------
step "7. repository and registry policies"
pull_policy='{"Version":"2012-10-17","Statement":[{"Sid":"Pull","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:root"},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}'
out=$(aws_ok ecr set-repository-policy --repository-name e2e/scan --policy-text "$pull_policy")
expect_json "set-repository-policy" "$("$JQ" -c '.policyText | fromjson' <<<"$out")" "$pull_policy"
out=$(aws_ok ecr get-repository-policy --repository-name e2e/scan)
expect "get-repository-policy" "$("$JQ" -r .repositoryName <<<"$out") $("$JQ" -c '.policyText | fromjson' <<<"$out")" "e2e/scan $("$JQ" -c . <<<"$pull_policy")"
aws_err InvalidParameterException SetRepositoryPolicy \
  "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'" \
  ecr set-repository-policy --repository-name e2e/scan --policy-text '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*"}]}'
aws_ok ecr delete-repository-policy --repository-name e2e/scan >/dev/null
aws_err RepositoryPolicyNotFoundException GetRepositoryPolicy \
  "Repository policy does not exist for the repository with name 'e2e/scan' in the registry with id '$ACCOUNT'" \
  ecr get-repository-policy --repository-name e2e/scan
replicate='{"Version":"2012-10-17","Statement":[{"Sid":"Replicate","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:root"},"Action":["ecr:CreateRepository","ecr:ReplicateImage"],"Resource":"*"}]}'
out=$(aws_ok ecr put-registry-policy --policy-text "$replicate")
expect "put-registry-policy" "$("$JQ" -r .registryId <<<"$out")" "$ACCOUNT"
aws_ok ecr delete-registry-policy >/dev/null
aws_err RegistryPolicyNotFoundException GetRegistryPolicy "Registry policy does not exist in the registry with id '$ACCOUNT'" \
  ecr get-registry-policy

step "8. iam simulate-custom-policy explains a decision"
deny_prod='{"Version":"2012-10-17","Statement":[{"Sid":"NoProd","Effect":"Deny","Action":"ecr:PutImage","Resource":"arn:aws:ecr:*:*:repository/prod/*"}]}'
allow_push='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:PutImage","ecr:BatchGetImage"],"Resource":"*"}]}'
out=$(aws_ok iam simulate-custom-policy --policy-input-list "$allow_push" "$deny_prod" --action-names ecr:PutImage \
  --resource-arns "arn:aws:ecr:$REGION:$ACCOUNT:repository/prod/app" "arn:aws:ecr:$REGION:$ACCOUNT:repository/team/app")
expect_json "simulate-custom-policy decisions" "$("$JQ" -c '[.EvaluationResults[] | {(.EvalResourceName): .EvalDecision}] | add' <<<"$out")" \
  "{\"arn:aws:ecr:$REGION:$ACCOUNT:repository/prod/app\":\"explicitDeny\",\"arn:aws:ecr:$REGION:$ACCOUNT:repository/team/app\":\"allowed\"}"
expect "the deny is explained" "$("$JQ" -r '.EvaluationResults[] | select(.EvalDecision == "explicitDeny") | .MatchedStatements[0].SourcePolicyId' <<<"$out")" "PolicyInputList.2"

step "9. delete-repository without and with --force"
aws_err RepositoryNotEmptyException DeleteRepository \
  "The repository with name 'e2e/tagged' in registry with id '$ACCOUNT' cannot be deleted because it still contains images" \
  ecr delete-repository --repository-name e2e/tagged
gone=$(aws_ok ecr delete-repository --output json --repository-name e2e/tagged --force)
expect_json "delete-repository --force e2e/tagged answers the repository" "$("$JQ" '.repository | del(.createdAt)' <<<"$gone")" \
  "${want[e2e/tagged]}"
gone=$(aws_ok ecr delete-repository --output json --repository-name e2e/kms)
expect_json "delete-repository e2e/kms (empty) answers the repository" "$("$JQ" '.repository | del(.createdAt)' <<<"$gone")" \
  "${want[e2e/kms]}"
aws_err RepositoryNotFoundException DescribeRepositories \
  "The repository with name 'e2e/tagged' does not exist in the registry with id '$ACCOUNT'" \
  ecr describe-repositories --repository-names e2e/tagged
aws_err RepositoryNotFoundException DeleteRepository \
  "The repository with name 'e2e/kms' does not exist in the registry with id '$ACCOUNT'" \
  ecr delete-repository --repository-name e2e/kms
crane_err NAME_UNKNOWN manifest "$REGISTRY/e2e/tagged:v1"
left=$(aws_ok ecr describe-repositories --output json)
expect_json "describe-repositories after the deletes" "$("$JQ" '[.repositories[].repositoryName] | sort' <<<"$left")" \
  '["ci/new-app", "e2e/exclusion", "e2e/immutable", "e2e/scan"]'

finish
