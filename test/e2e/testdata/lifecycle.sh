#!/usr/bin/env bash
# Drives a running ecrd's lifecycle policies with the AWS CLI v2 and the
# ecrd command, the way a platform team checks a policy before trusting
# it: images imported with chosen push times (ecrd import), the policy put,
# previewed, waited for, run, and the survivors listed. The repositories
# are the documented examples E5 to E10 of ECR's lifecycle policies; then
# each validation rule is broken once and ECR's message compared.
# TestLifecycleAWSCLI (lifecycle_test.go) starts a bare ecrd, writes one
# OCI image layout per image of each example under $LAYOUTS/<example>/<image>
# (with the image's tags), an isolated AWS configuration, and runs this
# script with:
#
#   AWS       the AWS CLI v2 (Debian's /usr/bin/aws)
#   ECRD      the ecrd binary (AWS_ENDPOINT_URL names the server, as for AWS)
#   JQ        jq
#   ENDPOINT  ecrd's URL
#   LAYOUTS   the image layouts
#   WORK      an empty scratch folder
#   ACCOUNT   the account of the root key the AWS configuration holds
# shellcheck disable=SC2016 # jq programs name their $variables in single quotes
set -Eeuo pipefail

: "${AWS:?}" "${ECRD:?}" "${JQ:?}" "${ENDPOINT:?}" "${LAYOUTS:?}" "${WORK:?}" "${ACCOUNT:?}"

trap 'echo "FAIL: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# import EXAMPLE IMAGE DAYS: imports the image's layout into the example's
# repository, pushed DAYS days ago (less an hour: "1 day ago" is younger
# than a day, as in the examples).
import() {
  local when
  when=$(date -u -d "-$3 days +1 hour" +%Y-%m-%dT%H:%M:%SZ)
  printf '+ ecrd import %s/%s pushed %s\n' "$1" "$2" "$when" >&2
  "$ECRD" import --quiet --repository "lifecycle/$1" --pushed-at "$when" "$LAYOUTS/$1/$2" >"$WORK/import.out" 2>&1 ||
    die "ecrd import $1/$2: $(cat "$WORK/import.out")"
}

# rule PRIORITY SELECTION: an expire rule.
rule() { printf '{"rulePriority":%s,"selection":%s,"action":{"type":"expire"}}' "$1" "$2"; }
count() { printf '{"tagStatus":"%s"%s,"countType":"imageCountMoreThan","countNumber":%s}' "$1" "$2" "$3"; }
age() { printf '{"tagStatus":"%s"%s,"countType":"sinceImagePushed","countUnit":"days","countNumber":%s}' "$1" "$2" "$3"; }
patterns() { printf ',"tagPatternList":%s' "$1"; }

# tags_of JSON: the sorted tag lists of describe-images or preview
# results, one image per line ("<untagged>" for none).
images_json='[.[] | (.imageTags // [] | sort | if length == 0 then "<untagged>" else join(",") end)] | sort'

# check EXAMPLE POLICY EXPIRED SURVIVORS: puts the policy, previews it,
# waits for the preview, compares what it would expire, runs it and
# compares what survives (JSON arrays of images as images_json writes
# them).
check() {
  local repo="lifecycle/$1" policy=$2 expired=$3 survivors=$4 out
  step "$1"
  out=$(aws_ok ecr put-lifecycle-policy --repository-name "$repo" --lifecycle-policy-text "$policy")
  expect "$1: put-lifecycle-policy echoes the text" "$("$JQ" -r .lifecyclePolicyText <<<"$out")" "$policy"
  out=$(aws_ok ecr start-lifecycle-policy-preview --repository-name "$repo")
  case $("$JQ" -r .status <<<"$out") in
  IN_PROGRESS | COMPLETE) ;;
  *) failed "$1: start-lifecycle-policy-preview answered $out" ;;
  esac
  aws_ok ecr wait lifecycle-policy-preview-complete --repository-name "$repo" >/dev/null
  out=$(aws_ok ecr get-lifecycle-policy-preview --repository-name "$repo")
  expect "$1: the preview is complete" "$("$JQ" -r .status <<<"$out")" COMPLETE
  expect_json "$1: the preview expires" "$("$JQ" -c ".previewResults | $images_json" <<<"$out")" "$expired"
  expect "$1: the summary counts them" "$("$JQ" -r .summary.expiringImageTotalCount <<<"$out")" "$("$JQ" length <<<"$expired")"
  expect_json "$1: every result is an expiry by a rule" \
    "$("$JQ" -c '[.previewResults[] | select(.action.type != "EXPIRE" or .appliedRulePriority < 1)]' <<<"$out")" '[]'
  # The preview touched nothing.
  out=$(aws_ok ecr describe-images --repository-name "$repo" --output json)
  expect "$1: nothing is deleted by the preview" "$("$JQ" '.imageDetails | length' <<<"$out")" "$(($("$JQ" length <<<"$expired") + $("$JQ" length <<<"$survivors")))"
  printf '+ ecrd lifecycle run --repository %s\n' "$repo" >&2
  "$ECRD" lifecycle run --repository "$repo" >"$WORK/run.out" 2>&1 || die "ecrd lifecycle run: $(cat "$WORK/run.out")"
  expect_contains "$1: ecrd lifecycle run" "$(cat "$WORK/run.out")" "expired images: $("$JQ" length <<<"$expired")"
  out=$(aws_ok ecr describe-images --repository-name "$repo" --output json)
  expect_json "$1: the survivors" "$("$JQ" -c ".imageDetails | $images_json" <<<"$out")" "$survivors"
  out=$(aws_ok ecr get-lifecycle-policy --repository-name "$repo")
  [[ $("$JQ" -r '.lastEvaluatedAt // empty' <<<"$out") != "" ]] || failed "$1: get-lifecycle-policy has no lastEvaluatedAt after the run"
}

for ex in e5 e6 e7 e8 e9 e10 validation; do
  aws_ok ecr create-repository --repository-name "lifecycle/$ex" >/dev/null
done

step "import the examples' images with their ages"
for ex in e5 e6; do # A [beta-1 prod-1] 10 days, B [beta-2 prod-2] 9, C [beta-3] 8
  import $ex a 10
  import $ex b 9
  import $ex c 8
done
import e7 a 12 # [alpha-1]
import e7 b 11 # [beta-1]
import e7 c 10 # [alpha-2 beta-2]
import e7 d 4  # [alpha-3]
import e7 e 3  # [beta-3]
import e7 f 2  # [alpha-4 beta-4]
import e8 a 10 # [alpha-1 beta-1 gamma-1]
import e8 b 9  # [alpha-2 beta-2]
import e8 c 8  # [alpha-3 beta-3 gamma-2]
import e9 a 4  # [alpha-1]
import e9 b 3  # [beta-1]
import e9 c 2  # untagged
import e9 d 1  # [alpha-2]
import e10 a 4 # [alpha-1 beta-1]
import e10 b 3 # untagged
import e10 c 2 # [alpha-2]
import e10 d 1 # [git-hash]
import e10 e 1 # untagged, imported after D: newer

prod=$(patterns '["prod*"]')
beta=$(patterns '["beta*"]')
alpha=$(patterns '["alpha*"]')
both=$(patterns '["alpha*","beta*"]')

# E5: rule 1 expires A; rule 2 may not expire B, which rule 1 keeps.
check e5 "{\"rules\":[$(rule 1 "$(count tagged "$prod" 1)"),$(rule 2 "$(count tagged "$beta" 1)")]}" \
  '["beta-1,prod-1"]' '["beta-2,prod-2","beta-3"]'
# E6: rule 1 sees all three and expires A and B; rule 2 sees nothing left.
check e6 "{\"rules\":[$(rule 1 "$(count tagged "$beta" 1)"),$(rule 2 "$(count tagged "$prod" 1)")]}" \
  '["beta-1,prod-1","beta-2,prod-2"]' '["beta-3"]'
# E7: only C and F carry both tags; C is older than five days.
check e7 "{\"rules\":[$(rule 1 "$(age tagged "$both" 5)")]}" \
  '["alpha-2,beta-2"]' '["alpha-1","alpha-3","alpha-4,beta-4","beta-1","beta-3"]'
# E8: tags are not exclusive: all three match, C (the newest) stays.
check e8 "{\"rules\":[$(rule 1 "$(count tagged "$both" 1)")]}" \
  '["alpha-1,beta-1,gamma-1","alpha-2,beta-2"]' '["alpha-3,beta-3,gamma-2"]'
# E9: any, keep one.
check e9 "{\"rules\":[$(rule 1 "$(count any "" 1)")]}" \
  '["<untagged>","alpha-1","beta-1"]' '["alpha-2"]'
# E10: every rule type; A by rule 1, B by rule 2, D by rule 3.
check e10 "{\"rules\":[$(rule 1 "$(count tagged "$alpha" 1)"),$(rule 2 "$(age untagged "" 1)"),$(rule 3 "$(count any "" 1)")]}" \
  '["<untagged>","alpha-1,beta-1","git-hash"]' '["<untagged>","alpha-2"]'

step "ecrd lifecycle preview looks ahead"
# E10 now holds C (alpha-2) and E (untagged, not yet a day old). Two days
# from now E is older than a day: rule 2 expires it.
when=$(date -u -d '+2 days' +%F)
printf '+ ecrd lifecycle preview --repository lifecycle/e10 --at %s\n' "$when" >&2
"$ECRD" lifecycle preview --repository lifecycle/e10 --at "$when" >"$WORK/preview.out" 2>&1 || die "ecrd lifecycle preview: $(cat "$WORK/preview.out")"
expect_contains "ecrd lifecycle preview --at $when" "$(cat "$WORK/preview.out")" "1 to expire, 0 to archive"
expect_contains "ecrd lifecycle preview names the rule" "$(cat "$WORK/preview.out")" "2     EXPIRE"
out=$(aws_ok ecr describe-images --repository-name lifecycle/e10 --output json)
expect "the look-ahead preview deleted nothing" "$("$JQ" '.imageDetails | length' <<<"$out")" 2

step "ecrd gc"
"$ECRD" gc >"$WORK/gc.out" 2>&1 || die "ecrd gc: $(cat "$WORK/gc.out")"
expect_contains "ecrd gc reports what it freed" "$(cat "$WORK/gc.out")" "blobs deleted: "

step "validation: each broken rule gets ECR's exception and message"
# invalid DETAIL POLICY: put-lifecycle-policy refuses POLICY with DETAIL.
invalid() {
  local text=$2
  while ((${#text} < 100)); do text="$text "; done
  aws_err InvalidParameterException PutLifecyclePolicy \
    "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: $1'" \
    ecr put-lifecycle-policy --repository-name lifecycle/validation --lifecycle-policy-text "$text"
}
one() { printf '{"rules":[%s]}' "$1"; }
invalid 'Could not map policyString into LifecyclePolicy.' '{"rules": ['
invalid 'object instance has properties which are not allowed by the schema: (["foo"])' \
  "$(one "{\"rulePriority\":1,\"foo\":true,\"selection\":$(count untagged "" 1),\"action\":{\"type\":\"expire\"}}")"
invalid 'object has missing required properties (["action"])' "$(one "{\"rulePriority\":1,\"selection\":$(count untagged "" 1)}")"
invalid 'object has missing required properties (["countNumber"])' \
  "$(one "$(rule 1 '{"tagStatus":"untagged","countType":"imageCountMoreThan"}')")"
invalid 'tagPrefixList or tagPatternList is required when tagStatus is tagged' "$(one "$(rule 1 "$(count tagged "" 1)")")"
invalid 'tagPrefixList and tagPatternList cannot both be specified' \
  "$(one "$(rule 1 "$(count tagged ',"tagPrefixList":["v"],"tagPatternList":["v*"]' 1)")")"
invalid 'tagPrefixList and tagPatternList are only allowed when tagStatus is tagged' \
  "$(one "$(rule 1 "$(count untagged ',"tagPrefixList":["v"]' 1)")")"
invalid 'rulePriority must be unique: 1' "{\"rules\":[$(rule 1 "$(count untagged "" 1)"),$(rule 1 "$(count tagged "$prod" 1)")]}"
invalid "Rule with tagStatus 'any' must have the highest rulePriority for its storage class" \
  "{\"rules\":[$(rule 1 "$(count any "" 1)"),$(rule 2 "$(count untagged "" 1)")]}"
invalid 'tagPatternList can have a maximum of four wildcards per pattern: test*1*2*3*4*5*6' \
  "$(one "$(rule 1 "$(count tagged "$(patterns '["test*1*2*3*4*5*6"]')" 1)")")"
invalid 'countUnit is not allowed when countType is imageCountMoreThan' \
  "$(one "$(rule 1 '{"tagStatus":"untagged","countType":"imageCountMoreThan","countUnit":"days","countNumber":1}')")"
invalid 'numeric instance is lower than the required minimum (minimum: 1, found: 0)' "$(one "$(rule 1 "$(count untagged "" 0)")")"
invalid 'countType sinceImagePulled cannot be used with action type expire' \
  "$(one "$(rule 1 '{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":30}')")"
invalid 'instance value (delete) not found in enum (possible values: ["expire","transition"])' \
  "$(one "{\"rulePriority\":1,\"selection\":$(count untagged "" 1),\"action\":{\"type\":\"delete\"}}")"
# (A text under 100 characters never leaves the AWS CLI, which checks the
# model's lengths itself; lifecycle_test.go sends one with the SDK.)
aws_err LifecyclePolicyNotFoundException GetLifecyclePolicy \
  "Lifecycle policy does not exist for the repository with name 'lifecycle/validation' in the registry with id '$ACCOUNT'" \
  ecr get-lifecycle-policy --repository-name lifecycle/validation
aws_err LifecyclePolicyPreviewNotFoundException GetLifecyclePolicyPreview "There is no dry run for this repository." \
  ecr get-lifecycle-policy-preview --repository-name lifecycle/validation

finish
