#!/usr/bin/env bash
# Benchmark (not a test): serving a 10 000-event programme calendar feed, side
# by side with bare libical and two npm generators (issue 6, ICAL.md 5).
#
#   tests/bench/feed_bench.sh [BUILD_DIR]   (default: build-release)
#   BENCH_CACHE=0 tests/bench/feed_bench.sh ...   (every GET rebuilds the feed)
#
# BUILD_DIR must hold a release build (cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo)
# with waymarkd and ical_bare (tests/bench/ical_bare.c, built by
# tests/tools/tools.cmake). Like booking_bench.sh, the script makes a throw-away
# PostgreSQL cluster (initdb into a temporary directory, Unix socket only),
# starts waymarkd on it (which migrates it) and writes the fixtures in SQL: one
# organisation, a coordinator with an API token, a programme with
# public_listing = true, a venue with a public_name, and 10 000 one-off
# sessions spread over the next 12 months (titles with commas, a semicolon and
# an em dash, as in ICAL.md 5). It creates a programme feed with
# POST /api/v1/feeds, checks the feed is served (200, text/calendar) and, unless
# BENCH_CHECK=0, runs tests/tools/ical_check_all.sh on it over the next 13
# months (a failure is printed and repeated at the end, but the timings still
# run). Then it measures:
#   * server: GET of the feed with curl, median time_total of BENCH_RUNS
#     (default 15) after 3 warm-ups, and the bytes; also the CPU time per GET
#     of waymarkd plus the bench's PostgreSQL processes (from /proc);
#   * libical: ical_bare building + serialising + freeing the same events
#     (exported from PostgreSQL as TSV), median of 7 after a warm-up;
#   * ics@3.12.0 and ical-generator@10.2.0 on the same TSV (node, medians of
#     7 and 5 after 2 warm-ups; they write UTC times, having no TZID support);
#   * the revalidation rate: wrk -t1 -c8 with If-None-Match: <the ETag>
#     (every reply must be 304), and for reference the full 200 rate.
# Prints the table and the ratios ics/server (target >= 7),
# ical-generator/server (>= 30) and server/libical (<= 1.5), from wall-clock
# medians and from CPU times (the generators report their process CPU time
# too): on a busy machine the CPU figures are the steadier ones.
# Needs curl, wrk, node with node_modules (npm ci), PostgreSQL's initdb/pg_ctl.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build-release}
BIN="$BUILD/waymarkd"
BARE="$BUILD/ical_bare"
[ -x "$BIN" ] && [ -x "$BARE" ] || {
	echo "no $BIN or $BARE: cmake -S . -B $BUILD -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build $BUILD"
	exit 2
}
grep -q 'CMAKE_BUILD_TYPE:STRING=Rel' "$BUILD/CMakeCache.txt" 2>/dev/null ||
	echo "warning: $BUILD is not a release build; the figures will be low"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
for t in wrk curl node "$PGBIN/initdb" "$PGBIN/pg_ctl"; do
	command -v "$t" >/dev/null || { echo "needs $t: apt-get install wrk curl nodejs postgresql"; exit 2; }
done
for m in ics ical-generator; do
	[ -d "node_modules/$m" ] || { echo "needs node_modules/$m: npm ci"; exit 2; }
done

NS=10000
RUNS=${BENCH_RUNS:-15}
DATA=$(mktemp -d /tmp/waymark-fbench-XXXXXX)
chmod 0755 "$DATA"
# Free port numbers unless BENCH_PORT/BENCH_PGPORT say, so two benches at once
# never meet (PostgreSQL listens on a Unix socket in $DATA only, but derives
# its shared-memory key from the port).
free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PGPORT=${BENCH_PGPORT:-$(free_port)}
PORT=${BENCH_PORT:-$(free_port)}
URL="http://127.0.0.1:$PORT"
export PGHOST=$DATA PGPORT PGUSER=postgres PGDATABASE=bench
PID=
AS=()
cleanup() {
	[ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
	"${AS[@]}" "$PGBIN/pg_ctl" -D "$DATA/pg" -m immediate stop >/dev/null 2>&1 || true
	[ -n "${KEEP:-}" ] || rm -rf "$DATA"
}
trap cleanup EXIT
die() {
	echo "feed_bench: $*" >&2
	exit 1
}

# PostgreSQL refuses to run as root: as root, the cluster runs as postgres.
if [ "$(id -u)" = 0 ]; then
	AS=(runuser -u postgres --)
	chown postgres "$DATA"
fi
"${AS[@]}" "$PGBIN/initdb" -D "$DATA/pg" -U postgres --auth=trust >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$DATA/pg" -l "$DATA/pg.log" -w \
	-o "-k $DATA -p $PGPORT -c listen_addresses='' -c shared_buffers=256MB" start >/dev/null
psql -q -d postgres -c "CREATE DATABASE bench"
export DATABASE_URL="host=$DATA port=$PGPORT user=postgres dbname=bench"
# BENCH_CACHE=0 turns the feed cache off (feeds.cache_bytes 0), so every GET
# builds the feed from the database as a first request does; with the cache
# (the default), repeated GETs of an unchanged feed are answered from it.
cat >"$DATA/config.json" <<EOF
{"server": {"data_dir": "$DATA/var", "log_level": "warn"},
 "feeds": {"cache_bytes": ${BENCH_CACHE:-67108864}}}
EOF
WAYMARK_LISTEN="127.0.0.1:$PORT" "$BIN" serve --config "$DATA/config.json" >"$DATA/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 600); do
	curl -sf "$URL/readyz" >/dev/null 2>&1 && break
	kill -0 "$PID" 2>/dev/null || { cat "$DATA/server.log"; exit 1; }
	sleep 0.1
done
sleep 0.2
kill -0 "$PID" 2>/dev/null || { cat "$DATA/server.log"; die "waymarkd exited (port $PORT taken?)"; }
"$BIN" staff create --email bench@example.org --name Bench --org "Bench" --role coordinator \
	--config "$DATA/config.json" >/dev/null
TOKEN=$("$BIN" token create --user bench@example.org --name bench --config "$DATA/config.json")
AUTH="Authorization: Bearer $TOKEN"
STAFF=$(psql -Atc "SELECT id FROM core.staff WHERE email = 'bench@example.org'")
ORG=$(psql -Atc "SELECT org_id FROM core.membership WHERE staff_id = $STAFF LIMIT 1")

# Fixtures: 10 000 one-offs, one every 50 minutes from tomorrow (about 347
# days), all inside the feed's 12-month window.
PROG=$(psql -Atq <<EOF
INSERT INTO core.programme (org_id, type, name, public_listing)
VALUES ($ORG, 'example', 'Bench events', true) RETURNING id;
EOF
)
VENUE=$(psql -Atq <<EOF
INSERT INTO core.venue (org_id, name, location_kind, public_name)
VALUES ($ORG, 'Bench hall (staff name)', 'community_venue', 'Visitors'' Centre, Main Gate')
RETURNING id;
EOF
)
psql -q <<EOF
INSERT INTO core.session (programme_id, org_id, title, starts_at, ends_at, location_kind,
                          venue_id, booking_mode)
SELECT $PROG, $ORG,
       'Maths club, Year ' || (g % 7 + 1) || '; fractions — bring a calculator',
       date_trunc('hour', now()) + interval '1 day' + g * interval '50 minutes',
       date_trunc('hour', now()) + interval '1 day' + g * interval '50 minutes'
         + interval '1 hour',
       'community_venue', $VENUE, 'booked'
FROM generate_series(0, $NS - 1) g;
VACUUM ANALYZE;
EOF

# The same events as TSV for ical_bare and the node generators.
psql -At -F $'\t' >"$DATA/events.tsv" <<EOF
SELECT s.id,
       to_char(s.updated_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS"Z"'),
       to_char(s.starts_at AT TIME ZONE 'Europe/London', 'YYYYMMDD"T"HH24MISS'),
       to_char(s.ends_at AT TIME ZONE 'Europe/London', 'YYYYMMDD"T"HH24MISS'),
       to_char(s.starts_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS"Z"'),
       to_char(s.ends_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS"Z"'),
       s.sequence, s.title, coalesce(v.public_name, '')
FROM core.session s LEFT JOIN core.venue v ON v.id = s.venue_id
WHERE s.programme_id = $PROG ORDER BY s.starts_at, s.id;
EOF
[ "$(wc -l <"$DATA/events.tsv")" -eq "$NS" ] || die "exported $(wc -l <"$DATA/events.tsv") events, not $NS"

# The feed, through the API.
code=$(curl -s -o "$DATA/feed.json" -w '%{http_code}' -H "$AUTH" -H 'Content-Type: application/json' \
	-d "{\"kind\":\"programme\",\"programme_id\":$PROG}" "$URL/api/v1/feeds")
[ "$code" = 201 ] || [ "$code" = 200 ] ||
	die "POST /api/v1/feeds answered $code (route missing or refused): $(head -c 300 "$DATA/feed.json")"
FEED_PATH=$(/usr/bin/python3 -c '
import json, sys, urllib.parse
r = json.load(open(sys.argv[1]))
u = urllib.parse.urlsplit(r["url"])
assert r["token"] in u.path, "the url does not carry the token"
print(u.path)' "$DATA/feed.json") || die "POST /api/v1/feeds reply has no usable token/url: $(head -c 300 "$DATA/feed.json")"
FEED="$URL$FEED_PATH"
code=$(curl -s -D "$DATA/feed.headers" -o "$DATA/feed.ics" -w '%{http_code}' "$FEED")
[ "$code" = 200 ] || die "GET of the feed answered $code, not 200: $(head -c 300 "$DATA/feed.ics")"
grep -qi '^content-type: text/calendar' "$DATA/feed.headers" || die "feed Content-Type is not text/calendar"
ETAG=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *\(.*\)\r$/\1/p' "$DATA/feed.headers")
[ -n "$ETAG" ] || die "the feed has no ETag"
FEED_BYTES=$(wc -c <"$DATA/feed.ics")
FEED_EVENTS=$(grep -c '^BEGIN:VEVENT' "$DATA/feed.ics" || true)
[ "$FEED_EVENTS" -eq "$NS" ] || echo "warning: the feed holds $FEED_EVENTS events, not $NS" >&2
code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$FEED")
[ "$code" = 304 ] || die "If-None-Match with the feed's ETag answered $code, not 304"

if [ "${BENCH_CHECK:-1}" != 0 ]; then
	FROM=$(date -u +%Y%m%dT000000Z)
	TO=$(date -u -d '+13 months' +%Y%m%dT000000Z)
	ICAL_LIBICAL="$BUILD/ical_libical" tests/tools/ical_check_all.sh "$DATA/feed.ics" "$FROM" "$TO" \
		>"$DATA/check.out" 2>&1 || { grep -v '^ok ' "$DATA/check.out" | head -40; }
	# A failure is reported, not fatal: the timings are still worth having.
	CHECKED="served feed: $(tail -1 "$DATA/check.out")"
	echo "$CHECKED"
fi

median() { sort -n | awk '{v[NR]=$1} END {if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
field() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p"; } # key=value from a bench line

# CPU time (user + system, in clock ticks) of waymarkd and of every process of
# the bench's own PostgreSQL cluster: a busy machine stretches wall-clock
# times, CPU time much less.
HZ=$(getconf CLK_TCK)
PGMASTER=$(head -1 "$DATA/pg/postmaster.pid")
cpu_ticks() { # pids... -> summed utime + stime
	local t=0 p v
	for p in "$@"; do
		v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null) || continue
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
# shellcheck disable=SC2046 # pid lists are split on purpose
pg_pids() { echo "$PGMASTER" $(ps -o pid= --ppid "$PGMASTER"); }

for _ in 1 2 3; do curl -s -o /dev/null "$FEED"; done
S0=$(cpu_ticks "$PID")
# shellcheck disable=SC2046
P0=$(cpu_ticks $(pg_pids))
SERVER_MS=$(for _ in $(seq 1 "$RUNS"); do
	curl -s -o /dev/null -w '%{time_total}\n' "$FEED"
done | awk '{print $1 * 1000}' | median)
S1=$(cpu_ticks "$PID")
# shellcheck disable=SC2046
P1=$(cpu_ticks $(pg_pids))
per_get() { awk -v d="$1" -v hz="$HZ" -v n="$RUNS" 'BEGIN {printf "%.1f", d * 1000 / hz / n}'; }
SERVER_CPU=$(per_get $((S1 - S0 + P1 - P0)))
WAYMARKD_CPU=$(per_get $((S1 - S0)))
PG_CPU=$(per_get $((P1 - P0)))

BARE_OUT=$("$BARE" "$DATA/events.tsv" 7 "$DATA/bare.ics")
ICS_OUT=$(node tests/bench/feed_bench_ics.mjs "$DATA/events.tsv" 7)
GEN_OUT=$(node tests/bench/feed_bench_icalgen.mjs "$DATA/events.tsv" 5)

wrk -t1 -c8 -d5s --timeout 30s -H "If-None-Match: $ETAG" "$FEED" >"$DATA/wrk304.out"
wrk -t1 -c8 -d5s --timeout 30s "$FEED" >"$DATA/wrk200.out"
RATE304=$(awk '/Requests\/sec/ {printf "%d", $2}' "$DATA/wrk304.out")
RATE200=$(awk '/Requests\/sec/ {printf "%d", $2}' "$DATA/wrk200.out")
# wrk counts 304 as a success; a 200 would carry the body: check the transfer.
XFER=$(awk '/Transfer\/sec/ {print $2}' "$DATA/wrk304.out")
grep -q 'Non-2xx or 3xx' "$DATA/wrk304.out" && echo "warning: errors in the 304 run" >&2

BARE_MS=$(field median_ms <<<"$BARE_OUT")
ICS_MS=$(field median_ms <<<"$ICS_OUT")
GEN_MS=$(field median_ms <<<"$GEN_OUT")
BARE_CPU=$(field cpu_ms <<<"$BARE_OUT")
ICS_CPU=$(field cpu_ms <<<"$ICS_OUT")
GEN_CPU=$(field cpu_ms <<<"$GEN_OUT")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
verdict() { awk -v r="$1" -v t="$2" -v op="$3" 'BEGIN {
	ok = (op == ">=" ? r >= t : r <= t); printf "%s", (ok ? "met" : "MISSED") }'; }

echo
echo "calendar feed benchmark: $NS one-off events, $(nproc) cores shared by PostgreSQL, waymarkd and the clients"
echo "waymarkd $("$BIN" version | head -1 | cut -d' ' -f2) ($BUILD); node $(node --version); load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-46s %10s %10s %10s\n' "generator" "wall ms" "CPU ms" "bytes"
printf '%-46s %10s %10s %10s\n' "waymarkd GET (DB + build + HTTP; CPU incl. PG)" "$SERVER_MS" "$SERVER_CPU" "$FEED_BYTES"
printf '%-46s %10s %10s %10s\n' "libical 3.0.16 bare (build+serialise+free)" "$BARE_MS" "$BARE_CPU" "$(field bytes <<<"$BARE_OUT")"
printf '%-46s %10s %10s %10s\n' "ics 3.12.0 (UTC times)" "$ICS_MS" "$ICS_CPU" "$(field bytes <<<"$ICS_OUT")"
printf '%-46s %10s %10s %10s\n' "ical-generator 10.2.0 (UTC times)" "$GEN_MS" "$GEN_CPU" "$(field bytes <<<"$GEN_OUT")"
echo "  (server CPU per GET: waymarkd $WAYMARKD_CPU ms + PostgreSQL $PG_CPU ms)"
echo "  (medians: server $RUNS GETs after 3 warm-ups; libical wall split: build $(field build_ms <<<"$BARE_OUT") ms, serialise $(field serialise_ms <<<"$BARE_OUT") ms, free $(field free_ms <<<"$BARE_OUT") ms)"
echo
printf 'revalidation (If-None-Match -> 304), wrk -c8:  %s req/s (transfer %s/s)\n' "$RATE304" "$XFER"
printf 'full GET (200, %s bytes), wrk -c8:           %s req/s\n' "$FEED_BYTES" "$RATE200"
echo
printf '%-26s %8s %8s   %-8s %s\n' ratio wall CPU target "verdict (wall / CPU)"
row() { # name a_wall b_wall a_cpu b_cpu op target
	local w c
	w=$(ratio "$2" "$3")
	c=$(ratio "$4" "$5")
	printf '%-26s %7sx %7sx   %-8s %s / %s\n' "$1" "$w" "$c" "$6 $7" "$(verdict "$w" "$7" "$6")" \
		"$(verdict "$c" "$7" "$6")"
}
row "ics / server" "$ICS_MS" "$SERVER_MS" "$ICS_CPU" "$SERVER_CPU" ">=" 7
row "ical-generator / server" "$GEN_MS" "$SERVER_MS" "$GEN_CPU" "$SERVER_CPU" ">=" 30
row "server / libical" "$SERVER_MS" "$BARE_MS" "$SERVER_CPU" "$BARE_CPU" "<=" 1.5
[ -n "${CHECKED:-}" ] && echo "$CHECKED"
grep -E "ERROR|WARN" "$DATA/server.log" | sort | uniq -c | head -5 || true
