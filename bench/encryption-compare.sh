#!/usr/bin/env bash
# encryption-compare.sh: blob push and pull throughput of ecrd into a
# KMS-encrypted repository beside an AES256 one, on the same server, in the
# same run, with ecrd-load over HTTP (so AES256 pulls take the sendfile
# path and KMS pulls decrypt).
#
# Usage: bench/encryption-compare.sh [--repeat N] [--size 100MB] [--ecrd BIN] [--load BIN]
#
# Each run starts a fresh server, creates a KMS key and the repositories
# kms/push and kms/pull (KMS, that key) with the AWS CLI, then runs, in
# turn (the order alternating between runs), for each of aes and kms:
#   ecrd-load push -size SIZE -c 1 -n 10 -repo PREFIX
#   ecrd-load pull -size SIZE -c 2 -blobs 2 -n 20 -repo PREFIX
# (aes/push and aes/pull are created on push, AES256). It prints the
# median MB/s of each over the runs, and the ratios. Needs aws and jq.
set -euo pipefail

repeat=3
size=100MB
ecrd=
load=
while (($#)); do
  case $1 in
    --repeat) repeat=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --ecrd) ecrd=$2; shift 2 ;;
    --load) load=$2; shift 2 ;;
    *) echo "usage: $0 [--repeat N] [--size SIZE] [--ecrd BIN] [--load BIN]" >&2; exit 2 ;;
  esac
done

repo_root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ecrd-enc-bench.XXXXXX")
log() { printf '%s\n' "$*" >&2; }
if [[ -z $ecrd ]]; then
  (cd "$repo_root" && go build -o "$work/ecrd" ./cmd/ecrd)
  ecrd=$work/ecrd
fi
if [[ -z $load ]]; then
  (cd "$repo_root" && go build -o "$work/ecrd-load" ./cmd/ecrd-load)
  load=$work/ecrd-load
fi

key_id=AKIAENCBENCH00000000
secret=encryption-compare-secret-0123456789abcd
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

for run in $(seq "$repeat"); do
  port=$(free_port)
  url=http://127.0.0.1:$port
  rm -rf "$work/data"
  ECRD_ROOT_ACCESS_KEY_ID=$key_id ECRD_ROOT_SECRET_ACCESS_KEY=$secret \
    "$ecrd" serve --listen "127.0.0.1:$port" --data "$work/data" >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "$url/readyz" && break
    sleep 0.1
  done
  export AWS_ACCESS_KEY_ID=$key_id AWS_SECRET_ACCESS_KEY=$secret AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=
  arn=$(aws --endpoint-url "$url" kms create-key --query KeyMetadata.Arn --output text)
  for r in kms/push kms/pull; do
    aws --endpoint-url "$url" ecr create-repository --repository-name "$r" \
      --encryption-configuration "encryptionType=KMS,kmsKey=$arn" >/dev/null
  done
  order=(aes kms)
  ((run % 2)) || order=(kms aes)
  for prefix in "${order[@]}"; do
    for scenario in push pull; do
      args=(push -size "$size" -c 1 -n 10)
      [[ $scenario == pull ]] && args=(pull -size "$size" -c 2 -blobs 2 -n 20)
      sync
      "$load" "${args[@]}" -repo "$prefix" -ecr "$key_id:$secret" -watch-pid "$server_pid" -json "$url" \
        >"$work/$prefix.$scenario.$run.json"
      log "run $run: $prefix $scenario: $(jq -r '.mb_per_s | floor' "$work/$prefix.$scenario.$run.json") MB/s"
    done
  done
  kill -TERM "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=
done

median() { jq -s "map(.mb_per_s) | sort | .[(length - 1) / 2 | floor]" "$work"/"$1".*.json; }
printf '| %s blob | AES256 | KMS | KMS / AES256 |\n|---|---|---|---|\n' "$size"
for scenario in push pull; do
  a=$(median "aes.$scenario")
  k=$(median "kms.$scenario")
  printf '| %s | %.1f MB/s | %.1f MB/s | %.2fx |\n' "$scenario" "$a" "$k" "$(jq -n "$k / $a")"
done
