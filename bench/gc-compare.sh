#!/usr/bin/env bash
# gc-compare.sh: garbage collection in ecrd beside distribution's, on the
# same content, on 127.0.0.1, one server at a time.
#
# For each registry: push N small images (one 4 KB layer, a config and a
# tagged manifest each, with ecrd-load), delete every second image by
# digest through /v2, then collect garbage and time it:
#
#   ecrd          online: the server keeps serving; `ecrd gc` asks it to
#                 collect (grace 1 s, waited out first)
#   distribution  offline, as it requires: the server is stopped, then
#                 `registry garbage-collect CONFIG` runs on its storage
#
# and count the blob files before and after. ecrd runs with
# --accept-any-credentials so that curl can delete with a fixed password;
# the collection is the same code either way.
set -euo pipefail
export LC_ALL=C

usage() {
  echo "usage: bench/gc-compare.sh --ecrd PATH --distribution PATH [--images N] [--load PATH] [--workdir DIR]" >&2
  exit "${1:-2}"
}

ecrd='' distribution='' images=2000 load='' workdir=''
while (($#)); do
  case $1 in
    --ecrd) ecrd=$2; shift 2 ;;
    --distribution) distribution=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    --load) load=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "gc-compare.sh: unknown argument $1" >&2; usage ;;
  esac
done
[[ -x $ecrd && -x $distribution ]] || usage
workdir=$(mktemp -d "${workdir:-${TMPDIR:-/tmp}}/gc-compare.XXXXXX")
if [[ -z $load ]]; then
  load=$workdir/ecrd-load
  go build -o "$load" ./cmd/ecrd-load
fi
port=$((20000 + RANDOM % 20000))
url=http://127.0.0.1:$port
repo=ecrd-load/image
pid=''
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; true' EXIT

wait_up() {
  for _ in $(seq 100); do
    curl -fs -o /dev/null -u AWS:x "$url/v2/" && return
    sleep 0.1
  done
  echo "gc-compare.sh: $1 did not start" >&2
  exit 1
}


# push_and_delete: N images, then every second one deleted by digest.
push_and_delete() {
  "$load" push -layers 1 -size 4096 -n "$images" -c 8 "$@" "$url" >"$workdir/push.out"
  local tags='' page last='' tag d i=0
  while :; do # the tag list, a page at a time
    page=$(curl -fs -u AWS:x "$url/v2/$repo/tags/list?n=1000&last=$last" | jq -r '.tags // [] | .[]')
    [[ -n $page ]] || break
    tags+="$page"$'\n'
    last=$(tail -n1 <<<"$page")
  done
  for tag in $tags; do
    i=$((i + 1))
    ((i % 2 == 0)) || continue
    d=$(curl -fsI -u AWS:x -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$url/v2/$repo/manifests/$tag" |
      tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}')
    curl -fs -o /dev/null -X DELETE -u AWS:x "$url/v2/$repo/manifests/$d"
  done
  echo "$((i / 2))"
}

# ecrd
data=$workdir/ecrd-data
"$ecrd" serve --listen "127.0.0.1:$port" --data "$data" --accept-any-credentials \
  --gc-grace 1s --gc-interval -1s --lifecycle-interval -1s --log-level warn 2>"$workdir/ecrd.log" &
pid=$!
wait_up ecrd
deleted=$(push_and_delete -ecr 123456789012:x)
before=$(find "$data/blobs" -type f | wc -l)
sleep 1.5
start=$(date +%s.%N)
AWS_ACCESS_KEY_ID=123456789012 AWS_SECRET_ACCESS_KEY=x "$ecrd" gc --endpoint "$url" >"$workdir/ecrd-gc.out"
ecrd_secs=$(echo "$(date +%s.%N) - $start" | bc)
after=$(find "$data/blobs" -type f | wc -l)
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=''
echo "ecrd: $images images pushed, $deleted deleted; blob files $before -> $after; gc ${ecrd_secs}s (server online)"
ecrd_line="| ecrd (online) | $before | $after | $ecrd_secs |"

# distribution
root=$workdir/dist-data
cat >"$workdir/dist.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $root
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  secret: gc-compare
EOF
OTEL_TRACES_EXPORTER=none "$distribution" serve "$workdir/dist.yml" >"$workdir/dist.log" 2>&1 &
pid=$!
wait_up distribution
deleted=$(push_and_delete -u AWS:x)
before=$(find "$root/docker/registry/v2/blobs" -type f | wc -l)
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=''
start=$(date +%s.%N)
OTEL_TRACES_EXPORTER=none "$distribution" garbage-collect "$workdir/dist.yml" >"$workdir/dist-gc.out" 2>&1
dist_secs=$(echo "$(date +%s.%N) - $start" | bc)
after=$(find "$root/docker/registry/v2/blobs" -type f | wc -l)
echo "distribution: $images images pushed, $deleted deleted; blob files $before -> $after; garbage-collect ${dist_secs}s (server stopped)"

echo
echo "| registry | blob files before | after | collection (s) |"
echo "|---|---|---|---|"
echo "$ecrd_line"
echo "| distribution (offline) | $before | $after | $dist_secs |"
echo
echo "ratio (distribution time / ecrd time): $(echo "scale=2; $dist_secs / $ecrd_secs" | bc)"
