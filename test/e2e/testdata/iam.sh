#!/usr/bin/env bash
# Drives a running ecrd's IAM and STS with the AWS CLI v2, the way a
# platform team sets up access for CI: roles with their settings, tags,
# trust policies and permissions boundaries; the errors IAM answers with;
# inline and managed policies, their versions and attachments; GitHub's
# OpenID Connect provider and a role that trusts it; a user whose new
# access key is then used for STS and ECR; groups and their members; the
# policy simulator; sts assume-role; and denials that
# decode-authorization-message explains. TestIAMAWSCLI (iam_cli_test.go) starts a bare ecrd,
# writes an isolated AWS configuration holding the root key, and runs this
# script with:
#
#   AWS       the AWS CLI v2 (Debian's /usr/bin/aws)
#   JQ        jq
#   ENDPOINT  ecrd's URL
#   WORK      an empty scratch folder
#   ACCOUNT   the account of the root key the AWS configuration holds
#   REGION    the region the AWS configuration names
#   IAM_GROUPS (optional) the groups to run, e.g. "roles users"
#
# Each AWS CLI call takes most of a second of CPU, so the script runs five
# independent groups of checks at once, each with its own IAM names and
# scratch folder, and prints their logs one after the other. (A check of a
# whole listing, such as list-policies --scope Local, counts on no other
# group creating that kind of entity.) A command
# that must succeed and fails ends its group; a check of an answer that
# fails prints FAIL with what was expected and what came, and the group
# goes on. The script exits 1 if any check failed or any group ended early.
# shellcheck disable=SC2016 # jq programs name their $variables in single quotes
set -Eeuo pipefail

: "${AWS:?}" "${JQ:?}" "${ENDPOINT:?}" "${WORK:?}" "${ACCOUNT:?}" "${REGION:?}"

trap 'echo "FAIL: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

started=$(date +%s)

# jqr FILTER JSON: jq -r FILTER of JSON.
jqr() { "$JQ" -r "$1" <<<"$2"; }

# jqc FILTER JSON: jq -c FILTER of JSON.
jqc() { "$JQ" -c "$1" <<<"$2"; }

# expect_match WHAT GOT REGEX: a string matches an extended regular
# expression.
expect_match() {
  if [[ "$2" =~ $3 ]]; then
    printf 'ok: %s\n' "$1" >&2
  else
    failed "$1:
  got:  $2
  want: a match of $3"
  fi
}

# with_key ID SECRET TOKEN COMMAND...: runs COMMAND (aws_ok, aws_err...)
# signing with that key instead of the configuration's root key; TOKEN is
# a session token or empty.
with_key() {
  local id=$1 secret=$2 token=$3
  shift 3
  if [[ -n $token ]]; then
    AWS_ACCESS_KEY_ID=$id AWS_SECRET_ACCESS_KEY=$secret AWS_SESSION_TOKEN=$token "$@"
  else
    AWS_ACCESS_KEY_ID=$id AWS_SECRET_ACCESS_KEY=$secret "$@"
  fi
}

# aws_denied EXCEPTION OPERATION MESSAGE ARGS...: like aws_err, for an
# access denial: AWS's MESSAGE, then ". Encoded authorization failure
# message: " and the encoded message, which it leaves in $WORK/encoded for
# decode-authorization-message.
aws_denied() {
  local exception=$1 op=$2 message=$3 marker='. Encoded authorization failure message: '
  shift 3
  printf '+ aws %s   (want %s)\n' "$(show "$@")" "$exception" >&2
  local rc=0 got
  "${AWS_BIN:-$AWS}" --endpoint-url "$ENDPOINT" "$@" >"$WORK/aws.out" 2>"$WORK/aws.err" || rc=$?
  got=$(grep -v '^$' "$WORK/aws.err" || true)
  : >"$WORK/encoded"
  if ((rc != 254)); then
    failed "aws $(show "$@") exited with status $rc, want 254 (a service error) with $exception. It said:
$(cat "$WORK/aws.out" "$WORK/aws.err")"
    return
  fi
  expect "aws $(show "$@"): the denial" "${got%%"$marker"*}" "An error occurred ($exception) when calling the $op operation: $message"
  if [[ "$got" != *"$marker"?* ]]; then
    failed "aws $(show "$@"): the denial carries no encoded authorization message"
    return
  fi
  printf '%s' "${got#*"$marker"}" >"$WORK/encoded"
}

# The documents the groups use.
root_trust=$(printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"sts:AssumeRole"}]}' "$ACCOUNT")
read_only=arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly
power_user=arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser
repo_arn() { printf 'arn:aws:ecr:%s:%s:repository/%s' "$REGION" "$ACCOUNT" "$1"; }

# ---------------------------------------------------------------------------
# Roles: their settings, tags, trust policy, boundary, errors, inline
# policies, and the conflicts of deleting one.
group_roles() {
  local out want role_arn role_id trust2 pull_only
  step "roles: create-role with the defaults, and with a path, description, session limit and tags"
  out=$(aws_ok iam create-role --role-name other-role --assume-role-policy-document "$root_trust")
  expect "create-role without options: Path" "$(jqr .Role.Path "$out")" /
  expect "create-role without options: MaxSessionDuration" "$(jqr .Role.MaxSessionDuration "$out")" 3600

  out=$(aws_ok iam create-role --role-name ci-deployer --path /ci/ --assume-role-policy-document "$root_trust" \
    --description "Deploys from CI" --max-session-duration 7200 --tags Key=team,Value=platform Key=env,Value=ci)
  role_arn=arn:aws:iam::$ACCOUNT:role/ci/ci-deployer
  role_id=$(jqr .Role.RoleId "$out")
  expect "create-role: Arn" "$(jqr .Role.Arn "$out")" "$role_arn"
  expect_match "create-role: RoleId is a role's unique ID" "$role_id" '^AROA[A-Z0-9]{17}$'
  expect_recent "create-role: CreateDate" "$(jqr .Role.CreateDate "$out")"

  step "roles: get-role shows every setting, the trust policy decoded by the CLI"
  out=$(aws_ok iam get-role --role-name ci-deployer)
  want=$("$JQ" -n --arg arn "$role_arn" --arg id "$role_id" --argjson trust "$root_trust" '{
    Path: "/ci/", RoleName: "ci-deployer", RoleId: $id, Arn: $arn,
    AssumeRolePolicyDocument: $trust, Description: "Deploys from CI", MaxSessionDuration: 7200,
    Tags: [{Key: "env", Value: "ci"}, {Key: "team", Value: "platform"}], RoleLastUsed: {}}')
  expect_json "get-role ci-deployer (CreateDate aside, tags sorted)" \
    "$(jqc '.Role | del(.CreateDate) | .Tags |= sort_by(.Key)' "$out")" "$want"
  expect_recent "get-role: CreateDate" "$(jqr .Role.CreateDate "$out")"

  step "roles: list-roles, with and without --path-prefix"
  out=$(aws_ok iam list-roles --path-prefix /ci/)
  # (The CLI follows IsTruncated and Marker itself and leaves them out of
  # what it prints for the list calls it pages.)
  expect_json "list-roles --path-prefix /ci/ lists ci-deployer alone, without tags or last use" \
    "$(jqc '[.Roles[] | del(.CreateDate)]' "$out")" "[$(jqc 'del(.Tags, .RoleLastUsed)' "$want")]"
  out=$(aws_ok iam list-roles)
  expect "list-roles lists both roles" \
    "$(jqc '[.Roles[].RoleName | select(. == "ci-deployer" or . == "other-role")] | sort' "$out")" '["ci-deployer","other-role"]'

  step "roles: update-role, update-role-description, update-assume-role-policy"
  out=$(aws_ok iam update-role --role-name ci-deployer --max-session-duration 3600)
  expect "update-role prints nothing" "$out" ""
  out=$(aws_ok iam update-role-description --role-name ci-deployer --description "Deploys from CI, one hour at most")
  expect "update-role-description answers the role with its new description" \
    "$(jqr .Role.Description "$out")" "Deploys from CI, one hour at most"
  trust2=$(printf '{"Version":"2012-10-17","Statement":[{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}' "$ACCOUNT")
  out=$(aws_ok iam update-assume-role-policy --role-name ci-deployer --policy-document "$trust2")
  expect "update-assume-role-policy prints nothing" "$out" ""
  out=$(aws_ok iam get-role --role-name ci-deployer)
  expect "get-role after update-role: MaxSessionDuration" "$(jqr .Role.MaxSessionDuration "$out")" 3600
  expect "get-role after update-role-description: Description" "$(jqr .Role.Description "$out")" "Deploys from CI, one hour at most"
  expect_json "get-role after update-assume-role-policy: AssumeRolePolicyDocument" \
    "$(jqc .Role.AssumeRolePolicyDocument "$out")" "$trust2"

  step "roles: tag-role, untag-role, list-role-tags"
  aws_ok iam tag-role --role-name ci-deployer --tags Key=owner,Value=alice Key=env,Value=prod >/dev/null
  out=$(aws_ok iam list-role-tags --role-name ci-deployer)
  expect_json "list-role-tags after tag-role (env replaced, owner added)" "$(jqc '.Tags | sort_by(.Key)' "$out")" \
    '[{"Key":"env","Value":"prod"},{"Key":"owner","Value":"alice"},{"Key":"team","Value":"platform"}]'
  aws_ok iam untag-role --role-name ci-deployer --tag-keys team env >/dev/null
  out=$(aws_ok iam list-role-tags --role-name ci-deployer)
  expect_json "list-role-tags after untag-role team env" "$out" '{"Tags":[{"Key":"owner","Value":"alice"}],"IsTruncated":false}'

  step "roles: put-role-permissions-boundary, delete-role-permissions-boundary"
  aws_ok iam put-role-permissions-boundary --role-name ci-deployer --permissions-boundary "$read_only" >/dev/null
  out=$(aws_ok iam get-role --role-name ci-deployer)
  expect_json "get-role shows the boundary" "$(jqc .Role.PermissionsBoundary "$out")" \
    "{\"PermissionsBoundaryType\":\"Policy\",\"PermissionsBoundaryArn\":\"$read_only\"}"
  aws_ok iam delete-role-permissions-boundary --role-name ci-deployer >/dev/null
  out=$(aws_ok iam get-role --role-name ci-deployer)
  expect "get-role after delete-role-permissions-boundary has no boundary" "$(jqc '.Role | has("PermissionsBoundary")' "$out")" false

  step "roles: IAM's errors"
  aws_err EntityAlreadyExists CreateRole "Role with name ci-deployer already exists." \
    iam create-role --role-name ci-deployer --assume-role-policy-document "$root_trust"
  aws_err NoSuchEntity GetRole "The role with name nobody cannot be found." iam get-role --role-name nobody
  aws_err MalformedPolicyDocument CreateRole "Invalid principal in policy: \"AWS\":\"arn:aws:iam::$ACCOUNT:role/ghost\"" \
    iam create-role --role-name ghost-trust --assume-role-policy-document \
    "$(printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:role/ghost"},"Action":"sts:AssumeRole"}]}' "$ACCOUNT")"
  aws_err MalformedPolicyDocument CreateRole "Syntax errors in policy." \
    iam create-role --role-name bad-json --assume-role-policy-document 'this is not JSON'
  aws_err NoSuchEntity GetRole "The role with name ghost-trust cannot be found." iam get-role --role-name ghost-trust
  aws_err NoSuchEntity AttachRolePolicy "Policy arn:aws:iam::aws:policy/NoSuchPolicy does not exist or is not attachable." \
    iam attach-role-policy --role-name ci-deployer --policy-arn arn:aws:iam::aws:policy/NoSuchPolicy
  aws_ok iam attach-role-policy --role-name ci-deployer --policy-arn "$read_only" >/dev/null
  aws_err DeleteConflict DeleteRole "Cannot delete entity, must detach all policies first." iam delete-role --role-name ci-deployer

  step "roles: inline policies"
  pull_only=$(printf '{"Version":"2012-10-17","Statement":[{"Sid":"Pull","Effect":"Allow","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],"Resource":"arn:aws:ecr:%s:%s:repository/team/*"}]}' "$REGION" "$ACCOUNT")
  out=$(aws_ok iam put-role-policy --role-name ci-deployer --policy-name pull-only --policy-document "$pull_only")
  expect "put-role-policy prints nothing" "$out" ""
  out=$(aws_ok iam get-role-policy --role-name ci-deployer --policy-name pull-only)
  expect_json "get-role-policy: the document round-trips" "$out" \
    "{\"RoleName\":\"ci-deployer\",\"PolicyName\":\"pull-only\",\"PolicyDocument\":$pull_only}"
  out=$(aws_ok iam list-role-policies --role-name ci-deployer)
  expect_json "list-role-policies" "$out" '{"PolicyNames":["pull-only"]}'
  aws_ok iam detach-role-policy --role-name ci-deployer --policy-arn "$read_only" >/dev/null
  aws_err DeleteConflict DeleteRole "Cannot delete entity, must delete policies first." iam delete-role --role-name ci-deployer
  aws_ok iam delete-role-policy --role-name ci-deployer --policy-name pull-only >/dev/null
  out=$(aws_ok iam list-role-policies --role-name ci-deployer)
  expect_json "list-role-policies after delete-role-policy" "$(jqc .PolicyNames "$out")" '[]'
  aws_err NoSuchEntity GetRolePolicy "The role policy with name pull-only cannot be found." \
    iam get-role-policy --role-name ci-deployer --policy-name pull-only
  aws_ok iam delete-role --role-name ci-deployer >/dev/null
  aws_err NoSuchEntity GetRole "The role with name ci-deployer cannot be found." iam get-role --role-name ci-deployer
}

# ---------------------------------------------------------------------------
# Managed policies: versions, the version limit, attachments, listings,
# and deleting.
group_managed() {
  local out want doc1 doc2 arn id role_id v
  doc1=$(printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],"Resource":"arn:aws:ecr:*:%s:repository/team/*"}]}' "$ACCOUNT")
  doc2=$(printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:PutImage"],"Resource":"arn:aws:ecr:*:%s:repository/team/*"}]}' "$ACCOUNT")
  arn=arn:aws:iam::$ACCOUNT:policy/team/ecr-team-push

  step "managed: create-policy, get-policy"
  out=$(aws_ok iam create-policy --policy-name ecr-team-push --path /team/ --policy-document "$doc1" --description "Team push")
  id=$(jqr .Policy.PolicyId "$out")
  expect_match "create-policy: PolicyId is a policy's unique ID" "$id" '^ANPA[A-Z0-9]{17}$'
  want=$("$JQ" -n --arg arn "$arn" --arg id "$id" '{PolicyName: "ecr-team-push", PolicyId: $id, Arn: $arn, Path: "/team/",
    DefaultVersionId: "v1", AttachmentCount: 0, PermissionsBoundaryUsageCount: 0, IsAttachable: true}')
  expect_json "create-policy (dates and description aside)" "$(jqc '.Policy | del(.CreateDate, .UpdateDate, .Description)' "$out")" "$want"
  expect_recent "create-policy: CreateDate" "$(jqr .Policy.CreateDate "$out")"
  out=$(aws_ok iam get-policy --policy-arn "$arn")
  expect_json "get-policy (dates aside)" "$(jqc '.Policy | del(.CreateDate, .UpdateDate)' "$out")" \
    "$(jqc '.Description = "Team push"' "$want")"

  step "managed: policy versions"
  out=$(aws_ok iam create-policy-version --policy-arn "$arn" --policy-document "$doc2" --set-as-default)
  expect_json "create-policy-version --set-as-default" "$(jqc '.PolicyVersion | del(.CreateDate)' "$out")" \
    '{"VersionId":"v2","IsDefaultVersion":true}'
  out=$(aws_ok iam list-policy-versions --policy-arn "$arn")
  expect_json "list-policy-versions" "$(jqc '[.Versions[] | {VersionId, IsDefaultVersion, dated: (.CreateDate != null)}] | sort_by(.VersionId)' "$out")" \
    '[{"VersionId":"v1","IsDefaultVersion":false,"dated":true},{"VersionId":"v2","IsDefaultVersion":true,"dated":true}]'
  out=$(aws_ok iam get-policy-version --policy-arn "$arn" --version-id v1)
  expect_json "get-policy-version v1" "$(jqc '.PolicyVersion | del(.CreateDate)' "$out")" \
    "{\"VersionId\":\"v1\",\"IsDefaultVersion\":false,\"Document\":$doc1}"
  out=$(aws_ok iam get-policy-version --policy-arn "$arn" --version-id v2)
  expect_json "get-policy-version v2" "$(jqc '.PolicyVersion | del(.CreateDate)' "$out")" \
    "{\"VersionId\":\"v2\",\"IsDefaultVersion\":true,\"Document\":$doc2}"
  aws_err DeleteConflict DeletePolicyVersion "Cannot delete the default version of a policy." \
    iam delete-policy-version --policy-arn "$arn" --version-id v2
  for v in 3 4 5; do
    out=$(aws_ok iam create-policy-version --policy-arn "$arn" --policy-document "$doc1")
    expect_json "create-policy-version (version $v)" "$(jqc '.PolicyVersion | del(.CreateDate)' "$out")" \
      "{\"VersionId\":\"v$v\",\"IsDefaultVersion\":false}"
  done
  aws_err LimitExceeded CreatePolicyVersion \
    "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version." \
    iam create-policy-version --policy-arn "$arn" --policy-document "$doc1"

  step "managed: attachments"
  out=$(aws_ok iam create-role --role-name ecr-pusher --assume-role-policy-document "$root_trust")
  role_id=$(jqr .Role.RoleId "$out")
  aws_ok iam attach-role-policy --role-name ecr-pusher --policy-arn "$arn" >/dev/null
  aws_ok iam attach-role-policy --role-name ecr-pusher --policy-arn "$power_user" >/dev/null
  out=$(aws_ok iam list-attached-role-policies --role-name ecr-pusher)
  expect_json "list-attached-role-policies" "$(jqc '.AttachedPolicies | sort_by(.PolicyName)' "$out")" \
    "[{\"PolicyName\":\"AmazonEC2ContainerRegistryPowerUser\",\"PolicyArn\":\"$power_user\"},{\"PolicyName\":\"ecr-team-push\",\"PolicyArn\":\"$arn\"}]"
  out=$(aws_ok iam get-policy --policy-arn "$arn")
  expect "get-policy counts the attachment" "$(jqr .Policy.AttachmentCount "$out")" 1
  expect "get-policy: the default version is v2" "$(jqr .Policy.DefaultVersionId "$out")" v2
  out=$(aws_ok iam list-entities-for-policy --policy-arn "$arn")
  expect_json "list-entities-for-policy" "$out" \
    "{\"PolicyGroups\":[],\"PolicyUsers\":[],\"PolicyRoles\":[{\"RoleName\":\"ecr-pusher\",\"RoleId\":\"$role_id\"}]}"

  step "managed: list-policies by scope"
  out=$(aws_ok iam list-policies --scope Local)
  expect_json "list-policies --scope Local" "$(jqc '[.Policies[] | {Arn, DefaultVersionId, AttachmentCount}]' "$out")" \
    "[{\"Arn\":\"$arn\",\"DefaultVersionId\":\"v2\",\"AttachmentCount\":1}]"
  out=$(aws_ok iam list-policies --scope AWS)
  expect_json "list-policies --scope AWS: the AWS managed policies" "$(jqc '[.Policies[] | {PolicyName, Arn, Path}] | sort_by(.PolicyName)' "$out")" \
    "$("$JQ" -nc '["AdministratorAccess", "AmazonEC2ContainerRegistryFullAccess", "AmazonEC2ContainerRegistryPowerUser",
      "AmazonEC2ContainerRegistryPullOnly", "AmazonEC2ContainerRegistryReadOnly"]
      | map({PolicyName: ., Arn: "arn:aws:iam::aws:policy/\(.)", Path: "/"})')"

  step "managed: delete-policy"
  aws_err DeleteConflict DeletePolicy "Cannot delete a policy attached to entities." iam delete-policy --policy-arn "$arn"
  aws_ok iam detach-role-policy --role-name ecr-pusher --policy-arn "$arn" >/dev/null
  aws_ok iam detach-role-policy --role-name ecr-pusher --policy-arn "$power_user" >/dev/null
  out=$(aws_ok iam list-attached-role-policies --role-name ecr-pusher)
  expect_json "list-attached-role-policies after detach-role-policy" "$(jqc .AttachedPolicies "$out")" '[]'
  aws_err DeleteConflict DeletePolicy "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy." \
    iam delete-policy --policy-arn "$arn"
  for v in 1 3 4 5; do
    aws_ok iam delete-policy-version --policy-arn "$arn" --version-id "v$v" >/dev/null
  done
  out=$(aws_ok iam list-policy-versions --policy-arn "$arn")
  expect_json "list-policy-versions after delete-policy-version" "$(jqc '[.Versions[].VersionId]' "$out")" '["v2"]'
  aws_ok iam delete-policy --policy-arn "$arn" >/dev/null
  aws_err NoSuchEntity GetPolicy "Policy $arn was not found." iam get-policy --policy-arn "$arn"
}

# ---------------------------------------------------------------------------
# GitHub Actions' OpenID Connect provider, and roles that trust it.
group_oidc() {
  local out arn url=token.actions.githubusercontent.com trust
  local tp1=6938fd4d98bab03faadb97b34396831e3780aea1 tp2=1c58a3a8518e8759bf075b76b750d4f2df264fcd
  arn=arn:aws:iam::$ACCOUNT:oidc-provider/$url

  step "oidc: create-open-id-connect-provider, get, list"
  out=$(aws_ok iam create-open-id-connect-provider --url "https://$url" --client-id-list sts.amazonaws.com --thumbprint-list "$tp1")
  expect_json "create-open-id-connect-provider" "$(jqc . "$out")" "{\"OpenIDConnectProviderArn\":\"$arn\"}"
  aws_err EntityAlreadyExists CreateOpenIDConnectProvider "Provider with url https://$url already exists." \
    iam create-open-id-connect-provider --url "https://$url" --client-id-list sts.amazonaws.com --thumbprint-list "$tp1"
  out=$(aws_ok iam get-open-id-connect-provider --open-id-connect-provider-arn "$arn")
  expect_json "get-open-id-connect-provider (CreateDate aside)" "$(jqc 'del(.CreateDate)' "$out")" \
    "{\"Url\":\"$url\",\"ClientIDList\":[\"sts.amazonaws.com\"],\"ThumbprintList\":[\"$tp1\"]}"
  expect_recent "get-open-id-connect-provider: CreateDate" "$(jqr .CreateDate "$out")"
  out=$(aws_ok iam list-open-id-connect-providers)
  expect_json "list-open-id-connect-providers" "$out" "{\"OpenIDConnectProviderList\":[{\"Arn\":\"$arn\"}]}"

  step "oidc: client IDs and thumbprints"
  aws_ok iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn "$arn" --client-id my-audience >/dev/null
  out=$(aws_ok iam get-open-id-connect-provider --open-id-connect-provider-arn "$arn")
  expect_json "ClientIDList after add-client-id-to-open-id-connect-provider" "$(jqc '.ClientIDList | sort' "$out")" \
    '["my-audience","sts.amazonaws.com"]'
  aws_ok iam remove-client-id-from-open-id-connect-provider --open-id-connect-provider-arn "$arn" --client-id my-audience >/dev/null
  aws_ok iam update-open-id-connect-provider-thumbprint --open-id-connect-provider-arn "$arn" --thumbprint-list "$tp2" >/dev/null
  out=$(aws_ok iam get-open-id-connect-provider --open-id-connect-provider-arn "$arn")
  expect_json "ClientIDList after remove-client-id-from-open-id-connect-provider" "$(jqc .ClientIDList "$out")" '["sts.amazonaws.com"]'
  expect_json "ThumbprintList after update-open-id-connect-provider-thumbprint" "$(jqc .ThumbprintList "$out")" "[\"$tp2\"]"

  step "oidc: tags"
  aws_ok iam tag-open-id-connect-provider --open-id-connect-provider-arn "$arn" --tags Key=ci,Value=github-actions Key=team,Value=platform >/dev/null
  out=$(aws_ok iam list-open-id-connect-provider-tags --open-id-connect-provider-arn "$arn")
  expect_json "list-open-id-connect-provider-tags after tag-open-id-connect-provider" "$(jqc '.Tags | sort_by(.Key)' "$out")" \
    '[{"Key":"ci","Value":"github-actions"},{"Key":"team","Value":"platform"}]'
  aws_ok iam untag-open-id-connect-provider --open-id-connect-provider-arn "$arn" --tag-keys ci >/dev/null
  out=$(aws_ok iam list-open-id-connect-provider-tags --open-id-connect-provider-arn "$arn")
  expect_json "list-open-id-connect-provider-tags after untag-open-id-connect-provider" "$out" \
    '{"Tags":[{"Key":"team","Value":"platform"}],"IsTruncated":false}'

  step "oidc: a role trusting the provider, accepted only while the provider exists"
  trust=$("$JQ" -nc --arg arn "$arn" --arg url "$url" '{Version: "2012-10-17", Statement: [{Effect: "Allow",
    Principal: {Federated: $arn}, Action: "sts:AssumeRoleWithWebIdentity",
    Condition: {StringEquals: {"\($url):aud": "sts.amazonaws.com"}, StringLike: {"\($url):sub": "repo:octo-org/octo-repo:*"}}}]}')
  out=$(aws_ok iam create-role --role-name gha-deployer --assume-role-policy-document "$trust")
  expect_json "create-role gha-deployer: its trust policy" "$(jqc .Role.AssumeRolePolicyDocument "$out")" "$trust"
  aws_ok iam delete-open-id-connect-provider --open-id-connect-provider-arn "$arn" >/dev/null
  out=$(aws_ok iam list-open-id-connect-providers)
  expect_json "list-open-id-connect-providers after delete" "$out" '{"OpenIDConnectProviderList":[]}'
  aws_err NoSuchEntity GetOpenIDConnectProvider "OpenIDConnect provider not found for arn $arn" \
    iam get-open-id-connect-provider --open-id-connect-provider-arn "$arn"
  aws_err MalformedPolicyDocument CreateRole "Invalid principal in policy: \"Federated\":\"$arn\"" \
    iam create-role --role-name gha-deployer-2 --assume-role-policy-document "$trust"
}

# ---------------------------------------------------------------------------
# A user and its access key, used for STS and ECR.
group_users() {
  local out want user_arn user_id key secret
  user_arn=arn:aws:iam::$ACCOUNT:user/ci-bot
  aws_ok ecr create-repository --repository-name iam-e2e/app >/dev/null

  step "users: create-user, get-user, list-users"
  out=$(aws_ok iam create-user --user-name ci-bot)
  user_id=$(jqr .User.UserId "$out")
  expect_match "create-user: UserId is a user's unique ID" "$user_id" '^AIDA[A-Z0-9]{17}$'
  want=$("$JQ" -nc --arg arn "$user_arn" --arg id "$user_id" '{Path: "/", UserName: "ci-bot", UserId: $id, Arn: $arn}')
  expect_json "create-user (CreateDate aside)" "$(jqc '.User | del(.CreateDate)' "$out")" "$want"
  expect_recent "create-user: CreateDate" "$(jqr .User.CreateDate "$out")"
  out=$(aws_ok iam get-user --user-name ci-bot)
  expect_json "get-user (CreateDate aside)" "$(jqc '.User | del(.CreateDate)' "$out")" "$want"
  out=$(aws_ok iam list-users)
  expect_json "list-users lists ci-bot" "$(jqc '[.Users[] | select(.UserName == "ci-bot") | del(.CreateDate)]' "$out")" "[$want]"

  step "users: create-access-key, list-access-keys"
  out=$(aws_ok iam create-access-key --user-name ci-bot)
  key=$(jqr .AccessKey.AccessKeyId "$out")
  secret=$(jqr .AccessKey.SecretAccessKey "$out")
  expect_match "create-access-key: AccessKeyId" "$key" '^AKIA[A-Z0-9]{16}$'
  expect_match "create-access-key: SecretAccessKey is 40 characters" "$secret" '^[A-Za-z0-9/+]{40}$'
  expect "create-access-key: UserName" "$(jqr .AccessKey.UserName "$out")" ci-bot
  expect "create-access-key: Status" "$(jqr .AccessKey.Status "$out")" Active
  expect_recent "create-access-key: CreateDate" "$(jqr .AccessKey.CreateDate "$out")"
  out=$(aws_ok iam list-access-keys --user-name ci-bot)
  expect_json "list-access-keys (CreateDate aside)" "$(jqc '.AccessKeyMetadata | map(del(.CreateDate))' "$out")" \
    "[{\"UserName\":\"ci-bot\",\"AccessKeyId\":\"$key\",\"Status\":\"Active\"}]"

  step "users: the new key signs requests as the user"
  out=$(with_key "$key" "$secret" "" aws_ok sts get-caller-identity)
  expect_json "sts get-caller-identity with the user's key" "$out" \
    "{\"UserId\":\"$user_id\",\"Account\":\"$ACCOUNT\",\"Arn\":\"$user_arn\"}"
  with_key "$key" "$secret" "" aws_denied AccessDeniedException DescribeRepositories \
    "User: $user_arn is not authorized to perform: ecr:DescribeRepositories on resource: $(repo_arn '*') because no identity-based policy allows the ecr:DescribeRepositories action" \
    ecr describe-repositories
  aws_ok iam attach-user-policy --user-name ci-bot --policy-arn "$read_only" >/dev/null
  out=$(with_key "$key" "$secret" "" aws_ok ecr describe-repositories)
  expect_json "ecr describe-repositories with the user's key, ReadOnly attached" \
    "$(jqc '[.repositories[].repositoryName]' "$out")" '["iam-e2e/app"]'

  step "users: an inactive key is refused"
  aws_ok iam update-access-key --user-name ci-bot --access-key-id "$key" --status Inactive >/dev/null
  out=$(aws_ok iam list-access-keys --user-name ci-bot)
  expect "list-access-keys after update-access-key --status Inactive" "$(jqr '.AccessKeyMetadata[0].Status' "$out")" Inactive
  with_key "$key" "$secret" "" aws_err InvalidClientTokenId GetCallerIdentity \
    "The security token included in the request is invalid." sts get-caller-identity
  with_key "$key" "$secret" "" aws_err UnrecognizedClientException DescribeRepositories \
    "The security token included in the request is invalid." ecr describe-repositories

  step "users: delete-user"
  aws_err DeleteConflict DeleteUser "Cannot delete entity, must delete access keys first." iam delete-user --user-name ci-bot
  aws_ok iam delete-access-key --user-name ci-bot --access-key-id "$key" >/dev/null
  aws_err DeleteConflict DeleteUser "Cannot delete entity, must detach all policies first." iam delete-user --user-name ci-bot
  aws_ok iam detach-user-policy --user-name ci-bot --policy-arn "$read_only" >/dev/null
  aws_ok iam delete-user --user-name ci-bot >/dev/null
  aws_err NoSuchEntity GetUser "The user with name ci-bot cannot be found." iam get-user --user-name ci-bot
}

# ---------------------------------------------------------------------------
# The policy simulator on a role's policies, then sts assume-role by a user.
group_simulate_sts() {
  local out no_prod role_arn role_id user_arn key secret session
  step "simulate-principal-policy: PowerUser attached, an inline deny of pushes to prod/*"
  role_arn=arn:aws:iam::$ACCOUNT:role/sim-role
  aws_ok iam create-role --role-name sim-role --assume-role-policy-document "$root_trust" >/dev/null
  aws_ok iam attach-role-policy --role-name sim-role --policy-arn "$power_user" >/dev/null
  no_prod='{"Version":"2012-10-17","Statement":[{"Sid":"NoProdPush","Effect":"Deny","Action":"ecr:PutImage","Resource":"arn:aws:ecr:*:*:repository/prod/*"}]}'
  aws_ok iam put-role-policy --role-name sim-role --policy-name no-prod-push --policy-document "$no_prod" >/dev/null
  out=$(aws_ok iam simulate-principal-policy --policy-source-arn "$role_arn" \
    --action-names ecr:PutImage ecr:DeleteRepository --resource-arns "$(repo_arn team/app)" "$(repo_arn prod/app)")
  expect_json "simulate-principal-policy: each decision and the policies that made it" \
    "$(jqc '[.EvaluationResults[] | {action: .EvalActionName, resource: .EvalResourceName, decision: .EvalDecision,
      by: [.MatchedStatements[]?.SourcePolicyId]}] | sort_by(.action, .resource)' "$out")" \
    "$("$JQ" -nc --arg team "$(repo_arn team/app)" --arg prod "$(repo_arn prod/app)" '[
      {action: "ecr:DeleteRepository", resource: $prod, decision: "implicitDeny", by: []},
      {action: "ecr:DeleteRepository", resource: $team, decision: "implicitDeny", by: []},
      {action: "ecr:PutImage", resource: $prod, decision: "explicitDeny", by: ["no-prod-push"]},
      {action: "ecr:PutImage", resource: $team, decision: "allowed", by: ["AmazonEC2ContainerRegistryPowerUser"]}]')"
  expect_json "simulate-principal-policy: the matched policies are IAM policies" \
    "$(jqc '[.EvaluationResults[].MatchedStatements[]?.SourcePolicyType] | unique' "$out")" '["IAM Policy"]'

  step "sts assume-role by a user allowed sts:AssumeRole"
  out=$(aws_ok iam create-role --role-name assumable --assume-role-policy-document "$root_trust")
  role_arn=arn:aws:iam::$ACCOUNT:role/assumable
  role_id=$(jqr .Role.RoleId "$out")
  user_arn=arn:aws:iam::$ACCOUNT:user/deployer
  aws_ok iam create-user --user-name deployer >/dev/null
  out=$(aws_ok iam create-access-key --user-name deployer)
  key=$(jqr .AccessKey.AccessKeyId "$out")
  secret=$(jqr .AccessKey.SecretAccessKey "$out")
  with_key "$key" "$secret" "" aws_denied AccessDenied AssumeRole \
    "User: $user_arn is not authorized to perform: sts:AssumeRole on resource: $role_arn" \
    sts assume-role --role-arn "$role_arn" --role-session-name e2e-session
  aws_denied AccessDenied AssumeRole \
    "User: arn:aws:iam::$ACCOUNT:root is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::$ACCOUNT:role/no-such-role" \
    sts assume-role --role-arn "arn:aws:iam::$ACCOUNT:role/no-such-role" --role-session-name e2e-session
  aws_ok iam put-user-policy --user-name deployer --policy-name assume \
    --policy-document "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Resource\":\"$role_arn\"}]}" >/dev/null
  out=$(with_key "$key" "$secret" "" aws_ok sts assume-role --role-arn "$role_arn" --role-session-name e2e-session)
  session=arn:aws:sts::$ACCOUNT:assumed-role/assumable/e2e-session
  expect_json "assume-role: AssumedRoleUser" "$(jqc .AssumedRoleUser "$out")" \
    "{\"AssumedRoleId\":\"$role_id:e2e-session\",\"Arn\":\"$session\"}"
  expect_match "assume-role: a temporary AccessKeyId" "$(jqr .Credentials.AccessKeyId "$out")" '^ASIA[A-Z0-9]{16}$'
  expect_match "assume-role: a SessionToken" "$(jqr .Credentials.SessionToken "$out")" '^.{16,}$'
  local expires now
  expires=$(date -d "$(jqr .Credentials.Expiration "$out")" +%s)
  now=$(date +%s)
  if ((expires < now + 3600 - 60 || expires > now + 3600 + 5)); then
    failed "assume-role: Expiration $(jqr .Credentials.Expiration "$out") is not an hour from now ($(date -u -d "@$now" +%FT%TZ))"
  else
    printf 'ok: assume-role: Expiration is an hour from now\n' >&2
  fi
  local id sk token
  id=$(jqr .Credentials.AccessKeyId "$out")
  sk=$(jqr .Credentials.SecretAccessKey "$out")
  token=$(jqr .Credentials.SessionToken "$out")
  out=$(with_key "$id" "$sk" "$token" aws_ok sts get-caller-identity)
  expect_json "sts get-caller-identity with the session's credentials" "$out" \
    "{\"UserId\":\"$role_id:e2e-session\",\"Account\":\"$ACCOUNT\",\"Arn\":\"$session\"}"
  with_key "$id" "$sk" "$token" aws_denied AccessDeniedException DescribeRepositories \
    "User: $session is not authorized to perform: ecr:DescribeRepositories on resource: $(repo_arn '*') because no identity-based policy allows the ecr:DescribeRepositories action" \
    ecr describe-repositories
  out=$(aws_ok iam get-role --role-name assumable)
  expect_recent "get-role after assume-role: RoleLastUsed.LastUsedDate" "$(jqr '.Role.RoleLastUsed.LastUsedDate // "never"' "$out")"
  expect_json "get-role after assume-role: RoleLastUsed.Region" "$(jqc .Role.RoleLastUsed.Region "$out")" "\"$REGION\""
}

# ---------------------------------------------------------------------------
# Groups: members share the group's policies; the calls Terraform makes to
# destroy a user; renaming; the last use of an access key; a denial the
# CLI decodes.
group_groups() {
  local out group_arn group_id user_arn key secret decoded
  group_arn=arn:aws:iam::$ACCOUNT:group/team/grp-devs
  user_arn=arn:aws:iam::$ACCOUNT:user/grp-member

  step "groups: create-group, get-group, list-groups"
  out=$(aws_ok iam create-group --group-name grp-devs --path /team/)
  group_id=$(jqr .Group.GroupId "$out")
  expect_match "create-group: GroupId is a group's unique ID" "$group_id" '^AGPA[A-Z0-9]{17}$'
  expect_json "create-group (CreateDate aside)" "$(jqc '.Group | del(.CreateDate)' "$out")" \
    "{\"Path\":\"/team/\",\"GroupName\":\"grp-devs\",\"GroupId\":\"$group_id\",\"Arn\":\"$group_arn\"}"
  aws_err EntityAlreadyExists CreateGroup "Group with name GRP-DEVS already exists." iam create-group --group-name GRP-DEVS
  out=$(aws_ok iam list-groups --path-prefix /team/)
  expect "list-groups --path-prefix /team/" "$(jqc '[.Groups[].GroupName]' "$out")" '["grp-devs"]'
  aws_err NoSuchEntity GetGroup "The group with name grp-nope cannot be found." iam get-group --group-name grp-nope

  step "groups: members get the group's policies"
  aws_ok iam create-user --user-name grp-member >/dev/null
  out=$(aws_ok iam create-access-key --user-name grp-member)
  key=$(jqr .AccessKey.AccessKeyId "$out")
  secret=$(jqr .AccessKey.SecretAccessKey "$out")
  out=$(aws_ok iam get-access-key-last-used --access-key-id "$key")
  expect_json "get-access-key-last-used of a key never used" "$out" \
    '{"UserName":"grp-member","AccessKeyLastUsed":{"ServiceName":"N/A","Region":"N/A"}}'
  aws_ok iam put-group-policy --group-name grp-devs --policy-name no-listing \
    --policy-document '{"Version":"2012-10-17","Statement":[{"Sid":"NoListing","Effect":"Deny","Action":"ecr:DescribeRepositories","Resource":"*"}]}' >/dev/null
  aws_ok iam attach-group-policy --group-name grp-devs --policy-arn "$read_only" >/dev/null
  with_key "$key" "$secret" "" aws_denied AccessDeniedException GetAuthorizationToken \
    "User: $user_arn is not authorized to perform: ecr:GetAuthorizationToken on resource: * because no identity-based policy allows the ecr:GetAuthorizationToken action" \
    ecr get-authorization-token
  aws_ok iam add-user-to-group --group-name grp-devs --user-name grp-member >/dev/null
  out=$(aws_ok iam get-group --group-name grp-devs)
  expect_json "get-group: the group and its member" "$(jqc '{g: .Group.GroupName, users: [.Users[].UserName]}' "$out")" \
    '{"g":"grp-devs","users":["grp-member"]}'
  out=$(aws_ok iam list-groups-for-user --user-name grp-member)
  expect "list-groups-for-user" "$(jqc '[.Groups[].Arn]' "$out")" "[\"$group_arn\"]"
  out=$(aws_ok iam list-group-policies --group-name grp-devs)
  expect "list-group-policies" "$(jqc .PolicyNames "$out")" '["no-listing"]'
  out=$(aws_ok iam get-group-policy --group-name grp-devs --policy-name no-listing)
  expect "get-group-policy: the statement" "$(jqr '.PolicyDocument.Statement[0].Sid' "$out")" NoListing
  out=$(aws_ok iam list-attached-group-policies --group-name grp-devs)
  expect "list-attached-group-policies" "$(jqc '[.AttachedPolicies[].PolicyArn]' "$out")" "[\"$read_only\"]"
  out=$(aws_ok iam list-entities-for-policy --policy-arn "$read_only" --entity-filter Group)
  expect_json "list-entities-for-policy --entity-filter Group" "$(jqc .PolicyGroups "$out")" \
    "[{\"GroupName\":\"grp-devs\",\"GroupId\":\"$group_id\"}]"
  out=$(with_key "$key" "$secret" "" aws_ok ecr get-authorization-token)
  expect_match "a member logs in with the group's ReadOnly" "$(jqr '.authorizationData[0].authorizationToken' "$out")" '^QVdTO'
  out=$(aws_ok iam get-access-key-last-used --access-key-id "$key")
  expect "get-access-key-last-used: ServiceName" "$(jqr .AccessKeyLastUsed.ServiceName "$out")" ecr
  expect "get-access-key-last-used: Region" "$(jqr .AccessKeyLastUsed.Region "$out")" "$REGION"
  expect_recent "get-access-key-last-used: LastUsedDate" "$(jqr .AccessKeyLastUsed.LastUsedDate "$out")"

  step "groups: a denial by the group's inline policy, decoded by decode-authorization-message"
  with_key "$key" "$secret" "" aws_denied AccessDeniedException DescribeRepositories \
    "User: $user_arn is not authorized to perform: ecr:DescribeRepositories on resource: $(repo_arn '*') with an explicit deny in an identity-based policy" \
    ecr describe-repositories
  out=$(aws_ok sts decode-authorization-message --encoded-message "$(cat "$WORK/encoded")")
  decoded=$(jqr .DecodedMessage "$out")
  expect_json "decode-authorization-message: the deciding statement" \
    "$(jqc '{allowed, explicitDeny, deny: [.matchedStatements.items[] | select(.effect == "DENY") | {statementId, policy, policyType}]}' "$decoded")" \
    '{"allowed":false,"explicitDeny":true,"deny":[{"statementId":"NoListing","policy":"no-listing (group grp-devs)","policyType":"identity-based"}]}'
  expect_json "decode-authorization-message: the context" \
    "$(jqc '.context | {principal: .principal.arn, action, resource}' "$decoded")" \
    "{\"principal\":\"$user_arn\",\"action\":\"ecr:DescribeRepositories\",\"resource\":\"$(repo_arn '*')\"}"
  aws_err InvalidAuthorizationMessageException DecodeAuthorizationMessage \
    "The encoded authorization message is not valid: it was not issued by this server for account $ACCOUNT." \
    sts decode-authorization-message --encoded-message not-a-message

  step "groups: renaming the group and the user keeps the membership and the key"
  aws_ok iam update-group --group-name grp-devs --new-group-name grp-developers >/dev/null
  aws_ok iam update-user --user-name grp-member --new-user-name grp-dev --new-path /people/ >/dev/null
  user_arn=arn:aws:iam::$ACCOUNT:user/people/grp-dev
  out=$(aws_ok iam list-groups-for-user --user-name grp-dev)
  expect "list-groups-for-user after the renames" "$(jqc '[.Groups[].GroupName]' "$out")" '["grp-developers"]'
  out=$(with_key "$key" "$secret" "" aws_ok sts get-caller-identity)
  expect "the key signs as the renamed user" "$(jqr .Arn "$out")" "$user_arn"
  aws_err NoSuchEntity GetUser "The user with name grp-member cannot be found." iam get-user --user-name grp-member

  step "groups: what Terraform's force_destroy lists before deleting a user"
  aws_err NoSuchEntity GetLoginProfile "Login Profile for User grp-dev cannot be found." iam get-login-profile --user-name grp-dev
  aws_err NoSuchEntity DeleteLoginProfile "Login Profile for User grp-dev cannot be found." iam delete-login-profile --user-name grp-dev
  aws_err NoSuchEntity GetLoginProfile "The user with name grp-nobody cannot be found." iam get-login-profile --user-name grp-nobody
  aws_err NoSuchEntity ListMFADevices "The user with name grp-nobody cannot be found." iam list-mfa-devices --user-name grp-nobody
  out=$(aws_ok iam list-mfa-devices --user-name grp-dev)
  expect_json "list-mfa-devices" "$out" '{"MFADevices":[]}'
  out=$(aws_ok iam list-ssh-public-keys --user-name grp-dev)
  expect_json "list-ssh-public-keys" "$out" '{"SSHPublicKeys":[]}'
  out=$(aws_ok iam list-signing-certificates --user-name grp-dev)
  expect_json "list-signing-certificates" "$out" '{"Certificates":[]}'
  out=$(aws_ok iam list-service-specific-credentials --user-name grp-dev)
  expect_json "list-service-specific-credentials" "$out" '{"ServiceSpecificCredentials":[]}'
  out=$(aws_ok iam list-virtual-mfa-devices --assignment-status Assigned)
  expect_json "list-virtual-mfa-devices" "$out" '{"VirtualMFADevices":[]}'

  step "groups: deleting, in the order IAM requires"
  aws_ok iam delete-access-key --user-name grp-dev --access-key-id "$key" >/dev/null
  aws_err DeleteConflict DeleteUser "Cannot delete entity, must remove users from group first." iam delete-user --user-name grp-dev
  aws_err DeleteConflict DeleteGroup "Cannot delete entity, must remove users from group first." iam delete-group --group-name grp-developers
  aws_ok iam remove-user-from-group --group-name grp-developers --user-name grp-dev >/dev/null
  aws_ok iam delete-user --user-name grp-dev >/dev/null
  aws_err DeleteConflict DeleteGroup "Cannot delete entity, must delete policies first." iam delete-group --group-name grp-developers
  aws_ok iam delete-group-policy --group-name grp-developers --policy-name no-listing >/dev/null
  aws_err DeleteConflict DeleteGroup "Cannot delete entity, must detach all policies first." iam delete-group --group-name grp-developers
  aws_ok iam detach-group-policy --group-name grp-developers --policy-arn "$read_only" >/dev/null
  aws_ok iam delete-group --group-name grp-developers >/dev/null
  aws_err NoSuchEntity GetGroup "The group with name grp-developers cannot be found." iam get-group --group-name grp-developers
}

"$AWS" --version >&2

# run_group NAME: runs group_NAME with its own scratch folder and count of
# failed checks, which it writes to $WORK/NAME/failures if it gets to its
# end.
run_group() {
  local WORK=$WORK/$1 failures=0
  mkdir -p "$WORK"
  "group_$1"
  echo "$failures" >"$WORK/failures"
}

# The groups run at once, in the background; IAM_GROUPS may name some of
# them, to run only those.
read -ra groups <<<"${IAM_GROUPS:-roles managed oidc users groups simulate_sts}"
declare -A pids
for g in "${groups[@]}"; do
  run_group "$g" >"$WORK/$g.log" 2>&1 &
  pids[$g]=$!
done
for g in "${groups[@]}"; do
  wait "${pids[$g]}" || true
  printf '\n######## %s\n' "$g" >&2
  cat "$WORK/$g.log" >&2
  if [[ -f "$WORK/$g/failures" ]]; then
    failures=$((failures + $(cat "$WORK/$g/failures")))
  else
    failed "the $g group stopped before its end (see its log above)"
  fi
done
printf '\nran for %ss\n' "$(($(date +%s) - started))" >&2

finish
