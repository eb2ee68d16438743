#!/usr/bin/env bash
# authz-compare.sh: what authorization costs a manifest GET by tag over
# HTTP, on 127.0.0.1. One ecrd serves both callers in the same run:
#
#   root     the account's root key's registry password, no repository
#            policy in force
#   session  a role session's registry password: the role has the AWS
#            managed PowerUser policy attached and an inline policy, the
#            session a session policy, and the repository a policy with a
#            condition
#
# Each caller runs ecrd-load manifest-get twice, alternating, so that
# drift on the machine falls on both.
set -euo pipefail
export LC_ALL=C

usage() {
  echo "usage: bench/authz-compare.sh --ecrd PATH [--load PATH] [--duration 10s] [--concurrency 8]" >&2
  exit "${1:-2}"
}

ecrd='' load='' duration=10s concurrency=8
while (($#)); do
  case $1 in
    --ecrd) ecrd=$2; shift 2 ;;
    --load) load=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "authz-compare.sh: unknown argument $1" >&2; usage ;;
  esac
done
[[ -x $ecrd ]] || usage
command -v aws >/dev/null || { echo "authz-compare.sh: needs the AWS CLI" >&2; exit 2; }
workdir=$(mktemp -d "${TMPDIR:-/tmp}/authz-compare.XXXXXX")
if [[ -z $load ]]; then
  load=$workdir/ecrd-load
  go build -o "$load" ./cmd/ecrd-load
fi
port=$((20000 + RANDOM % 20000))
url=http://127.0.0.1:$port
account=123456789012
export AWS_ACCESS_KEY_ID=AKIAAUTHZCOMPARE0001 AWS_SECRET_ACCESS_KEY=authz-compare-secret-key-0001
export AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL=$url AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
ECRD_ROOT_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID ECRD_ROOT_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
  "$ecrd" serve --listen "127.0.0.1:$port" --data "$workdir/data" --log-level warn 2>"$workdir/ecrd.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; true' EXIT
for _ in $(seq 100); do
  curl -fs -o /dev/null "$url/healthz" && break
  sleep 0.1
done

repo=ecrd-load/manifest
arn=arn:aws:ecr:us-east-1:$account:repository/$repo
aws ecr create-repository --repository-name "$repo" >/dev/null
aws ecr set-repository-policy --repository-name "$repo" --policy-text '{"Version":"2012-10-17","Statement":[
 {"Sid":"Pull","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::210987654321:root","333333333333"]},
  "Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],"Condition":{"StringEquals":{"aws:PrincipalAccount":["210987654321","333333333333"]}}},
 {"Sid":"NoDeletes","Effect":"Deny","Principal":"*","Action":"ecr:BatchDeleteImage"}]}' >/dev/null
aws iam create-role --role-name ci --assume-role-policy-document \
  '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::'$account':root"},"Action":"sts:AssumeRole"}]}' >/dev/null
aws iam attach-role-policy --role-name ci --policy-arn arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser
aws iam put-role-policy --role-name ci --policy-name no-prod --policy-document \
  '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ecr:*","Resource":"arn:aws:ecr:*:*:repository/prod/*"}]}'
read -r key secret token < <(aws sts assume-role --role-arn "arn:aws:iam::$account:role/ci" --role-session-name bench \
  --policy '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"}]}' \
  --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)
root_pw=$(aws ecr get-login-password)
session_pw=$(AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_SESSION_TOKEN=$token aws ecr get-login-password)

run() { # caller password
  "$load" manifest-get -c "$concurrency" -d "$duration" -u "AWS:$2" -json "$url" >"$workdir/$1.json"
  printf '%-8s %s\n' "$1" "$(jq -r '"\(.ops_per_s | floor) ops/s  p50 \(.p50_ms) ms  p99 \(.p99_ms) ms  errors \(.errors)"' "$workdir/$1.json")"
}
for round in 1 2; do
  echo "round $round"
  run root "$root_pw"
  run session "$session_pw"
done
