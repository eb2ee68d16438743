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
#
# --scaleout adds the same ecrd binary on PostgreSQL and an S3-compatible
# store (versitygw) as the row "ecrd-scaleout", and with --replicas N also
# N replicas of it on one database and bucket ("ecrd-scaleout xN"), which
# ecrd-load takes round robin. The script starts one throwaway PostgreSQL
# and one versitygw for the whole run (loopback ports, folders in the work
# dir, stopped on exit); each server start gets a new database and a new
# bucket, dropped and removed when it stops.
set -euo pipefail
export LC_ALL=C

usage() {
  cat >&2 <<'EOF'
usage: bench/compare.sh --ecrd PATH --distribution PATH [--zot PATH [--zot-config FILE] [--zot-commit]]
                        [--baseline PATH] [--auth] [--load PATH] [--wrk PATH] [--workdir DIR]
                        [--only ID,ID...] [--repeat N] [--quick] [--pin]
                        [--scaleout [--replicas N] [--pg-bin DIR] [--versitygw PATH] [--aws PATH]]
  --zot-config  zot config to start from; its address, port and rootDirectory are replaced
  --zot-commit  also run zot with storage.commit set, as "zot-commit": it then syncs each
                upload's file before answering, as ecrd makes every acknowledged blob
                durable (zot's default does not sync)
  --baseline    another ecrd build (an earlier commit) run as a peer, with ecrd's
                settings and credentials: the ratio column then compares the two builds
                (beside other peers, it is not one of them but gets its own column)
  --auth        give distribution and zot Basic authentication too (htpasswd,
                bcrypt at its lowest cost, 4); ecrd always authenticates: it
                gets a root key and ecrd-load logs in with GetAuthorizationToken
  --load        a built ecrd-load (default: build it from this checkout)
  --wrk         wrk's binary: adds manifest-get-wrk, the manifest GETs with wrk
                as the client (ecrd-load -wrk), whose lower CPU cost leaves the
                shared cores to the server (default: wrk on PATH, if any)
  --workdir     where data dirs, the dd test file and results go (default $TMPDIR or /tmp)
  --only        scenario ids: push-1mb push-100mb-c1 push-100mb-c2 image-10x1mb
                pull-1mb pull-4mb pull-16mb pull-100mb pull-1mb-splice
                pull-100mb-splice manifest-get manifest-get-wrk manifest-get-raw
                manifest-head push-2gb (the -splice pulls move bodies from the
                socket to /dev/null without copying them: ecrd-load -splice;
                manifest-get-raw sends prepared requests on plain connections and
                reads responses with a minimal parser: ecrd-load -raw)
  --repeat      run each scenario N times per registry (turn by turn) and report
                the run with the median figure (default 1)
  --quick       fewer ops and shorter runs, a 500 MB blob instead of 2 GB
  --no-warm     skip writing and deleting a free-memory-sized file first (see warm_memory)
  --pin         run each registry server on CPU 1 and ecrd-load (and wrk, its child)
                on CPU 0 (taskset), so that neither takes the other's core: the
                figures then show each side's own bound (PostgreSQL and versitygw
                are not pinned)
  --scaleout    also run --ecrd on PostgreSQL (metadata) and versitygw (blobs), as
                "ecrd-scaleout", beside the embedded default
  --replicas N  with --scaleout, also run N replicas on one database and bucket,
                as "ecrd-scaleout xN", taken round robin by ecrd-load
  --pg-bin      PostgreSQL's binaries (default $ECRD_PG_BIN or /usr/lib/postgresql/15/bin)
  --versitygw   the versitygw binary (default: on PATH, or in $(go env GOPATH)/bin)
  --aws         the AWS CLI that creates the buckets (default: aws on PATH)
EOF
  exit "${1:-2}"
}

ecrd='' baseline='' distribution='' zot='' zot_config='' peer_auth=0 zot_commit=0 load='' wrk='' workdir='' only='' quick=0 repeat=1 warm=1
pin=0 server_pin=() client_pin=()
scaleout=0 replicas=1 pg_bin=${ECRD_PG_BIN:-/usr/lib/postgresql/15/bin} versitygw='' aws_cli=aws
while (($#)); do
  case $1 in
    --ecrd) ecrd=$2; shift 2 ;;
    --distribution) distribution=$2; shift 2 ;;
    --zot) zot=$2; shift 2 ;;
    --zot-config) zot_config=$2; shift 2 ;;
    --zot-commit) zot_commit=1; shift ;;
    --baseline) baseline=$2; shift 2 ;;
    --auth) peer_auth=1; shift ;;
    --load) load=$2; shift 2 ;;
    --wrk) wrk=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --repeat) repeat=$2; shift 2 ;;
    --no-warm) warm=0; shift ;;
    --pin) pin=1; shift ;;
    --scaleout) scaleout=1; shift ;;
    --replicas) replicas=$2; shift 2 ;;
    --pg-bin) pg_bin=$2; shift 2 ;;
    --versitygw) versitygw=$2; shift 2 ;;
    --aws) aws_cli=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "compare.sh: unknown argument $1" >&2; usage ;;
  esac
done

log() { printf '%s\n' "$*" >&2; }

if ((pin)); then
  if ! command -v taskset >/dev/null || (($(nproc) < 2)); then
    log "compare.sh: --pin needs taskset and two CPUs"
    exit 2
  fi
  # taskset execs the command: $! stays the server's own pid.
  server_pin=(taskset -c 1) client_pin=(taskset -c 0)
fi

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
((zot_commit)) && add_registry zot-commit "$zot"
add_registry baseline "$baseline"
add_registry ecrd "$ecrd"
if ! [[ $replicas =~ ^[1-9][0-9]*$ ]]; then
  log "compare.sh: --replicas wants a positive number"
  usage
fi
if ((replicas > 1 && !scaleout)); then
  log "compare.sh: --replicas needs --scaleout"
  usage
fi
if ((scaleout)); then
  if [[ " ${registries[*]} " != *" ecrd "* ]]; then
    log "compare.sh: --scaleout runs the --ecrd binary; give it"
    usage
  fi
  # The scale-out rows run the --ecrd binary too.
  registries+=(scaleout)
  ((replicas > 1)) && registries+=("scaleout-x$replicas")
fi
if ((${#registries[@]} == 0)); then
  log "compare.sh: no registry binary to run"
  usage
fi
if ! [[ $repeat =~ ^[1-9][0-9]*$ ]]; then
  log "compare.sh: --repeat wants a positive number"
  usage
fi
# display NAME: the column header of a registry.
display() {
  case $1 in
    scaleout) echo ecrd-scaleout ;;
    scaleout-x*) echo "ecrd-scaleout x${1#scaleout-x}" ;;
    *) echo "$1" ;;
  esac
}

# is_ecrd NAME: whether NAME runs the --ecrd binary (embedded or scale-out),
# as opposed to a peer.
is_ecrd() { [[ $1 == ecrd || $1 == scaleout* ]]; }

if [[ -n $zot_config && ! -f $zot_config ]]; then
  log "compare.sh: --zot-config $zot_config does not exist"
  exit 2
fi

repo_root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${workdir:-${TMPDIR:-/tmp}}/ecrd-compare.XXXXXX")
# Each run's data folder is deleted before the next run's is made. On ext4
# without a journal, creating a file near inodes freed in the last
# seconds scans past each of them (ext4 will not reuse them yet): 15% of a
# registry's CPU in a 1 MB push run right after another run's deletion.
# Marked as a top of hierarchy, the work folder's data folders are spread
# over block groups away from the last run's. Elsewhere this does nothing.
chattr +T "$work" 2>/dev/null || true
results=$work/results
mkdir -p "$results"

if [[ -z $load ]]; then
  log "building ecrd-load from $repo_root"
  (cd "$repo_root" && go build -o "$work/ecrd-load" ./cmd/ecrd-load)
  load=$work/ecrd-load
fi
[[ -n $wrk ]] || wrk=$(command -v wrk || true)

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
  "pull-4mb|blob pull 4 MB, c=4|pull -size 4MB -c 4 -blobs 16 -n 1000|pull -size 4MB -c 4 -blobs 16 -n 100"
  "pull-16mb|blob pull 16 MB, c=4|pull -size 16MB -c 4 -blobs 8 -n 250|pull -size 16MB -c 4 -blobs 8 -n 25"
  "pull-100mb|blob pull 100 MB, c=2|pull -size 100MB -c 2 -blobs 2 -n 40|pull -size 100MB -c 2 -blobs 2 -n 4"
  "pull-1mb-splice|blob pull 1 MB, c=4, client splicing|pull -size 1MB -c 4 -blobs 16 -n 8000 -splice|pull -size 1MB -c 4 -blobs 16 -n 400 -splice"
  "pull-100mb-splice|blob pull 100 MB, c=2, client splicing|pull -size 100MB -c 2 -blobs 2 -n 80 -splice|pull -size 100MB -c 2 -blobs 2 -n 4 -splice"
  "manifest-get|manifest GET by tag, c=64|manifest-get -c 64 -d 10s|manifest-get -c 64 -d 3s"
  "manifest-get-wrk|manifest GET by tag, c=64, wrk|manifest-get -c 64 -d 10s -wrk WRK|manifest-get -c 64 -d 3s -wrk WRK"
  "manifest-get-raw|manifest GET by tag, c=64, raw HTTP|manifest-get -c 64 -d 10s -raw|manifest-get -c 64 -d 3s -raw"
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

server_pids=() # every process of the server (replicas)
server_url=    # its URL, or its replicas' URLs separated by commas
server_data=() # data dirs to delete when it stops
watch_spec=    # ecrd-load's -watch-pid

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

# wait_http NAME PID URL: wait until URL/v2/ answers (200, or 401 when it
# wants auth) while PID lives.
wait_http() {
  local name=$1 pid=$2 url=$3 code
  for _ in $(seq 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited at start; see $results/$name.server.log"
      return 1
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' "$url/v2/" || true)
    if [[ $code == 200 || $code == 401 ]]; then
      return 0
    fi
    sleep 0.1
  done
  log "$name did not answer on $url/v2/ within 30 s; see $results/$name.server.log"
  return 1
}

# start_server NAME: start a fresh server with an empty data dir on a free
# port (for scale-out, on a new database and bucket too) and wait until
# /v2/ answers.
start_server() {
  local name=$1 port data
  server_pids=() server_data=() server_url='' watch_spec=''
  if [[ $name == scaleout* ]]; then
    start_scaleout "$name"
    return
  fi
  port=$(free_port)
  data=$(mktemp -d "$work/data-$name.XXXXXX")
  server_data=("$data")
  server_url=http://127.0.0.1:$port
  local logfile=$results/$name.server.log
  case $name in
    ecrd | baseline)
      local bin=$ecrd
      [[ $name == baseline ]] && bin=$baseline
      ECRD_ROOT_ACCESS_KEY_ID=$ecrd_key_id ECRD_ROOT_SECRET_ACCESS_KEY=$ecrd_secret \
        "${server_pin[@]}" "$bin" serve --listen "127.0.0.1:$port" --data "$data" >>"$logfile" 2>&1 &
      ;;
    distribution)
      # Shipped defaults otherwise (info logging, no cache). Traces off:
      # by default it tries to export them to localhost:4318.
      cat >"$data.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  secret: compare-sh-$RANDOM$RANDOM
EOF
      if ((peer_auth)); then
        printf 'auth:\n  htpasswd:\n    realm: compare\n    path: %s\n' "$(htpasswd)" >>"$data.yml"
      fi
      OTEL_TRACES_EXPORTER=none "${server_pin[@]}" "$distribution" serve "$data.yml" >>"$logfile" 2>&1 &
      ;;
    zot | zot-commit)
      if [[ -n $zot_config ]]; then
        jq --arg port "$port" --arg dir "$data" \
          '.http.address = "127.0.0.1" | .http.port = $port | .storage.rootDirectory = $dir' \
          "$zot_config" >"$data.json"
      else
        jq -n --arg port "$port" --arg dir "$data" \
          '{distSpecVersion: "1.1.1", storage: {rootDirectory: $dir}, http: {address: "127.0.0.1", port: $port}}' \
          >"$data.json"
      fi
      if ((peer_auth)); then
        jq --arg path "$(htpasswd)" '.http.auth.htpasswd.path = $path' "$data.json" >"$data.json.tmp" &&
          mv "$data.json.tmp" "$data.json"
      fi
      if [[ $name == zot-commit ]]; then
        jq '.storage.commit = true' "$data.json" >"$data.json.tmp" && mv "$data.json.tmp" "$data.json"
      fi
      "${server_pin[@]}" "$zot" serve "$data.json" >>"$logfile" 2>&1 &
      ;;
  esac
  server_pids=($!)
  watch_spec=$!
  if ! wait_http "$name" "$watch_spec" "$server_url"; then
    stop_server
    return 1
  fi
}

# --- scale-out: one PostgreSQL and one versitygw for the whole run --------

pg_dir='' pg_pid='' pg_port='' pg_settings='' s3_pid='' s3_endpoint='' s3_root='' stores_started=0 store_n=0
s3_access=COMPARESHS3ACCESSKEY s3_secret=compare-sh-s3-secret-0123456789abcdef
scaleout_db='' scaleout_bucket=''

# s3_env: the environment that gives a process versitygw's keys through
# the AWS chain, and nothing of whoever runs the script (no profile, no
# files, no instance metadata).
# (An empty AWS_PROFILE names a profile to the AWS CLI: unset it.)
s3_env=(-u AWS_PROFILE -u AWS_DEFAULT_PROFILE -u AWS_SESSION_TOKEN
  AWS_ACCESS_KEY_ID=$s3_access AWS_SECRET_ACCESS_KEY=$s3_secret AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_EC2_METADATA_DISABLED=true)

# aws_s3 ARGS...: the AWS CLI against versitygw.
aws_s3() { env "${s3_env[@]}" "$aws_cli" --endpoint-url "$s3_endpoint" "$@"; }

psql_admin() { # SQL
  "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 "postgres://ecrd@127.0.0.1:$pg_port/postgres?sslmode=disable" -c "$1" >/dev/null
}

# as_postgres: the command prefix that runs PostgreSQL's binaries as the
# postgres user when we are root (initdb and postgres refuse root).
# setpriv execs the program, so a PID started through it is the program's.
as_postgres=()
((EUID == 0)) && as_postgres=(setpriv --reuid=postgres --regid=postgres --init-groups --)

# start_stores: initdb and start PostgreSQL with its defaults (fsync and
# synchronous commit on; more connections, for the replicas' pools), and
# versitygw serving a folder, both on free loopback ports, both in the
# work dir (the file system the embedded ecrd writes to).
start_stores() {
  local p
  for p in initdb postgres psql pg_isready; do
    if [[ ! -x $pg_bin/$p ]]; then
      log "compare.sh: --scaleout needs PostgreSQL: $pg_bin/$p is missing (scripts/install-test-tools)"
      exit 2
    fi
  done
  if [[ -z $versitygw ]]; then
    versitygw=$(command -v versitygw || echo "$(go env GOPATH 2>/dev/null)/bin/versitygw")
  fi
  if [[ ! -x $versitygw ]]; then
    log "compare.sh: --scaleout needs versitygw ($versitygw): scripts/install-test-tools"
    exit 2
  fi
  if ! command -v "$aws_cli" >/dev/null; then
    log "compare.sh: --scaleout needs the AWS CLI ($aws_cli) to create buckets"
    exit 2
  fi
  stores_started=1
  pg_dir=$work/postgres
  mkdir -p "$pg_dir"
  if ((EUID == 0)); then
    chmod 711 "$work" # let the postgres user reach its folder
    chown postgres: "$pg_dir"
  fi
  if ! "${as_postgres[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U ecrd -A trust -E UTF8 --locale=C --no-instructions \
    >"$results/postgres.initdb.log" 2>&1; then
    log "initdb failed: see $results/postgres.initdb.log"
    exit 2
  fi
  pg_port=$(free_port)
  "${as_postgres[@]}" "$pg_bin/postgres" -D "$pg_dir/data" -p "$pg_port" -k "$pg_dir" \
    -c listen_addresses=127.0.0.1 -c max_connections=200 >"$results/postgres.log" 2>&1 &
  pg_pid=$!
  for _ in $(seq 300); do
    "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" && break
    kill -0 "$pg_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port"; then
    log "PostgreSQL did not start: see $results/postgres.log"
    exit 2
  fi
  # The postmaster's PID, which the server writes first in its folder.
  if [[ $(head -1 "$pg_dir/data/postmaster.pid") != "$pg_pid" ]]; then
    log "PostgreSQL runs as PID $(head -1 "$pg_dir/data/postmaster.pid"), not $pg_pid as started"
    exit 2
  fi
  s3_root=$work/s3
  mkdir -p "$s3_root"
  local s3_port
  s3_port=$(free_port)
  s3_endpoint=http://127.0.0.1:$s3_port
  "$versitygw" --access "$s3_access" --secret "$s3_secret" --port "127.0.0.1:$s3_port" --region us-east-1 \
    --keep-alive --quiet posix "$s3_root" >"$results/versitygw.log" 2>&1 &
  s3_pid=$!
  for _ in $(seq 300); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$s3_endpoint/" || true) != 000 ]] && break
    kill -0 "$s3_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! aws_s3 s3api list-buckets >>"$results/versitygw.log" 2>&1; then
    log "versitygw did not answer: see $results/versitygw.log"
    exit 2
  fi
  pg_settings=$("$pg_bin/psql" -X -At "postgres://ecrd@127.0.0.1:$pg_port/postgres?sslmode=disable" -c \
    "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM pg_settings
     WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections', 'server_version')")
  log "PostgreSQL on 127.0.0.1:$pg_port (pid $pg_pid; $pg_settings), versitygw on $s3_endpoint (pid $s3_pid)"
}

stop_stores() {
  ((stores_started)) || return 0
  if [[ -n $s3_pid ]]; then
    kill -TERM "$s3_pid" 2>/dev/null || true
    wait "$s3_pid" 2>/dev/null || true
    s3_pid=
  fi
  if [[ -n $pg_pid ]]; then
    kill -INT "$pg_pid" 2>/dev/null || true # a fast shutdown
    for _ in $(seq 300); do
      kill -0 "$pg_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pg_pid" 2>/dev/null || true
    wait "$pg_pid" 2>/dev/null || true
    pg_pid=
  fi
  rm -rf "$pg_dir" "$s3_root"
}

# start_scaleout NAME: a new database and bucket, then the replicas (one,
# or N for scaleout-xN) one after another on them, with one server key.
start_scaleout() {
  local name=$1 n=1 k port data url key pid
  [[ $name == scaleout-x* ]] && n=${name#scaleout-x}
  store_n=$((store_n + 1))
  scaleout_db=bench_$store_n
  if ! psql_admin "CREATE DATABASE $scaleout_db"; then
    log "creating database $scaleout_db failed"
    scaleout_db=
    return 1
  fi
  scaleout_bucket=bench-$store_n
  if ! aws_s3 s3api create-bucket --bucket "$scaleout_bucket" >>"$results/$name.server.log" 2>&1; then
    log "creating bucket $scaleout_bucket failed: see $results/$name.server.log"
    stop_server
    return 1
  fi
  key=$(head -c 32 /dev/urandom | base64)
  local metadata="postgres://ecrd@127.0.0.1:$pg_port/$scaleout_db?sslmode=disable"
  local blobs="s3://$scaleout_bucket/registry?endpoint=$s3_endpoint&region=us-east-1&force-path-style=true"
  local urls=() watch=()
  for k in $(seq "$n"); do
    port=$(free_port)
    data=$(mktemp -d "$work/data-$name.XXXXXX")
    server_data+=("$data")
    url=http://127.0.0.1:$port
    env "${s3_env[@]}" ECRD_SERVER_KEY="$key" \
      ECRD_ROOT_ACCESS_KEY_ID=$ecrd_key_id ECRD_ROOT_SECRET_ACCESS_KEY=$ecrd_secret \
      "${server_pin[@]}" "$ecrd" serve --listen "127.0.0.1:$port" --data "$data" --metadata "$metadata" --blobs "$blobs" \
      >>"$results/$name.server.log" 2>&1 &
    pid=$!
    server_pids+=("$pid")
    if ! wait_http "$name" "$pid" "$url"; then
      stop_server
      return 1
    fi
    urls+=("$url")
    watch+=("ecrd=$pid")
  done
  server_url=$(IFS=,; echo "${urls[*]}")
  watch_spec=$(IFS=,; echo "${watch[*]},postgres=$pg_pid,s3=$s3_pid")
}

# stop_server: SIGTERM the server's processes we started (by PID),
# SIGKILL after 10 s, and delete its data; for scale-out, drop its
# database and remove its bucket's folder (versitygw keeps a bucket in
# one).
stop_server() {
  local pid d
  for pid in "${server_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${server_pids[@]}"; do
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  server_pids=()
  for d in "${server_data[@]}"; do
    rm -rf "$d" "$d.yml" "$d.json"
  done
  server_data=()
  if [[ -n $scaleout_db ]]; then
    psql_admin "DROP DATABASE IF EXISTS $scaleout_db WITH (FORCE)" || log "note: dropping database $scaleout_db failed"
    scaleout_db=
  fi
  if [[ -n $scaleout_bucket ]]; then
    rm -rf "${s3_root:?}/$scaleout_bucket"
    scaleout_bucket=
  fi
}
trap 'stop_server; stop_stores; rm -rf "$work"/data-*' EXIT

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
  if is_ecrd "$name" || [[ $name == baseline ]]; then
    args+=(-ecr "$ecrd_key_id:$ecrd_secret")
  elif ((peer_auth)); then
    args+=(-u "$peer_user:$peer_password")
  fi
  start_server "$name" || return 1
  args+=(-watch-pid "$watch_spec")
  sync # start from clean page cache writeback, not the previous run's
  local rc=0
  "${client_pin[@]}" "$load" "${args[@]}" -json "$server_url" >"$out.json" 2>"$out.err" || rc=$?
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
((scaleout)) && start_stores
dd_before=$(durable_write_rate)
log "durable write rate (dd 1 GiB conv=fsync): $dd_before MB/s"

failures=0
for entry in "${scenarios[@]}"; do
  IFS='|' read -r id label full_args quick_args <<<"$entry"
  selected "$id" || continue
  words=$full_args
  ((quick)) && words=$quick_args
  if [[ " $words " == *" WRK "* ]]; then
    if [[ -z $wrk ]]; then
      log "$id: skipped: no wrk (--wrk, or wrk on PATH)"
      continue
    fi
    words=${words//WRK/$wrk}
  fi
  read -ra load_args <<<"$words"
  # Registries take turns run by run, so that a burst of other load on
  # the machine does not land on one registry's runs only, and the order
  # rotates from run to run: the run right after zot's is slower (100 MB
  # pushes: the same build at 0.69-0.74x there), so with a fixed order the
  # registry after zot would always pay for it.
  nreg=${#registries[@]}
  for run in $(seq "$repeat"); do
    for ((k = 0; k < nreg; k++)); do
      name=${registries[$(((k + run - 1) % nreg))]}
      log "$id: $(display "$name"): run $run of $repeat: ecrd-load $words"
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

# What a result says of the server. Without names (-watch-pid PID) the
# one watched process is the server; the scale-out runs name theirs:
# ecrd (each replica), postgres and s3.
ecrd_cpu='(if .servers then ([.servers[] | select(.name == "ecrd") | .cpu_seconds] | add) else .server.cpu_seconds end)'
stores_cpu='(if .servers then ([.servers[] | select(.name != "ecrd") | .cpu_seconds] | add) else null end)'
ecrd_peak_rss='(if .servers then ([.servers[] | select(.name == "ecrd") | .peak_rss_bytes] | max) else .server.peak_rss_bytes end)'
ecrd_rss_growth='(if .servers then ([.servers[] | select(.name == "ecrd") | .peak_rss_bytes - .start_rss_bytes] | max) else .server.peak_rss_bytes - .server.start_rss_bytes end)'

peers=()
# With other peers, the baseline (an earlier ecrd build) is not one of
# them: it gets a ratio column of its own.
have_baseline=0
for name in "${registries[@]}"; do
  [[ $name == baseline ]] && have_baseline=1
done
for name in "${registries[@]}"; do
  is_ecrd "$name" && continue
  [[ $name == baseline && ${#registries[@]} -gt 2 ]] && continue
  peers+=("$name")
done
((${#peers[@]} > 0 && ${#registries[@]} > 2)) || have_baseline=0
have_ecrd=0
[[ " ${registries[*]} " == *" ecrd "* ]] && have_ecrd=1
scaleouts=()
for name in "${registries[@]}"; do
  [[ $name == scaleout* ]] && scaleouts+=("$name")
done

# Ratio columns: ecrd against the best peer when both ran, otherwise
# each further peer against the first; each scale-out row against the
# embedded ecrd, and N replicas against one.
ratio_header=()
if ((have_ecrd && ${#peers[@]} > 0)); then
  ratio_header=("ecrd / best peer")
  ((zot_commit)) && ratio_header+=("ecrd / zot-commit")
  ((have_baseline)) && ratio_header+=("ecrd / baseline")
elif ((${#peers[@]} > 1)); then
  for p in "${peers[@]:1}"; do ratio_header+=("$p / ${peers[0]}"); done
fi
for name in "${scaleouts[@]}"; do
  ratio_header+=("$(display "$name") / ecrd")
done
if ((${#scaleouts[@]} > 1)); then
  ratio_header+=("x$replicas / x1")
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
    ((zot_commit)) && line+=" $(ratio "$(value ecrd "$id" "$field")" "$(value zot-commit "$id" "$field")") |"
    ((have_baseline)) && line+=" $(ratio "$(value ecrd "$id" "$field")" "$(value baseline "$id" "$field")") |"
  elif ((${#peers[@]} > 1)); then
    for name in "${peers[@]:1}"; do
      line+=" $(ratio "$(value "$name" "$id" "$field")" "$(value "${peers[0]}" "$id" "$field")") |"
    done
  fi
  for name in "${scaleouts[@]}"; do
    line+=" $(ratio "$(value "$name" "$id" "$field")" "$(value ecrd "$id" "$field")") |"
  done
  if ((${#scaleouts[@]} > 1)); then
    line+=" $(ratio "$(value "${scaleouts[1]}" "$id" "$field")" "$(value "${scaleouts[0]}" "$id" "$field")") |"
  fi
  printf '%s\n' "$line"
}

header="| figure |"
rule="|---|"
for name in "${registries[@]}"; do
  header+=" $(display "$name") |"
  rule+="---|"
done
for name in "${ratio_header[@]}"; do
  header+=" $name |"
  rule+="---|"
done

echo "## ecrd-load comparison ($mode run, $(date -u +%Y-%m-%dT%H:%MZ))"
echo
echo "Machine: $(nproc) cores, $(uname -sr); client and server both on 127.0.0.1."
echo "Other load: CPU ${busy_before}% busy before the run, ${busy_after}% after (load average $load_before before, $load_after after)."
echo "Durable writes (dd 1 GiB, conv=fsync, same file system as the data dirs): ${dd_before} MB/s before, ${dd_after} MB/s after."
for name in "${registries[@]}"; do
  [[ $name == scaleout* ]] && continue
  bin_var=${name%-commit}
  [[ $name == zot-commit ]] && echo "- zot-commit: zot with storage.commit = true (each upload synced before its answer)"
  echo "- $name: ${!bin_var} ($(timeout 5 "${!bin_var}" --version 2>&1 | head -1 | cut -c1-100 || true))"
done
if ((scaleout)); then
  echo "- ecrd-scaleout: the same ecrd binary with --metadata on PostgreSQL ($pg_settings: its defaults but for max_connections) and --blobs on versitygw ($versitygw, posix backend), both on 127.0.0.1, their data in the same file system as the data dirs; a new database and bucket for every server start."
  if ((replicas > 1)); then
    echo "- ecrd-scaleout x$replicas: $replicas replicas on one database and bucket with one server key; ecrd-load sends operation i to replica i mod $replicas (every request of one operation to one replica); pulls read blobs that setup pushed through the first."
  fi
  echo "- Server CPU for the scale-out rows is ecrd's (all replicas); \"PostgreSQL + S3 CPU\" is the CPU time of the PostgreSQL server (the postmaster and every backend and helper process) and of versitygw over the same run: they share the $(nproc) cores with ecrd and the client."
fi
echo
if ((peer_auth)); then
  echo "Authentication on every request: ecrd with its registry token (from GetAuthorizationToken), the peers with htpasswd Basic (bcrypt, cost 4)."
else
  echo "Authentication: ecrd checks its registry token on every request; the peers run without authentication."
fi
((pin)) && echo "Pinned (--pin): every registry server on CPU 1, ecrd-load (and wrk) on CPU 0."
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
      row "$label: server CPU per request" "$id" "$ecrd_cpu * 1e6 / .http_requests" " µs" low
      ((scaleout)) && row "$label: PostgreSQL + S3 CPU per request" "$id" "$stores_cpu * 1e6 / .http_requests" " µs" low
      ;;
    push-2gb)
      ((quick)) && label="single 500 MB blob push, c=1"
      row "$label" "$id" .mb_per_s " MB/s" high
      row "server peak RSS during it" "$id" "$ecrd_peak_rss / 1e6" " MB" low
      row "server RSS growth during it" "$id" "$ecrd_rss_growth / 1e6" " MB" low
      ;;
    pull-*)
      row "$label" "$id" .mb_per_s " MB/s" high
      row "$label: server CPU per GB" "$id" "$ecrd_cpu * 1e12 / .bytes" " ms" low
      ;;
    *)
      row "$label" "$id" .mb_per_s " MB/s" high
      ;;
  esac
done

echo
echo "Details (the run reported above; errors of all runs):"
echo
echo "| scenario | registry | ops ok | errors | wall s | MB/s | ops/s | HTTP req/s | p50 ms | p99 ms | server CPU s | PostgreSQL + S3 CPU s | client CPU s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for entry in "${scenarios[@]}"; do
  IFS='|' read -r id _ _ _ <<<"$entry"
  selected "$id" || continue
  for name in "${registries[@]}"; do
    f=$results/$name.$id.json
    if [[ -s $f ]]; then
      jq -r --arg id "$id" --arg name "$(display "$name")" \
        "($ecrd_cpu) as \$cpu | ($stores_cpu) as \$stores | "'"| \($id) | \($name) | \(.ops) | \(.errors_all_runs // .errors) | \(.wall_seconds * 100 | round / 100) | \(.mb_per_s * 10 | round / 10) | \(.ops_per_s * 10 | round / 10) | \(.http_req_per_s * 10 | round / 10) | \(.p50_ms * 100 | round / 100) | \(.p99_ms * 100 | round / 100) | \(if $cpu then $cpu * 100 | round / 100 else "" end) | \(if $stores then $stores * 100 | round / 100 else "" end) | \(.client_cpu_seconds * 100 | round / 100) |"' "$f"
    else
      echo "| $id | $(display "$name") | failed: see $results/$name.$id.*.err | | | | | | | | | | |"
    fi
  done
done
echo
echo "Raw results and server logs: $results"

if ((failures > 0)); then
  log "compare.sh: $failures scenario runs failed or had errors"
  exit 1
fi
