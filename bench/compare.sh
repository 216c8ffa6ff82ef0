#!/usr/bin/env bash
# Side by side in one run: the password sign-in bench (crates/server/benches/sign_in.rs) on a
# baseline revision and on this checkout, alternating so both see the same machine load.
#
#   bench/compare.sh [BASE_REV]        # default BASE_REV: 02797fb (main before issue 16)
#   BENCH_ROUNDS=2 (default) rounds of baseline then this checkout.
#   CARGO_LOCK=/path: builds take this flock (machines where other builds run beside).
#   BENCH_HTTP=1 also runs bench/run.sh (wrk, against node's oidc-provider) with each
#   revision's release binary.
#
# Prints, for each run, criterion's estimates and the bench's own "server work outside
# Argon2" line; compare the medians across the two.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
base=${1:-02797fb}
rounds=${BENCH_ROUNDS:-2}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
work=$(mktemp -d)
cleanup() { git -C "$root" worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
git worktree add --detach -q "$work/base" "$base"
echo "baseline: $(git -C "$work/base" log --oneline -1)"
echo "this checkout: $(git log --oneline -1)$(git diff --quiet || echo ' (with uncommitted changes)')"

# Each revision's bench binary is built once and copied out. The baseline builds in a target
# directory of its own: in a shared one, the two revisions' workspace crates (same names and
# versions) replace each other's libraries and cargo takes the other's as fresh.
build() {
  (cd "$1" && ${CARGO_LOCK:+flock "$CARGO_LOCK"} cargo bench -p gatehouse-server --bench sign_in --no-run --message-format=json 2>/dev/null) \
    | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "sign_in" and m.get("executable"):
        print(m["executable"])' | tail -1 > "$work/path" || true
  [ -s "$work/path" ] || { echo "error: building the bench in $1 failed" >&2; exit 1; }
  cp "$(cat "$work/path")" "$2"
}
run() {
  (cd "$1" && "$2" --bench 2>/dev/null) \
    | grep -E '^password sign-in/|time: |median argon2id|server work outside Argon2' | sed 's/^/    /'
}
CARGO_TARGET_DIR="$root/target/bench-baseline" build "$work/base" "$work/bench-base"
build "$root" "$work/bench-this"
for round in $(seq 1 "$rounds"); do
  echo "== round $round, baseline ($base)"
  run "$work/base" "$work/bench-base"
  echo "== round $round, this checkout"
  run "$root" "$work/bench-this"
done

if [ "${BENCH_HTTP:-0}" = 1 ]; then
  (cd "$work/base" && CARGO_TARGET_DIR="$root/target/bench-baseline" ${CARGO_LOCK:+flock "$CARGO_LOCK"} cargo build --release -p gatehouse >/dev/null 2>&1) || { echo "error: release build of the baseline failed" >&2; exit 1; }
  cp "$root/target/bench-baseline/release/gatehouse" "$work/gatehouse-base"
  ${CARGO_LOCK:+flock "$CARGO_LOCK"} cargo build --release -p gatehouse >/dev/null 2>&1 || { echo "error: release build failed" >&2; exit 1; }
  echo "== HTTP, baseline ($base)"
  GATEHOUSE_BIN="$work/gatehouse-base" bench/run.sh
  echo "== HTTP, this checkout"
  GATEHOUSE_BIN="$CARGO_TARGET_DIR/release/gatehouse" bench/run.sh
fi
