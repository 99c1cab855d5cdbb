#!/usr/bin/env bash
# Runs each fuzz target (shared/fuzz/fuzz_targets/) for a bounded time, coverage-guided by
# libFuzzer through cargo-fuzz, starting from its committed corpus (shared/fuzz/corpus/<target>/).
# Stable Rust is enough: `--sanitizer none` needs no nightly flags, and the code under test
# forbids `unsafe`, which is what a sanitizer would watch. New inputs go to a scratch
# folder, so the committed corpus only changes by hand; a crash fails the run and leaves
# its input in shared/fuzz/artifacts/<target>/. Part of scripts/test.sh; runs on its own too.
#
# usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(csv_inspect timestamp token cursor)

[ -x "$root/.tools/cargo/bin/cargo-fuzz" ] || bash scripts/install-tools.sh
export PATH="$root/.tools/cargo/bin:$PATH"

# Optimised with debug assertions on: the build cargo-fuzz makes by default.
cargo fuzz build --fuzz-dir shared/fuzz --sanitizer none

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
summary=()
for target in "${targets[@]}"; do
  printf '\n==> fuzzing %s for %s s\n' "$target" "$seconds" >&2
  mkdir -p "$scratch/$target"
  cargo fuzz run --fuzz-dir shared/fuzz --sanitizer none "$target" "$scratch/$target" "shared/fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 -close_fd_mask=1 2>"$scratch/$target.log" || {
    tail -n 40 "$scratch/$target.log" >&2
    echo "fuzz: $target crashed; the input is in shared/fuzz/artifacts/$target/" >&2
    exit 1
  }
  runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$scratch/$target.log")
  coverage=$(grep -oE 'cov: [0-9]+' "$scratch/$target.log" | tail -n1 | awk '{ print $2 }')
  summary+=("$target: ${runs:-?} runs in $seconds s, coverage ${coverage:-?} edges, no crash")
done
printf 'fuzz: %s\n' "${summary[@]}" >&2
