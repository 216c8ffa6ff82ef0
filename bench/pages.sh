#!/usr/bin/env bash
# Page weight and server time: signs in through the real pages with curl, then loads each
# page with wrk over one connection (so the latency is one request at a time: the server's
# time plus loopback) and prints its median and 99th percentile, the HTML's size and the size
# with its same-origin stylesheet and script (the QR code is a data: URI inside the enrollment
# page's HTML, counted apart).
#
#   cargo build --release -p gatehouse && bench/pages.sh
#
# Settings: BENCH_DURATION (s per page, default 3), GATEHOUSE_BIN (target/release/gatehouse).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
duration=${BENCH_DURATION:-3}
bin=${GATEHOUSE_BIN:-$root/target/release/gatehouse}
port=18480
base="http://127.0.0.1:$port"

die() { echo "error: $*" >&2; exit 1; }
if ! command -v wrk >/dev/null; then
  echo "installing wrk from Debian" >&2
  (apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }) >/dev/null || die "cannot install wrk"
fi
for tool in curl python3; do command -v "$tool" >/dev/null || die "$tool is required"; done
[ -x "$bin" ] || die "build the release binary first: cargo build --release -p gatehouse"

work=$(mktemp -d)
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
GATEHOUSE_LOG=warn "$bin" --data-dir "$work/data" serve --listen "127.0.0.1:$port" --import "$root/bench/pages.toml" --demo >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 1 500); do curl -fs -o /dev/null "$base/healthz" && break; sleep 0.02; done

totp() { python3 -c 'import base64,hmac,struct,sys,time
k=base64.b32decode(sys.argv[1]); c=struct.pack(">Q", int(time.time())//30)
h=hmac.new(k,c,"sha1").digest(); o=h[-1]&15
print("%06d" % ((struct.unpack(">I",h[o:o+4])[0]&0x7fffffff)%1000000))' "$1"; }
# A cookie jar as a Cookie header (curl writes HttpOnly cookies as "#HttpOnly_" lines).
cookies_of() { sed 's/^#HttpOnly_//' "$1" | awk '!/^#/ && NF >= 7 { printf "%s=%s; ", $6, $7 }'; }
field() { sed -n "s/.*name=\"$1\" value=\"\\([^\"]*\\)\".*/\\1/p" | head -1; }
# GET with the jar: prints the redirect target (empty when none).
hop() { curl -s -c "$1" -b "$1" -o "$work/page" -w '%{redirect_url}' "$2"; }

# Alice signs in to the console (password, then her authenticator app if asked).
jar="$work/alice"
to=$(hop "$jar" "$base/account")
while [ -n "$to" ]; do
  case "$to" in
    *"/login?request="*)
      login_page="$to"
      hop "$jar" "$to" >/dev/null
      request=$(field request <"$work/page"); csrf=$(field csrf_token <"$work/page")
      to=$(curl -s -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' --data-urlencode "request=$request" --data-urlencode "csrf_token=$csrf" \
        --data-urlencode "email=alice@acme.test" --data-urlencode "password=a long bench passphrase" "$base/login") ;;
    *"/login/factor?request="*)
      factor_page="$to"
      hop "$jar" "$to" >/dev/null
      request=$(field request <"$work/page"); csrf=$(field csrf_token <"$work/page")
      to=$(curl -s -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' --data-urlencode "request=$request" --data-urlencode "csrf_token=$csrf" \
        --data-urlencode "method=totp" --data-urlencode "code=$(totp JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP)" "$base/login/factor") ;;
    *) to=$(hop "$jar" "$to") ;;
  esac
done
grep -q "Alice Admin" "$work/page" || die "the console sign-in did not reach the account page"
cookie=$(cookies_of "$jar")
curl -s -b "$jar" "$base/admin" -o "$work/admin"
tenant_path=$(grep -o '/admin/tenants/[A-Za-z0-9_-]*' "$work/admin" | head -1 || true)

# A sign-in left waiting at each flow page, in a jar of its own.
flow() { # email, app query -> prints the page URL the password leads to
  local j="$work/$1" t
  t=$(hop "$j" "$base/authorize?client_id=bench&redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Fcb&response_type=code&scope=openid&state=s&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256")
  hop "$j" "$t" >/dev/null
  echo "$t" >"$work/$1.login"
  local request csrf
  request=$(field request <"$work/page"); csrf=$(field csrf_token <"$work/page")
  curl -s -c "$j" -b "$j" -o /dev/null -w '%{redirect_url}' --data-urlencode "request=$request" --data-urlencode "csrf_token=$csrf" \
    --data-urlencode "email=$1" --data-urlencode "password=a long bench passphrase" "$base/login"
}
enroll_page=$(flow carol@globex.test)
carol_cookie=$(cookies_of "$work/carol@globex.test")
# A sign-in waiting at the password: the login page.
login_url=$(hop "$work/visitor" "$base/authorize?client_id=bench&redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Fcb&response_type=code&scope=openid&state=s&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256")
visitor_cookie=$(cookies_of "$work/visitor")
sleep 31 # a fresh TOTP step for Alice's second sign-in
factor_url=$(flow alice@acme.test)
alice_flow_cookie=$(cookies_of "$work/alice@acme.test")

css=$(curl -s "$base/static/gatehouse.css" | wc -c)
js=$(curl -s "$base/static/webauthn.js" | wc -c)
cat >"$work/cookie.lua" <<'LUA'
wrk.headers["Cookie"] = os.getenv("COOKIE")
LUA
printf '%-28s %8s %8s %10s %12s %10s %10s\n' page html "+css+js" "data: URIs" "transferred" "p50 ms" "p99 ms"
measure() { # name, url, cookie
  local body html datauri total out p50 p99 scripts
  local status
  status=$(curl -s -H "Cookie: $3" "$2" -o "$work/body" -w '%{http_code}')
  [ "$status" = 200 ] || die "$1 ($2) answered $status, not the page"
  html=$(wc -c <"$work/body")
  datauri=$(grep -o 'data:image[^"]*' "$work/body" | wc -c || true)
  scripts=0; grep -q 'webauthn.js' "$work/body" && scripts=$js
  total=$(( html - datauri + css + scripts ))
  out=$(COOKIE="$3" wrk -t1 -c1 -d"${duration}s" --latency -s "$work/cookie.lua" "$2")
  p50=$(awk '$1 == "50%" { print $2 }' <<<"$out"); p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
  ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) printf "%.2f", v/1000; else if (v ~ /ms$/) printf "%.2f", v+0; else printf "%.2f", v*1000 }'; }
  printf '%-28s %8d %8d %10d %12s %10s %10s\n' "$1" "$html" "$((html + css + scripts))" "$datauri" "$total B" "$(ms "$p50")" "$(ms "$p99")"
}
measure "login" "$base${login_url#"$base"}" "$visitor_cookie"
measure "second factor" "$base${factor_url#"$base"}" "$alice_flow_cookie"
measure "enrollment wizard" "$base${enroll_page#"$base"}" "$carol_cookie"
measure "account" "$base/account" "$cookie"
[ -n "$tenant_path" ] && measure "admin: tenant" "$base$tenant_path" "$cookie"
for p in /admin /admin/audit /admin/alerts /admin/applications /admin/simulate; do
  measure "admin: ${p#/admin}" "$base$p" "$cookie"
done
measure "demo application" "$base/demo" ""
echo "transferred = HTML without data: URIs + stylesheet + script when the page loads one; goal < 50 KB and < 5 ms"
