# Shared by the scripts the end-to-end tests run (awscli.sh,
# lifecycle.sh): checks that count failures and go on, and AWS CLI calls
# that must succeed or must fail with an exact error. Source it after
# `set -Eeuo pipefail`; it needs AWS, JQ, ENDPOINT and WORK.

failures=0

step() { printf '\n=== %s\n' "$*" >&2; }

# die MESSAGE: a step could not go on.
die() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}

# failed MESSAGE: a check failed; the script goes on.
failed() {
  printf 'FAIL: %s\n' "$*" >&2
  failures=$((failures + 1))
}

# expect WHAT GOT WANT: two strings are equal.
expect() {
  if [[ "$2" == "$3" ]]; then
    printf 'ok: %s\n' "$1" >&2
  else
    failed "$1:
  got:  $2
  want: $3"
  fi
}

# expect_json WHAT GOT WANT: two JSON documents are equal (key order aside).
expect_json() {
  if "$JQ" -en --argjson got "$2" --argjson want "$3" '$got == $want' >/dev/null 2>&1; then
    printf 'ok: %s\n' "$1" >&2
  else
    failed "$1:
  got:  $("$JQ" -cS . <<<"$2" 2>/dev/null || printf '%s' "$2")
  want: $("$JQ" -cS . <<<"$3" 2>/dev/null || printf '%s' "$3")"
  fi
}

# expect_contains WHAT TEXT NEEDLE
expect_contains() {
  if [[ "$2" == *"$3"* ]]; then
    printf 'ok: %s\n' "$1" >&2
  else
    failed "$1: want the output to contain \"$3\"; it was:
$2"
  fi
}

# expect_recent WHAT TIMESTAMP: an ISO 8601 time from the CLI lies between
# the start of the script and now.
expect_recent() {
  local secs now
  if ! secs=$(date -d "$2" +%s 2>/dev/null); then
    failed "$1: \"$2\" is not a timestamp"
    return
  fi
  now=$(date +%s)
  if ((secs >= started - 1 && secs <= now + 1)); then
    printf 'ok: %s\n' "$1" >&2
  else
    failed "$1: $2 ($secs) is not between the start of the test ($started) and now ($now)"
  fi
}

# show ARGS...: the arguments for a log line, long ones (manifests) cut.
show() {
  local a out=()
  for a in "$@"; do
    if ((${#a} > 160)); then a="${a:0:100}...(${#a} bytes)"; fi
    out+=("$a")
  done
  printf '%s' "${out[*]}"
}

# aws_ok ARGS...: runs aws ARGS against ecrd and prints what it printed; a
# failure ends the script with the CLI's message.
aws_ok() {
  printf '+ aws %s\n' "$(show "$@")" >&2
  local rc=0
  "${AWS_BIN:-$AWS}" --endpoint-url "$ENDPOINT" "$@" >"$WORK/aws.out" 2>"$WORK/aws.err" || rc=$?
  if ((rc != 0)); then
    die "aws $(show "$@") exited with status $rc, want success. It said:
$(cat "$WORK/aws.out" "$WORK/aws.err")"
  fi
  cat "$WORK/aws.out"
}

# aws_err EXCEPTION OPERATION MESSAGE ARGS...: aws ARGS must fail with
# exactly "An error occurred (EXCEPTION) when calling the OPERATION
# operation: MESSAGE" (exit status 254, the status of the AWS CLI v2 for a
# service error; the v1 CLI exits 255).
aws_err() {
  local exception=$1 op=$2 message=$3
  shift 3
  printf '+ aws %s   (want %s)\n' "$(show "$@")" "$exception" >&2
  local rc=0 got want=254
  [[ $(aws_major) == 1 ]] && want=255
  "${AWS_BIN:-$AWS}" --endpoint-url "$ENDPOINT" "$@" >"$WORK/aws.out" 2>"$WORK/aws.err" || rc=$?
  got=$(grep -v '^$' "$WORK/aws.err" || true)
  if ((rc != want)); then
    failed "aws $(show "$@") exited with status $rc, want $want (a service error) with $exception. It said:
$(cat "$WORK/aws.out" "$WORK/aws.err")"
    return
  fi
  expect "aws $(show "$@"): the error" "$got" "An error occurred ($exception) when calling the $op operation: $message"
}

# aws_major: the major version of the AWS CLI that aws_ok and aws_err run,
# asked once per binary.
declare -A aws_majors
aws_major() {
  local bin=${AWS_BIN:-$AWS}
  if [[ -z ${aws_majors[$bin]:-} ]]; then
    aws_majors[$bin]=$("$bin" --version 2>&1 | sed -n 's|^aws-cli/\([0-9]*\)\..*|\1|p')
  fi
  echo "${aws_majors[$bin]}"
}

# finish: the script's verdict.
finish() {
  echo >&2
  if ((failures > 0)); then
    echo "$failures check(s) failed" >&2
    exit 1
  fi
  echo "all checks passed" >&2
}
