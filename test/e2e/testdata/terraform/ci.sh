#!/usr/bin/env bash
# CI's half of the workflow, on the infrastructure testdata/terraform/
# platform applied: a GitHub Actions job trades its OIDC token for the CI
# role's credentials, logs docker in, pushes the image as :<sha> and
# :latest, is refused a second :<sha> by the immutable repository, and
# previews the four-rule lifecycle policy. TestTerraformPlatform runs it
# with the variables of lib.sh and:
#
#   DOCKER     the docker CLI (docker login only)
#   CRANE      crane, which pushes with docker's credentials
#   REGISTRY   the registry's host:port
#   ROLE_ARN   the CI role Terraform made
#   TOKEN_FILE the job's OIDC token
#   IMAGES     docker tarballs: release.tar, other.tar, tagged-a.tar ... tagged-n.tar
#   SHA        the commit whose image is pushed
set -Eeuo pipefail
: "${AWS:?}" "${JQ:?}" "${DOCKER:?}" "${CRANE:?}" "${REGISTRY:?}" "${ROLE_ARN:?}" "${TOKEN_FILE:?}" "${IMAGES:?}" "${SHA:?}" "${WORK:?}" "${ENDPOINT:?}"
trap 'echo "FAIL: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR
# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
export DOCKER_CONFIG=$WORK/docker
mkdir -p "$DOCKER_CONFIG"

step "the job's token becomes the role's credentials (configure-aws-credentials)"
creds=$(aws_ok sts assume-role-with-web-identity --role-arn "$ROLE_ARN" --role-session-name GitHubActions \
  --web-identity-token "$(cat "$TOKEN_FILE")" --output json)
AWS_ACCESS_KEY_ID=$("$JQ" -r .Credentials.AccessKeyId <<<"$creds")
AWS_SECRET_ACCESS_KEY=$("$JQ" -r .Credentials.SecretAccessKey <<<"$creds")
AWS_SESSION_TOKEN=$("$JQ" -r .Credentials.SessionToken <<<"$creds")
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
session="arn:aws:sts::$ACCOUNT:assumed-role/${ROLE_ARN##*/}/GitHubActions"
expect "assume-role-with-web-identity: the session" "$("$JQ" -r .AssumedRoleUser.Arn <<<"$creds")" "$session"
expect "sts get-caller-identity in the job" "$(aws_ok sts get-caller-identity --query Arn --output text)" "$session"

step "aws ecr get-login-password | docker login"
if ! out=$("$AWS" --endpoint-url "$ENDPOINT" ecr get-login-password | "$DOCKER" login --username AWS --password-stdin "$REGISTRY" 2>&1); then
  die "aws ecr get-login-password | docker login failed:
$out"
fi
expect_contains "docker login" "$out" "Login Succeeded"

step "push :<sha> and :latest; a second :<sha> is refused"
sha=$SHA
"$CRANE" --insecure push "$IMAGES/release.tar" "$REGISTRY/app:$sha" >/dev/null 2>"$WORK/crane.err" || die "crane push :$sha: $(cat "$WORK/crane.err")"
"$CRANE" --insecure tag "$REGISTRY/app:$sha" latest 2>"$WORK/crane.err" || die "crane tag latest: $(cat "$WORK/crane.err")"
digest=$("$CRANE" --insecure digest "$REGISTRY/app:latest")
expect "latest and :$sha are one image" "$("$CRANE" --insecure digest "$REGISTRY/app:$sha")" "$digest"
if "$CRANE" --insecure push "$IMAGES/other.tar" "$REGISTRY/app:$sha" >/dev/null 2>"$WORK/crane.err"; then
  failed "a second push of :$sha to the immutable repository succeeded"
else
  expect_contains "a second push of :$sha is refused" "$(cat "$WORK/crane.err")" "TAG_INVALID"
fi
expect "the tag still names the first image" "$("$CRANE" --insecure digest "$REGISTRY/app:$sha")" "$digest"

step "the lifecycle preview of the four rules"
# 12 prod-, 7 staging- and 5 feature- images would be too many to build;
# 14 images tagged in turn: 6 prod-, 4 staging-, 4 feature-.
i=0
for f in "$IMAGES"/tagged-*.tar; do
  case $i in
    [0-5]) tag=prod-$i ;;
    [6-9]) tag=staging-$i ;;
    *) tag=feature-$i ;;
  esac
  "$CRANE" --insecure push "$f" "$REGISTRY/app:$tag" >/dev/null 2>"$WORK/crane.err" || die "crane push :$tag: $(cat "$WORK/crane.err")"
  i=$((i + 1))
done
# The platform team previews (PowerUser may read a preview, not start one).
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
aws_ok ecr start-lifecycle-policy-preview --repository-name app >/dev/null
for _ in $(seq 50); do
  preview=$(aws_ok ecr get-lifecycle-policy-preview --repository-name app --output json)
  [[ $("$JQ" -r .status <<<"$preview") == COMPLETE ]] && break
  sleep 0.2
done
expect "the preview completes" "$("$JQ" -r .status <<<"$preview")" COMPLETE
# Rule 4 keeps the last 3 feature images: feature-10 (the oldest) goes;
# the prod and staging counts are under their limits.
expect_json "what the preview would expire" \
  "$("$JQ" -c '[.previewResults[] | {tags: .imageTags, rule: .appliedRulePriority}]' <<<"$preview")" \
  '[{"tags":["feature-10"],"rule":4}]'
expect "the summary" "$("$JQ" -r .summary.expiringImageTotalCount <<<"$preview")" 1

finish
