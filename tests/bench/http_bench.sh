#!/usr/bin/env bash
# Benchmarks (not tests): request rates of waymarkd on this machine, printed.
#
#   tests/bench/http_bench.sh [BUILD_DIR]      (default: build)
#
# Starts waymarkd on its embedded PostgreSQL in a temporary data directory,
# then, per RUNTIME.md R11:
#   * throughput at saturation with wrk (1 thread, 32 connections, 5 s) for
#     GET /healthz (no database), GET /api/v1/example/notes/{id} (the
#     credential lookup and one prepared statement), GET /api/v1/people/{id}
#     (the same with the person-scope check) and POST /api/v1/example/notes
#     (lookup and one INSERT);
#   * p50/p99 latency at a fixed rate of half that throughput with
#     h2load --h1 --rps, from its per-request log (wrk measures closed-loop
#     latency, which hides queueing).
# Needs wrk and h2load (apt-get install wrk nghttp2-client).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
BIN="$BUILD/waymarkd"
[ -x "$BIN" ] || { echo "no $BIN: build first (cmake -S . -B $BUILD && cmake --build $BUILD)"; exit 2; }
for t in wrk h2load; do
	command -v $t >/dev/null || { echo "needs $t: apt-get install wrk nghttp2-client"; exit 2; }
done

DATA=$(mktemp -d /tmp/waymark-bench-XXXXXX)
chmod 0755 "$DATA"
PORT=18787
URL="http://127.0.0.1:$PORT"
cat >"$DATA/config.json" <<EOF
{"server": {"data_dir": "$DATA/var", "log_level": "warn"}}
EOF
# A staff member and a token for the authenticated routes, made before the
# server starts (each subcommand starts and stops the embedded cluster).
"$BIN" staff create --email bench@example.org --name Bench --org "Bench" --role coordinator \
	--config "$DATA/config.json" >/dev/null
TOKEN=$("$BIN" token create --user bench@example.org --name bench --config "$DATA/config.json")
AUTH="Authorization: Bearer $TOKEN"
WAYMARK_LISTEN="127.0.0.1:$PORT" "$BIN" serve --config "$DATA/config.json" >"$DATA/server.log" 2>&1 &
PID=$!
cleanup() {
	kill -TERM "$PID" 2>/dev/null || true
	wait "$PID" 2>/dev/null || true
	rm -rf "$DATA"
}
trap cleanup EXIT
for _ in $(seq 1 600); do
	curl -sf "$URL/readyz" >/dev/null 2>&1 && break
	kill -0 "$PID" 2>/dev/null || { cat "$DATA/server.log"; exit 1; }
	sleep 0.1
done
curl -sf "$URL/readyz" >/dev/null || { echo "server not ready"; cat "$DATA/server.log"; exit 1; }
ID=$(curl -sf -H "$AUTH" -H 'Content-Type: application/json' -d '{"body":"bench"}' \
	"$URL/api/v1/example/notes" |
	sed -E 's/.*"id":([0-9]+).*/\1/')

# A person in the bench organisation, for an authenticated, scoped read
# (credential lookup + person_access + JSON built in SQL).
ORG=$(curl -sf -H "$AUTH" "$URL/api/v1/auth/me" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["memberships"][0]["organisation_id"])')
PERSON=$(curl -sf -H "$AUTH" -H 'Content-Type: application/json' \
	-d "{\"organisation_id\":$ORG,\"given_name\":\"Bench\",\"family_name\":\"Person\"}" \
	"$URL/api/v1/people" | sed -E 's/.*"id":([0-9]+).*/\1/')

cat >"$DATA/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"body":"a benchmark note"}'
wrk.headers["Content-Type"] = "application/json"
EOF

# rps of one wrk run: "Requests/sec: 12345.67"
saturate() { # path [script]
	local extra=()
	[ -n "${2:-}" ] && extra=(-s "$2")
	wrk -t1 -c32 -d5s -H "$AUTH" "${extra[@]}" "$URL$1" | awk '/Requests\/sec/ {printf "%d", $2}'
}

# p50 and p99 in ms at a fixed rate, from h2load's per-request log
# (columns: start time µs, status, duration µs).
fixed_rate() { # path rps [post-body-file]
	local log="$DATA/h2load.log" extra=()
	[ -n "${3:-}" ] && extra=(-d "$3" -H 'Content-Type: application/json')
	rm -f "$log"
	h2load --h1 -c 8 -D 5 --rps "$(( ($2 + 7) / 8 ))" --log-file "$log" -H "$AUTH" "${extra[@]}" \
		"$URL$1" >/dev/null 2>&1 || true
	sort -n -k3 "$log" | awk '{d[NR]=$3} END {
		if (NR == 0) { print "no samples"; exit }
		printf "p50 %.2f ms, p99 %.2f ms over %d requests", d[int(NR*0.5)]/1000, d[int(NR*0.99)]/1000, NR }'
}

echo '{"body":"a benchmark note"}' >"$DATA/body.json"
printf '%-40s %10s   %s\n' "route" "req/s" "latency at 50% of that rate"
for spec in "GET /healthz" "GET /api/v1/example/notes/$ID" "GET /api/v1/people/$PERSON" \
	"POST /api/v1/example/notes"; do
	method=${spec%% *}
	path=${spec#* }
	if [ "$method" = POST ]; then
		rps=$(saturate "$path" "$DATA/post.lua")
		lat=$(fixed_rate "$path" $((rps / 2)) "$DATA/body.json")
	else
		rps=$(saturate "$path")
		lat=$(fixed_rate "$path" $((rps / 2)))
	fi
	printf '%-40s %10s   %s\n' "$spec" "$rps" "$lat"
done
echo "(waymarkd $("$BIN" version | head -1 | cut -d' ' -f2), 1 process, pool of $((2 * $(nproc) + 1)) connections, $(nproc) cores shared with the load generator)"
