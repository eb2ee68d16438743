#!/usr/bin/env bash
# compare.sh: run the same ecrd-load scenarios against ecrd and its peers
# on 127.0.0.1, one server at a time, and print a markdown table with
# ratios (the project states its targets as ratios to the best
# peer measured in the same run).
#
# Every scenario gets a freshly started server with its own empty data
# dir and port, and the registries take turns per scenario, so that the
# numbers compared side by side were taken minutes apart at most. The
# script takes ready-built binaries; it never builds a peer. It builds
# ecrd-load from this checkout unless --load is given.
#
# A registry whose binary is not given or does not exist is skipped with a
# note; nothing is made up for it. The exit status is 1 if any scenario
# failed or had errors. Run with --help for the options.
#
# Server command lines: ecrd serve --listen 127.0.0.1:PORT --data DIR;
# registry serve CONFIG.yml (distribution, OTEL_TRACES_EXPORTER=none);
# zot serve CONFIG.json.
set -euo pipefail
export LC_ALL=C

usage() {
  cat >&2 <<'EOF'
usage: bench/compare.sh --ecrd PATH --distribution PATH [--zot PATH [--zot-config FILE]]
                        [--baseline PATH] [--auth] [--load PATH] [--workdir DIR]
                        [--only ID,ID...] [--repeat N] [--quick]
  --zot-config  zot config to start from; its address, port and rootDirectory are replaced
  --baseline    another ecrd build (an earlier commit) run as a peer, with ecrd's
                settings and credentials: the ratio column then compares the two builds
  --auth        give distribution and zot Basic authentication too (htpasswd,
                bcrypt at its lowest cost, 4); ecrd always authenticates: it
                gets a root key and ecrd-load logs in with GetAuthorizationToken
  --load        a built ecrd-load (default: build it from this checkout)
  --workdir     where data dirs, the dd test file and results go (default $TMPDIR or /tmp)
  --only        scenario ids: push-1mb push-100mb-c1 push-100mb-c2 image-10x1mb
                pull-1mb pull-100mb manifest-get manifest-head push-2gb
  --repeat      run each scenario N times per registry (turn by turn) and report
                the run with the median figure (default 1)
  --quick       fewer ops and shorter runs, a 500 MB blob instead of 2 GB
  --no-warm     skip writing and deleting a free-memory-sized file first (see warm_memory)
EOF
  exit "${1:-2}"
}

ecrd='' baseline='' distribution='' zot='' zot_config='' peer_auth=0 load='' workdir='' only='' quick=0 repeat=1 warm=1
while (($#)); do
  case $1 in
    --ecrd) ecrd=$2; shift 2 ;;
    --distribution) distribution=$2; shift 2 ;;
    --zot) zot=$2; shift 2 ;;
    --zot-config) zot_config=$2; shift 2 ;;
    --baseline) baseline=$2; shift 2 ;;
    --auth) peer_auth=1; shift ;;
    --load) load=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --repeat) repeat=$2; shift 2 ;;
    --no-warm) warm=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "compare.sh: unknown argument $1" >&2; usage ;;
  esac
done

log() { printf '%s\n' "$*" >&2; }

# Registries to run, in table order: peers first, ecrd last.
registries=()
add_registry() { # name binary
  if [[ -z $2 ]]; then
    return
  elif [[ -x $2 ]]; then
    registries+=("$1")
  else
    log "note: skipping $1: $2 is not an executable file"
  fi
}
add_registry distribution "$distribution"
add_registry zot "$zot"
add_registry baseline "$baseline"
add_registry ecrd "$ecrd"
if ((${#registries[@]} == 0)); then
  log "compare.sh: no registry binary to run"
  usage
fi
if ! [[ $repeat =~ ^[1-9][0-9]*$ ]]; then
  log "compare.sh: --repeat wants a positive number"
  usage
fi
if [[ -n $zot_config && ! -f $zot_config ]]; then
  log "compare.sh: --zot-config $zot_config does not exist"
  exit 2
fi

repo_root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${workdir:-${TMPDIR:-/tmp}}/ecrd-compare.XXXXXX")
results=$work/results
mkdir -p "$results"

if [[ -z $load ]]; then
  log "building ecrd-load from $repo_root"
  (cd "$repo_root" && go build -o "$work/ecrd-load" ./cmd/ecrd-load)
  load=$work/ecrd-load
fi

# The scenarios: id | row label | ecrd-load arguments | arguments with --quick.
# Every run watches the server (-watch-pid is appended) for its memory and
# CPU time: client and server share two cores, so at high request rates
# the server's CPU per request says more than requests/s alone.
scenarios=(
  "push-1mb|blob push 1 MB, c=4|push -size 1MB -c 4 -n 1000|push -size 1MB -c 4 -n 40"
  "push-100mb-c1|blob push 100 MB, c=1|push -size 100MB -c 1 -n 20|push -size 100MB -c 1 -n 2"
  "push-100mb-c2|blob push 100 MB, c=2|push -size 100MB -c 2 -n 20|push -size 100MB -c 2 -n 2"
  "image-10x1mb|image push 10 x 1 MB layers, c=4|push -layers 10 -size 1MB -c 4 -n 100|push -layers 10 -size 1MB -c 4 -n 8"
  "pull-1mb|blob pull 1 MB, c=4|pull -size 1MB -c 4 -blobs 16 -n 4000|pull -size 1MB -c 4 -blobs 16 -n 400"
  "pull-100mb|blob pull 100 MB, c=2|pull -size 100MB -c 2 -blobs 2 -n 40|pull -size 100MB -c 2 -blobs 2 -n 4"
  "manifest-get|manifest GET by tag, c=64|manifest-get -c 64 -d 10s|manifest-get -c 64 -d 3s"
  "manifest-head|manifest HEAD by tag, c=64|manifest-get -method HEAD -c 64 -d 10s|manifest-get -method HEAD -c 64 -d 3s"
  "push-2gb|single 2 GB blob push, c=1|push -size 2GB -c 1 -n 1|push -size 500MB -c 1 -n 1"
)

selected() { # id
  [[ -z $only ]] || [[ ",$only," == *",$1,"* ]]
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 20000))
}

server_pid=
server_url=
server_data=

# Credentials: ecrd's root key (ecrd-load turns it into a registry
# password with GetAuthorizationToken), and the peers' htpasswd user.
ecrd_key_id=AKIACOMPARESH0000000
ecrd_secret=compare-sh-secret-access-key-0123456789
peer_user=bench
peer_password=bench-password
htpasswd_file=

# htpasswd writes the peers' password file once: bcrypt at cost 4, the
# lowest, since both peers check it on every request.
htpasswd() {
  if [[ -z $htpasswd_file ]]; then
    htpasswd_file=$work/htpasswd
    python3 -c 'import crypt, sys; print(sys.argv[1] + ":" + crypt.crypt(sys.argv[2], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))' \
      "$peer_user" "$peer_password" 2>/dev/null >"$htpasswd_file"
  fi
  echo "$htpasswd_file"
}

# start_server NAME: start a fresh server with an empty data dir on a free
# port and wait until /v2/ answers (200, or 401 when it wants auth).
start_server() {
  local name=$1 port
  port=$(free_port)
  server_data=$(mktemp -d "$work/data-$name.XXXXXX")
  server_url=http://127.0.0.1:$port
  local logfile=$results/$name.server.log
  case $name in
    ecrd | baseline)
      local bin=$ecrd
      [[ $name == baseline ]] && bin=$baseline
      ECRD_ROOT_ACCESS_KEY_ID=$ecrd_key_id ECRD_ROOT_SECRET_ACCESS_KEY=$ecrd_secret \
        "$bin" serve --listen "127.0.0.1:$port" --data "$server_data" >>"$logfile" 2>&1 &
      ;;
    distribution)
      # Shipped defaults otherwise (info logging, no cache). Traces off:
      # by default it tries to export them to localhost:4318.
      cat >"$server_data.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $server_data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  secret: compare-sh-$RANDOM$RANDOM
EOF
      if ((peer_auth)); then
        printf 'auth:\n  htpasswd:\n    realm: compare\n    path: %s\n' "$(htpasswd)" >>"$server_data.yml"
      fi
      OTEL_TRACES_EXPORTER=none "$distribution" serve "$server_data.yml" >>"$logfile" 2>&1 &
      ;;
    zot)
      if [[ -n $zot_config ]]; then
        jq --arg port "$port" --arg dir "$server_data" \
          '.http.address = "127.0.0.1" | .http.port = $port | .storage.rootDirectory = $dir' \
          "$zot_config" >"$server_data.json"
      else
        jq -n --arg port "$port" --arg dir "$server_data" \
          '{distSpecVersion: "1.1.1", storage: {rootDirectory: $dir}, http: {address: "127.0.0.1", port: $port}}' \
          >"$server_data.json"
      fi
      if ((peer_auth)); then
        jq --arg path "$(htpasswd)" '.http.auth.htpasswd.path = $path' "$server_data.json" >"$server_data.json.tmp" &&
          mv "$server_data.json.tmp" "$server_data.json"
      fi
      "$zot" serve "$server_data.json" >>"$logfile" 2>&1 &
      ;;
  esac
  server_pid=$!
  local code
  for _ in $(seq 300); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      log "$name exited at start; see $logfile"
      server_pid=
      return 1
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' "$server_url/v2/" || true)
    if [[ $code == 200 || $code == 401 ]]; then
      return 0
    fi
    sleep 0.1
  done
  log "$name did not answer on $server_url/v2/ within 30 s; see $logfile"
  stop_server
  return 1
}

# stop_server: SIGTERM the server we started (by PID), SIGKILL after 10 s,
# and delete its data.
stop_server() {
  if [[ -n $server_pid ]]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 100); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
  if [[ -n $server_data ]]; then
    rm -rf "$server_data" "$server_data.yml" "$server_data.json"
    server_data=
  fi
}
trap 'stop_server; rm -rf "$work"/data-*' EXIT

# durable_write_rate: MB/s of writing 1 GiB to the work dir's file system
# with an fsync at the end, the ceiling for a registry that makes its
# blobs durable before answering.
durable_write_rate() {
  local out
  out=$(LC_ALL=C dd if=/dev/zero of="$work/dd.test" bs=1M count=1024 conv=fsync 2>&1)
  rm -f "$work/dd.test"
  awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") printf "%.0f", $1 / $(i - 1) / 1e6 }' <<<"$out"
}

# run_scenario NAME ID RUN ARGS...: one fresh server, one ecrd-load run;
# the JSON result lands in $results/NAME.ID.RUN.json. Returns non-zero if
# the server did not start, setup failed or any op failed.
run_scenario() {
  local name=$1 id=$2 run=$3
  shift 3
  local args=("$@") out=$results/$name.$id.$run
  if [[ $name == ecrd || $name == baseline ]]; then
    args+=(-ecr "$ecrd_key_id:$ecrd_secret")
  elif ((peer_auth)); then
    args+=(-u "$peer_user:$peer_password")
  fi
  start_server "$name" || return 1
  args+=(-watch-pid "$server_pid")
  sync # start from clean page cache writeback, not the previous run's
  local rc=0
  "$load" "${args[@]}" -json "$server_url" >"$out.json" 2>"$out.err" || rc=$?
  stop_server
  if ((rc != 0)); then
    log "  $name $id: ecrd-load exited $rc: $(head -c 300 "$out.err")"
  fi
  return $rc
}

# primary_field ID: the figure a scenario is judged by.
primary_field() {
  case $1 in
    manifest-*) echo .http_req_per_s ;;
    *) echo .mb_per_s ;;
  esac
}

# pick_median NAME ID: of the runs of a scenario, keep the one with the
# median primary figure as $results/NAME.ID.json, adding the number of
# runs and the errors of all runs, so that no failed op goes unseen.
pick_median() {
  local name=$1 id=$2 files=()
  for f in "$results/$name.$id".*.json; do
    [[ -s $f ]] && files+=("$f")
  done
  ((${#files[@]} > 0)) || return 0
  jq -s "(map(.errors) | add) as \$errors | length as \$runs |
    sort_by($(primary_field "$id")) | .[(length - 1) / 2 | floor] |
    .runs = \$runs | .errors_all_runs = \$errors" "${files[@]}" >"$results/$name.$id.json"
}

# cell NAME ID FIELD UNIT: the field of a result rounded to one decimal,
# with its unit and any error count, or a note when there is no result.
cell() {
  local f=$results/$1.$2.json
  if [[ ! -s $f ]]; then
    echo "failed"
    return
  fi
  local v errors
  v=$(value "$1" "$2" "$3")
  errors=$(jq -r '.errors_all_runs // .errors' "$f")
  if [[ -z $v ]]; then
    echo "n/a"
  elif ((errors > 0)); then
    printf '%.1f%s (%d errors)\n' "$v" "$4" "$errors"
  else
    printf '%.1f%s\n' "$v" "$4"
  fi
}

value() { # NAME ID FIELD -> bare number, empty if none
  local f=$results/$1.$2.json
  if [[ -s $f ]]; then
    jq -r "try ($3) catch empty | numbers" "$f"
  fi
}

# ratio A B: A/B with two decimals, or "–".
ratio() {
  if [[ -n $1 && -n $2 ]] && awk -v b="$2" 'BEGIN { exit !(b > 0) }'; then
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'
  else
    echo "–"
  fi
}

load_average() { cut -d' ' -f1-3 /proc/loadavg; }

# warm_memory: write, then delete, a file as large as 90% of free memory.
# On a virtual machine the hypervisor backs guest memory lazily, and the
# first use of each page costs a fault: writing new files into never-used
# page cache ran at ~400 MB/s here, into recycled pages at ~4 GB/s. A
# server that has run for a while has touched its memory, so the runs are
# measured in that state, the same for every registry.
warm_memory() {
  local mb
  mb=$(awk '/^MemFree:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
  log "warming memory: writing and deleting $mb MB"
  dd if=/dev/zero of="$work/warm" bs=1M count="$mb" status=none
  rm -f "$work/warm"
}

# cpu_busy: percent of all CPU time used by anything over the next 2 s.
# Other work on the machine makes every figure below noisy, and the load
# average lags too much to tell.
cpu_busy() {
  local a b
  a=$(head -1 /proc/stat)
  sleep 2
  b=$(head -1 /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN {
    n = split(a, x); split(b, y)
    for (i = 2; i <= n; i++) total += y[i] - x[i]
    idle = (y[5] + y[6]) - (x[5] + x[6]) # idle + iowait
    printf "%.0f", (total > 0 ? 100 * (total - idle) / total : 0)
  }'
}

# --- run ------------------------------------------------------------------

mode=full
((quick)) && mode=quick
log "work dir $work; registries: ${registries[*]}; $mode run"
load_before=$(load_average)
busy_before=$(cpu_busy)
log "before: load average $load_before, CPU ${busy_before}% busy"
if ((busy_before > 10)); then
  log "warning: something else is using the CPU; figures will be noisy"
fi
((warm)) && warm_memory
dd_before=$(durable_write_rate)
log "durable write rate (dd 1 GiB conv=fsync): $dd_before MB/s"

failures=0
for entry in "${scenarios[@]}"; do
  IFS='|' read -r id label full_args quick_args <<<"$entry"
  selected "$id" || continue
  words=$full_args
  ((quick)) && words=$quick_args
  read -ra load_args <<<"$words"
  # Registries take turns run by run, so that a burst of other load on
  # the machine does not land on one registry's runs only.
  for run in $(seq "$repeat"); do
    for name in "${registries[@]}"; do
      log "$id: $name: run $run of $repeat: ecrd-load $words"
      run_scenario "$name" "$id" "$run" "${load_args[@]}" || failures=$((failures + 1))
    done
  done
  for name in "${registries[@]}"; do
    pick_median "$name" "$id"
  done
done

dd_after=$(durable_write_rate)
load_after=$(load_average)
busy_after=$(cpu_busy)
log "durable write rate after: $dd_after MB/s; load average $load_after, CPU ${busy_after}% busy"

# --- report ---------------------------------------------------------------

peers=()
for name in "${registries[@]}"; do
  [[ $name == ecrd ]] || peers+=("$name")
done
have_ecrd=0
[[ " ${registries[*]} " == *" ecrd "* ]] && have_ecrd=1

# Ratio columns: ecrd against the best peer when ecrd ran; otherwise
# each further peer against the first.
ratio_header=()
if ((have_ecrd && ${#peers[@]} > 0)); then
  ratio_header=("ecrd / best peer")
elif ((${#peers[@]} > 1)); then
  for p in "${peers[@]:1}"; do ratio_header+=("$p / ${peers[0]}"); done
fi

# row LABEL ID FIELD UNIT BETTER(high|low)
row() {
  local label=$1 id=$2 field=$3 unit=$4 better=$5 line name
  line="| $label |"
  for name in "${registries[@]}"; do
    line+=" $(cell "$name" "$id" "$field" "$unit") |"
  done
  if ((have_ecrd && ${#peers[@]} > 0)); then
    local best='' v
    for name in "${peers[@]}"; do
      v=$(value "$name" "$id" "$field")
      [[ -n $v ]] || continue
      if [[ -z $best ]] || awk -v v="$v" -v b="$best" -v hi="$better" \
        'BEGIN { exit !((hi == "high") ? v > b : v < b) }'; then
        best=$v
      fi
    done
    line+=" $(ratio "$(value ecrd "$id" "$field")" "$best") |"
  elif ((${#peers[@]} > 1)); then
    for name in "${peers[@]:1}"; do
      line+=" $(ratio "$(value "$name" "$id" "$field")" "$(value "${peers[0]}" "$id" "$field")") |"
    done
  fi
  printf '%s\n' "$line"
}

header="| figure |"
rule="|---|"
for name in "${registries[@]}" "${ratio_header[@]}"; do
  header+=" $name |"
  rule+="---|"
done

echo "## ecrd-load comparison ($mode run, $(date -u +%Y-%m-%dT%H:%MZ))"
echo
echo "Machine: $(nproc) cores, $(uname -sr); client and server both on 127.0.0.1."
echo "Other load: CPU ${busy_before}% busy before the run, ${busy_after}% after (load average $load_before before, $load_after after)."
echo "Durable writes (dd 1 GiB, conv=fsync, same file system as the data dirs): ${dd_before} MB/s before, ${dd_after} MB/s after."
for name in "${registries[@]}"; do
  bin_var=$name
  echo "- $name: ${!bin_var} ($(timeout 5 "${!bin_var}" --version 2>&1 | head -1 | cut -c1-100 || true))"
done
echo
if ((peer_auth)); then
  echo "Authentication on every request: ecrd with its registry token (from GetAuthorizationToken), the peers with htpasswd Basic (bcrypt, cost 4)."
else
  echo "Authentication: ecrd checks its registry token on every request; the peers run without authentication."
fi
((repeat > 1)) && echo "Each figure is the median of $repeat runs (registries taking turns); error counts add up all runs."
echo "MB = 10^6 bytes. Latencies are per operation. Ratios: above 1 is better for MB/s and req/s, below 1 is better for p99 and memory."
echo
echo "$header"
echo "$rule"
for entry in "${scenarios[@]}"; do
  IFS='|' read -r id label _ _ <<<"$entry"
  selected "$id" || continue
  case $id in
    manifest-*)
      row "$label" "$id" .http_req_per_s " req/s" high
      row "$label: p99" "$id" .p99_ms " ms" low
      row "$label: server CPU per request" "$id" '.server.cpu_seconds * 1e6 / .http_requests' " µs" low
      ;;
    push-2gb)
      ((quick)) && label="single 500 MB blob push, c=1"
      row "$label" "$id" .mb_per_s " MB/s" high
      row "server peak RSS during it" "$id" '.server.peak_rss_bytes / 1e6' " MB" low
      row "server RSS growth during it" "$id" '(.server.peak_rss_bytes - .server.start_rss_bytes) / 1e6' " MB" low
      ;;
    *)
      row "$label" "$id" .mb_per_s " MB/s" high
      ;;
  esac
done

echo
echo "Details (the run reported above; errors of all runs):"
echo
echo "| scenario | registry | ops ok | errors | wall s | MB/s | ops/s | HTTP req/s | p50 ms | p99 ms | server CPU s | client CPU s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for entry in "${scenarios[@]}"; do
  IFS='|' read -r id _ _ _ <<<"$entry"
  selected "$id" || continue
  for name in "${registries[@]}"; do
    f=$results/$name.$id.json
    if [[ -s $f ]]; then
      jq -r --arg id "$id" --arg name "$name" \
        '"| \($id) | \($name) | \(.ops) | \(.errors_all_runs // .errors) | \(.wall_seconds * 100 | round / 100) | \(.mb_per_s * 10 | round / 10) | \(.ops_per_s * 10 | round / 10) | \(.http_req_per_s * 10 | round / 10) | \(.p50_ms * 100 | round / 100) | \(.p99_ms * 100 | round / 100) | \(if .server then .server.cpu_seconds * 100 | round / 100 else "" end) | \(.client_cpu_seconds * 100 | round / 100) |"' "$f"
    else
      echo "| $id | $name | failed: see $results/$name.$id.*.err | | | | | | | | | |"
    fi
  done
done
echo
echo "Raw results and server logs: $results"

if ((failures > 0)); then
  log "compare.sh: $failures scenario runs failed or had errors"
  exit 1
fi
