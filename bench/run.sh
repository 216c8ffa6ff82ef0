#!/usr/bin/env bash
# HTTP load benchmark: Gatehouse and node's oidc-provider, configured alike, side by side on
# this machine, loaded with wrk over loopback. Prints requests/s, ratios and the goals.
#
#   cargo build --release -p gatehouse && bench/run.sh
#
# Settings: BENCH_DURATION (s, default 10), BENCH_THREADS (2), BENCH_CONNECTIONS (64),
# GATEHOUSE_BIN (default target/release/gatehouse), OIDC_PROVIDER_VERSION (default 8, the line that supports the Node.js 20 on these machines).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

duration=${BENCH_DURATION:-10}
threads=${BENCH_THREADS:-2}
connections=${BENCH_CONNECTIONS:-64}
bin=${GATEHOUSE_BIN:-$root/target/release/gatehouse}
provider_version=${OIDC_PROVIDER_VERSION:-8}
gh_port=18280
op_port=18380
secret="bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
basic=$(printf 'bench:%s' "$secret" | base64 -w0)

die() { echo "error: $*" >&2; exit 1; }
if ! command -v wrk >/dev/null; then
  echo "installing wrk from Debian" >&2
  (apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }) >/dev/null || die "cannot install wrk"
fi
for tool in curl node npm; do command -v "$tool" >/dev/null || die "$tool is required"; done
if [ ! -x "$bin" ]; then
  echo "building the release binary" >&2
  cargo build --release -p gatehouse
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
wait_http() { # url, what
  for _ in $(seq 1 500); do curl -fs -o /dev/null "$1" && return 0; sleep 0.01; done
  die "$2 did not come up"
}
json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }

# wrk LUA_SCRIPT URL -> "req/s non2xx"
load() {
  local out
  out=$(wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s "$root/bench/$1" "$2")
  local rps errors
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")
  echo "${rps:-0} ${errors:-0}"
}

# --- Gatehouse -------------------------------------------------------------------------------
"$bin" --data-dir "$work/gh-data" import "$root/bench/bench.toml" >/dev/null
start=$(now_ms)
GATEHOUSE_LOG=warn "$bin" --data-dir "$work/gh-data" serve --listen "127.0.0.1:$gh_port" >"$work/gh.log" 2>&1 &
gh_pid=$!
pids+=("$gh_pid")
wait_http "http://127.0.0.1:$gh_port/healthz" "gatehouse"
startup_ms=$(( $(now_ms) - start ))
sleep 1
idle_rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$gh_pid/status")
ready_line=$(grep -m1 "ready in" "$work/gh.log" || true)

# A user's access token through the real browser flow (curl with a cookie jar).
jar="$work/cookies"
cb="http%3A%2F%2F127.0.0.1%3A9999%2Fcb"
login=$(curl -s -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' \
  "http://127.0.0.1:$gh_port/authorize?client_id=bench&redirect_uri=$cb&response_type=code&scope=openid%20profile%20email&state=s")
page=$(curl -s -c "$jar" -b "$jar" "$login")
request=$(sed -n 's/.*name="request" value="\([^"]*\)".*/\1/p' <<<"$page")
csrf=$(sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' <<<"$page")
callback=$(curl -s -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' \
  --data-urlencode "request=$request" --data-urlencode "csrf_token=$csrf" \
  --data-urlencode "email=user@bench.test" --data-urlencode "password=a long bench passphrase" \
  "http://127.0.0.1:$gh_port/login")
code=$(sed -n 's/.*[?&]code=\([^&]*\).*/\1/p' <<<"$callback")
[ -n "$code" ] || die "sign-in did not return a code ($callback)"
user_at=$(curl -s -u "bench:$secret" --data-urlencode "grant_type=authorization_code" --data-urlencode "code=$code" \
  --data-urlencode "redirect_uri=http://127.0.0.1:9999/cb" "http://127.0.0.1:$gh_port/token" | json_field access_token)
[ -n "$user_at" ] || die "no user access token"
curl -fs -H "Authorization: Bearer $user_at" "http://127.0.0.1:$gh_port/userinfo" | grep -q '"email"' || die "userinfo check failed"

echo "Gatehouse: $ready_line"
echo "loading Gatehouse (${duration}s each, wrk -t$threads -c$connections)..."
read -r gh_token gh_token_err < <(BASIC_AUTH=$basic load token.lua "http://127.0.0.1:$gh_port/token")
read -r gh_userinfo gh_userinfo_err < <(ACCESS_TOKEN=$user_at load userinfo.lua "http://127.0.0.1:$gh_port/userinfo")
read -r gh_introspect gh_introspect_err < <(BASIC_AUTH=$basic ACCESS_TOKEN=$user_at load introspect.lua "http://127.0.0.1:$gh_port/introspect")
loaded_rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$gh_pid/status")
kill "$gh_pid"

# --- oidc-provider ---------------------------------------------------------------------------
scratch="$root/bench/.scratch"
mkdir -p "$scratch"
if [ ! -d "$scratch/node_modules/oidc-provider" ]; then
  echo "installing oidc-provider@$provider_version from npm into bench/.scratch" >&2
  (cd "$scratch" && [ -f package.json ] || echo '{"private":true,"type":"module"}' >"$scratch/package.json"
   cd "$scratch" && npm install --no-audit --no-fund --loglevel=error "oidc-provider@$provider_version" >/dev/null) || die "npm install failed"
fi
op_version=$(node -p "require('$scratch/node_modules/oidc-provider/package.json').version")
cp "$root/bench/oidc-provider-server.mjs" "$scratch/server.mjs"
NODE_ENV=production PORT=$op_port CLIENT_SECRET=$secret node "$scratch/server.mjs" >"$work/op.log" 2>&1 &
pids+=("$!")
wait_http "http://127.0.0.1:$op_port/.well-known/openid-configuration" "oidc-provider"
jwt=$(curl -s -u "bench:$secret" -d "grant_type=client_credentials&scope=read&resource=urn:bench" "http://127.0.0.1:$op_port/token" | json_field access_token)
[ "$(tr -cd '.' <<<"$jwt" | wc -c)" = 2 ] || die "oidc-provider did not issue a JWT access token: $jwt"
opaque=$(curl -s -u "bench:$secret" -d "grant_type=client_credentials&scope=read" "http://127.0.0.1:$op_port/token" | json_field access_token)
curl -s -u "bench:$secret" -d "token=$opaque" "http://127.0.0.1:$op_port/token/introspection" | grep -q '"active":true' || die "oidc-provider introspection check failed"

echo "loading oidc-provider $op_version..."
read -r op_token op_token_err < <(BASIC_AUTH=$basic RESOURCE=urn:bench load token.lua "http://127.0.0.1:$op_port/token")
read -r op_introspect op_introspect_err < <(BASIC_AUTH=$basic ACCESS_TOKEN=$opaque load introspect.lua "http://127.0.0.1:$op_port/token/introspection")

# --- Report ----------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }'; }
verdict() { awk -v v="$1" -v g="$2" 'BEGIN { print (v >= g) ? "PASS" : "MISS" }'; }
mkdir -p "$root/bench/results"
{
  echo "Gatehouse vs oidc-provider $op_version on $(nproc) cores, wrk -t$threads -c$connections -d${duration}s, loopback"
  printf '%-34s %12s %14s %8s %10s %6s\n' "endpoint" "gatehouse/s" "oidc-provider/s" "ratio" "goal" ""
  printf '%-34s %12.0f %14.0f %8s %10s %6s\n' "token (client_credentials, JWT)" "$gh_token" "$op_token" "$(ratio "$gh_token" "$op_token")" ">=10000" "$(verdict "$gh_token" 10000)"
  printf '%-34s %12s %14s %8s %10s %6s\n' "  ratio to oidc-provider" "" "" "" ">=5x" "$(verdict "$(awk -v a="$gh_token" -v b="$op_token" 'BEGIN{print a/b}')" 5)"
  printf '%-34s %12.0f %14s %8s %10s %6s\n' "userinfo" "$gh_userinfo" "n/a" "-" ">=20000" "$(verdict "$gh_userinfo" 20000)"
  printf '%-34s %12.0f %14.0f %8s %10s %6s\n' "introspection" "$gh_introspect" "$op_introspect" "$(ratio "$gh_introspect" "$op_introspect")" ">=20000" "$(verdict "$gh_introspect" 20000)"
  echo "non-2xx responses: gatehouse token $gh_token_err, userinfo $gh_userinfo_err, introspect $gh_introspect_err; oidc-provider token $op_token_err, introspect $op_introspect_err"
  echo "gatehouse start-up (exec to first /healthz answer): ${startup_ms} ms (goal < 100 ms); server's own figure: ${ready_line##*ready in }"
  echo "gatehouse idle resident memory: $(( idle_rss_kb / 1024 )) MB (goal < 20 MB); after the load: $(( loaded_rss_kb / 1024 )) MB"
  echo "notes: oidc-provider userinfo needs an interactive sign-in and is not loaded; its introspection runs on an opaque"
  echo "       token (it does not introspect JWT access tokens); Gatehouse introspects its JWT access tokens."
} | tee "$root/bench/results/latest.txt"

for e in "$gh_token_err" "$gh_userinfo_err" "$gh_introspect_err"; do
  [ "$e" = 0 ] || die "Gatehouse answered errors under load"
done
