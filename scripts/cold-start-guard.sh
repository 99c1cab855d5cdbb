#!/usr/bin/env bash
# The cold-start and size guard. Builds, in the release profile `sam build` ships, a
# hello-world `lambda_http` function (`benches/hello-lambda`, the floor) and three
# functions: the smallest (health), create-forecast and analyze-dataset (the largest,
# with the forecast engine). Runs the cold-start harness on each and fails when a
# function's median ready time exceeds 3x the baseline's (or 3 ms, whichever is larger),
# its stripped binary exceeds 10 MB, or its peak RSS after the first answer 12 MB.
#
#   bash scripts/cold-start-guard.sh            # RUNS=20 cold starts each by default
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-20}
functions=(health create-forecast analyze-dataset)
max_bytes=10000000
max_rss_bytes=12000000
floor_us=3000

bins=(--bin hello-lambda --bin cold-start)
for f in "${functions[@]}"; do bins+=(--bin "$f"); done
echo "==> building the baseline and ${functions[*]} (release)" >&2
cargo build --release --locked -p hello-lambda -p benches -p functions "${bins[@]}"

# One harness run: prints its report and leaves the `result` line's fields in $result.
measure() {
  local out
  out=$(target/release/cold-start "target/release/$1" "$runs" "${2:-$1}")
  printf '%s\n' "$out" | grep -v '^result ' >&2
  result=$(printf '%s\n' "$out" | grep '^result ')
}
field() { printf '%s\n' "$result" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

measure hello-lambda health
baseline_us=$(field ready_us)
limit_us=$(( baseline_us * 3 > floor_us ? baseline_us * 3 : floor_us ))
echo "baseline ready ${baseline_us} us: functions may take up to ${limit_us} us" >&2

failures=()
for f in "${functions[@]}"; do
  measure "$f"
  ready_us=$(field ready_us)
  bytes=$(field bytes)
  rss_bytes=$(( $(field rss_kib) * 1024 ))
  (( ready_us <= limit_us )) || failures+=("$f: median ready ${ready_us} us > ${limit_us} us")
  (( bytes <= max_bytes )) || failures+=("$f: binary ${bytes} bytes > ${max_bytes}")
  (( rss_bytes <= max_rss_bytes )) || failures+=("$f: peak RSS ${rss_bytes} bytes > ${max_rss_bytes}")
done

if (( ${#failures[@]} > 0 )); then
  printf 'cold-start guard FAILED:\n' >&2
  printf '  %s\n' "${failures[@]}" >&2
  exit 1
fi
echo "cold-start guard passed: ${functions[*]} within ${limit_us} us, ${max_bytes} bytes, ${max_rss_bytes} bytes RSS" >&2
