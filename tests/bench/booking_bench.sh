#!/usr/bin/env bash
# Benchmark (not a test): booking throughput and latency through waymarkd's
# API against pgbench running the same SQL on the same database.
#
#   tests/bench/booking_bench.sh [BUILD_DIR]   (default: build-release)
#
# BUILD_DIR must hold a release build (cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo).
# The script makes a throw-away PostgreSQL cluster (initdb into a temporary
# directory, Unix socket only), starts waymarkd on it (which migrates it),
# and writes the fixtures in SQL: one organisation, a staff member with an
# API token, a programme, 20 000 future sessions taken by booking (capacity
# 10 000 each, non-overlapping, so nothing is waitlisted or clashes) and
# people. Every request books a distinct (person, session) pair.
#
# Per client count (16 and 64), per RUNTIME.md R11:
#   * pgbench -M prepared running exactly what the server runs for one
#     POST /sessions/{id}/bookings: the credential lookup of core/auth.c
#     (token_sql), then SELECT core.booking_create(...) — two statements,
#     each its own transaction, as in the server;
#   * the server through HTTP with wrk (a Lua script gives every request
#     its own person/session pair), same number of connections;
#   * both rates and the ratio server/pgbench (target >= 0.9);
#   * p99 at a fixed rate of 50 % of pgbench's rate: pgbench --rate
#     (latency from --log) and h2load --h1 --rps (8 processes, one
#     connection each, each its own person, so no pair repeats; latency
#     from --log-file); ratio (target <= 2).
# BENCH_SECONDS (default 8) sets the length of each run; BENCH_SYNC_COMMIT=off
# takes the disk's flush out of both sides (default on: durable commits).
# BENCH_POOL sets the server's db.pool_size (default 0: 2 x cores + 1). With
# durable commits, throughput follows how many commits share one flush, so
# a pool as large as pgbench's client count is the like-for-like setting.
# Needs pgbench (postgresql-contrib), wrk, h2load (nghttp2-client).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build-release}
BIN="$BUILD/waymarkd"
[ -x "$BIN" ] || { echo "no $BIN: cmake -S . -B $BUILD -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build $BUILD"; exit 2; }
grep -q 'CMAKE_BUILD_TYPE:STRING=Rel' "$BUILD/CMakeCache.txt" 2>/dev/null ||
	echo "warning: $BUILD is not a release build; the figures will be low"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
for t in wrk h2load "$PGBIN/pgbench" "$PGBIN/initdb" "$PGBIN/pg_ctl"; do
	command -v "$t" >/dev/null || { echo "needs $t: apt-get install postgresql-contrib wrk nghttp2-client"; exit 2; }
done

DUR=${BENCH_SECONDS:-8}
NS=20000          # sessions
STRIDE=7919       # session step per request (prime, coprime with NS)
DATA=$(mktemp -d /tmp/waymark-bbench-XXXXXX)
chmod 0755 "$DATA"
PGPORT=55433
PORT=18788
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

# PostgreSQL refuses to run as root: as root, the cluster runs as postgres.
AS=()
if [ "$(id -u)" = 0 ]; then
	AS=(runuser -u postgres --)
	chown postgres "$DATA"
fi
"${AS[@]}" "$PGBIN/initdb" -D "$DATA/pg" -U postgres --auth=trust >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$DATA/pg" -l "$DATA/pg.log" -w \
	-o "-k $DATA -p $PGPORT -c listen_addresses='' -c max_connections=200 -c shared_buffers=256MB -c synchronous_commit=${BENCH_SYNC_COMMIT:-on}" \
	start >/dev/null
psql -q -d postgres -c "CREATE DATABASE bench"
export DATABASE_URL="host=$DATA port=$PGPORT user=postgres dbname=bench"
cat >"$DATA/config.json" <<EOF
{"server": {"data_dir": "$DATA/var", "log_level": "warn"},
 "db": {"pool_size": ${BENCH_POOL:-0}}}
EOF
WAYMARK_LISTEN="127.0.0.1:$PORT" "$BIN" serve --config "$DATA/config.json" >"$DATA/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 600); do
	curl -sf "$URL/readyz" >/dev/null 2>&1 && break
	kill -0 "$PID" 2>/dev/null || { cat "$DATA/server.log"; exit 1; }
	sleep 0.1
done
"$BIN" staff create --email bench@example.org --name Bench --org "Bench" --role coordinator \
	--config "$DATA/config.json" >/dev/null
TOKEN=$("$BIN" token create --user bench@example.org --name bench --config "$DATA/config.json")
AUTH="Authorization: Bearer $TOKEN"
STAFF=$(psql -Atc "SELECT id FROM core.staff WHERE email = 'bench@example.org'")
SELECTOR=$(psql -Atc "SELECT selector FROM core.api_token WHERE staff_id = $STAFF")
ORG=$(psql -Atc "SELECT org_id FROM core.membership WHERE staff_id = $STAFF LIMIT 1")

# Fixtures. People: 64 per run, runs use their own.
psql -q <<EOF
INSERT INTO core.programme (org_id, type, name) VALUES ($ORG, 'example', 'Bench events');
INSERT INTO core.session (programme_id, org_id, title, starts_at, ends_at, location_kind,
                          capacity, booking_mode)
SELECT p.id, $ORG, 'Bench event ' || g, now() + interval '30 days' + g * interval '3 hours',
       now() + interval '30 days' + g * interval '3 hours' + interval '2 hours',
       'community_venue', 10000, 'booked'
FROM core.programme p, generate_series(0, $NS - 1) g;
WITH p AS (INSERT INTO core.person (given_name, family_name)
           SELECT 'Bench', 'Person ' || g FROM generate_series(1, 2000) g RETURNING id)
INSERT INTO core.person_org (person_id, org_id) SELECT id, $ORG FROM p;
VACUUM ANALYZE;
EOF
S0=$(psql -Atc "SELECT min(id) FROM core.session")
P0=$(psql -Atc "SELECT min(id) FROM core.person")
# Each run takes a fresh block of 64 people: P (set before each run, in
# this shell, not in the $(...) that runs it).
RUN=0

# The server's statements, verbatim from core/auth.c (token_sql) and
# core/api_bookings.c (bookings_create); pgbench -M prepared sends them as
# prepared statements with parameters, as the pool does.
cat >"$DATA/booking.sql" <<EOF
\set n :n + 1
\set sess $S0 + ((:n * $STRIDE + :client_id * 104729) % $NS)
\set person :p0 + :client_id
SELECT t.id, t.verifier_hash, s.id, s.server_admin, COALESCE((SELECT bit_or(core.role_bit(m.role)) FROM core.membership m  JOIN core.organisation o ON o.id = m.org_id AND o.archived_at IS NULL  WHERE m.staff_id = s.id), 0), t.last_used_at IS NULL OR t.last_used_at < now() - interval '60 seconds' FROM core.api_token t JOIN core.staff s ON s.id = t.staff_id WHERE t.selector = :sel AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now()) AND s.disabled_at IS NULL;
SELECT core.booking_create(:staff::bigint, '127.0.0.1'::inet, 'pgbench000000000'::text, :sess::bigint, :person::bigint, NULL::text, '{}'::text[], false);
EOF

# wrk: request i books person p0 + (i mod C) onto the session that
# pgbench's formula gives that person's (i div C)-th request.
cat >"$DATA/booking.lua" <<'EOF'
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local c = i % C
  local n = math.floor(i / C) + 1
  i = i + 1
  local sess = S0 + ((n * STRIDE + c * 104729) % NS)
  return wrk.format(nil, "/api/v1/sessions/" .. sess .. "/bookings", nil,
    '{"person_id":' .. (P0 + c) .. '}')
end
EOF

next_people() { P=$((P0 + RUN * 64)); RUN=$((RUN + 1)); }
# A run that fails prints its errors and counts as 0.
pg_errors() { [ -s "$DATA/pgbench.err" ] && head -3 "$DATA/pgbench.err" >&2; return 0; }

pgbench_rate() { # clients -> tps
	"$PGBIN/pgbench" -n -M prepared -c "$1" -j 2 -T "$DUR" -f "$DATA/booking.sql" \
		-D n=0 -D p0="$P" -D staff="$STAFF" -D sel="$SELECTOR" bench 2>"$DATA/pgbench.err" |
		awk '/^tps/ {printf "%d", $3}' || true
	pg_errors
}

server_rate() { # clients -> req/s (non-2xx counted and shown)
	sed -e "1i C = $1; S0 = $S0; P0 = $P; STRIDE = $STRIDE; NS = $NS" "$DATA/booking.lua" \
		>"$DATA/run.lua"
	wrk -t1 -c"$1" -d"${DUR}s" -H "$AUTH" -s "$DATA/run.lua" "$URL" >"$DATA/wrk.out"
	local bad
	bad=$(awk '/Non-2xx/ {print $NF}' "$DATA/wrk.out")
	[ -n "$bad" ] && echo "  (wrk: $bad non-2xx replies)" >&2
	awk '/Requests\/sec/ {printf "%d", $2}' "$DATA/wrk.out"
}

# p99 in ms from a file of latencies in µs, one per line.
p99() { sort -n "$1" | awk '{d[NR]=$1} END { if (NR == 0) { print "n/a"; exit }
	i = int(NR * 0.99); if (i < 1) i = 1; printf "%.2f", d[i] / 1000 }'; }

pgbench_p99() { # clients rate -> p99 ms
	rm -f "$DATA"/pgbench_log.*
	(cd "$DATA" && "$PGBIN/pgbench" -n -M prepared -c "$1" -j 2 -T "$DUR" --rate "$2" \
		-f booking.sql -D n=0 -D p0="$P" -D staff="$STAFF" -D sel="$SELECTOR" \
		--log --log-prefix=pgbench_log bench >/dev/null 2>"$DATA/pgbench.err") || true
	pg_errors
	# columns: client, tx, latency µs (includes schedule lag), ...
	cat "$DATA"/pgbench_log.* | awk '{print $3}' >"$DATA/lat.pg"
	p99 "$DATA/lat.pg"
}

server_p99() { # rate -> p99 ms: 8 h2load processes, one connection each
	local procs=8 k
	rm -f "$DATA"/h2.* "$DATA/lat.srv"
	for k in $(seq 0 $((procs - 1))); do
		awk -v s0="$S0" -v ns="$NS" -v st="$STRIDE" -v c="$k" -v url="$URL" \
			'BEGIN { for (n = 1; n <= 20000; n++)
				print url "/api/v1/sessions/" (s0 + ((n * st + c * 104729) % ns)) "/bookings" }' \
			>"$DATA/h2.uris.$k"
		echo "{\"person_id\":$((P + k))}" >"$DATA/h2.body.$k"
		h2load --h1 -c 1 -D "$DUR" --rps "$(( ($1 + procs - 1) / procs ))" \
			-H "$AUTH" -H 'Content-Type: application/json' -d "$DATA/h2.body.$k" \
			-i "$DATA/h2.uris.$k" --log-file "$DATA/h2.log.$k" >"$DATA/h2.out.$k" 2>&1 &
	done
	wait $(jobs -p | grep -v "^$PID$") 2>/dev/null || true
	cat "$DATA"/h2.log.* | awk '$2 >= 200 && $2 < 300 {print $3}' >"$DATA/lat.srv"
	local bad
	bad=$(cat "$DATA"/h2.log.* | awk '$2 < 200 || $2 >= 300' | wc -l)
	[ "$bad" -gt 0 ] && echo "  (h2load: $bad non-2xx replies)" >&2
	p99 "$DATA/lat.srv"
}

echo "booking benchmark: $(nproc) cores shared by PostgreSQL, waymarkd and the load generator;"
echo "waymarkd $("$BIN" version | head -1 | cut -d' ' -f2) ($BUILD), 1 process, pool $( [ "${BENCH_POOL:-0}" -gt 0 ] && echo "$BENCH_POOL" || echo $((2 * $(nproc) + 1)) ), $DUR s per run"
best=0
for c in 4 8 16; do
	next_people
	r=$(pgbench_rate "$c")
	[ "${r:-0}" -gt "$best" ] && best=$r
	printf 'pgbench  c=%-3d %8s tps\n' "$c" "$r"
done
echo "best pgbench over c in {4,8,16}: $best tps (R11 reference)"
printf '\n%-8s %12s %12s %8s %14s %14s %8s\n' clients "pgbench tps" "server rps" ratio \
	"pgbench p99" "server p99" ratio
for c in 16 64; do
	next_people
	pg=$(pgbench_rate "$c")
	next_people
	sv=$(server_rate "$c")
	rate=$((pg / 2))
	next_people
	pp=$(pgbench_p99 "$c" "$rate")
	next_people
	sp=$(server_p99 "$rate")
	printf '%-8s %12s %12s %8s %11s ms %11s ms %8s\n' "$c" "$pg" "$sv" \
		"$(awk -v a="$sv" -v b="$pg" 'BEGIN {printf "%.2f", (b ? a / b : 0)}')" "$pp" "$sp" \
		"$(awk -v a="$sp" -v b="$pp" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')"
done
echo "(p99 at a fixed rate of 50 % of that row's pgbench tps: pgbench --rate with that many clients, h2load --h1 --rps with 8 connections)"
echo "bookings made: $(psql -Atc "SELECT count(*) FROM core.booking WHERE status = 'booked'"), waitlisted: $(psql -Atc "SELECT count(*) FROM core.booking WHERE status = 'waitlisted'")"
grep -E "ERROR|WARN" "$DATA/server.log" | sort | uniq -c | head -5 || true
