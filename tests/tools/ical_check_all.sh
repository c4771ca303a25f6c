#!/usr/bin/env bash
# Every independent check of one iCalendar file (ICAL.md 4.3), for tests and by hand.
#
#   tests/tools/ical_check_all.sh FILE [FROM TO]
#
# Runs:
#   bytecheck          tests/tools/ical_bytecheck.py (stdlib Python: UTF-8, CRLF,
#                      75 octets, controls, NAME: prefixes, BEGIN/END)
#   icaljs             tests/tools/icaljs_check.mjs (ical.js 2.2.1 structure rules)
#   libical-roundtrip  ical_libical roundtrip (no X-LIC-ERROR, byte-identical
#                      re-serialisation by libical 3.0.16)
# and, when FROM and TO are given (UTC "YYYYMMDDTHHMMSSZ"), expands the events
# starting in [FROM, TO) with ical.js, python3-vobject and libical and requires
# the three lists to be identical (expand-icaljs, expand-vobject,
# expand-libical, expansion-agreement). Without FROM/TO no expansion is done.
#
# Exit status: 0 when every check passed; 1 when any failed (each failure is
# named, with the checker's own messages, and the last line lists them all);
# 2 on usage errors or a checker that is not installed.
#
# Finding the tools: ICAL_LIBICAL names the ical_libical executable (built by
# CMake next to waymarkd: <build dir>/ical_libical); without it, ical_libical on
# PATH, then <repo>/build/ical_libical. ical.js comes from <repo>/node_modules
# (npm ci), Python is /usr/bin/python3 with python3-vobject. NODE overrides node.
# ICAL_CHECK_KEEP=DIR keeps the expansions (DIR/expand-*.out) for inspection.
set -u
if [ $# -ne 1 ] && [ $# -ne 3 ]; then
	echo "usage: $0 FILE [FROM TO]   (FROM/TO: UTC YYYYMMDDTHHMMSSZ)" >&2
	exit 2
fi
FILE=$1
FROM=${2:-}
TO=${3:-}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
NODE=${NODE:-node}

[ -r "$FILE" ] || { echo "ical_check_all: cannot read $FILE" >&2; exit 2; }
for t in ${FROM:+"$FROM" "$TO"}; do
	[[ $t =~ ^[0-9]{8}T[0-9]{6}Z$ ]] || { echo "ical_check_all: $t is not YYYYMMDDTHHMMSSZ" >&2; exit 2; }
done
LIBICAL=${ICAL_LIBICAL:-}
if [ -z "$LIBICAL" ]; then
	LIBICAL=$(command -v ical_libical 2>/dev/null || true)
	[ -n "$LIBICAL" ] || LIBICAL=$ROOT/build/ical_libical
fi
[ -x "$LIBICAL" ] || {
	echo "ical_check_all: no ical_libical executable (set ICAL_LIBICAL=<build dir>/ical_libical)" >&2
	exit 2
}
[ -x "$PY" ] || { echo "ical_check_all: needs $PY (Debian python3)" >&2; exit 2; }
command -v "$NODE" >/dev/null || { echo "ical_check_all: needs node" >&2; exit 2; }
[ -f "$ROOT/node_modules/ical.js/package.json" ] || {
	echo "ical_check_all: ical.js missing: run npm ci in $ROOT" >&2
	exit 2
}
"$PY" -c 'import vobject' 2>/dev/null || {
	echo "ical_check_all: needs python3-vobject (apt-get install python3-vobject)" >&2
	exit 2
}

TMP=$(mktemp -d /tmp/ical-check-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
FAILED=()
PASSED=0

# run NAME CMD...: stdout to $TMP/NAME.out; on failure the checker's stderr is shown.
run() {
	local name=$1
	shift
	if "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"; then
		PASSED=$((PASSED + 1))
		echo "ok   $name"
		return 0
	fi
	FAILED+=("$name")
	echo "FAIL $name"
	head -n 30 "$TMP/$name.err" | sed 's/^/     /'
	return 1
}

run bytecheck "$PY" "$HERE/ical_bytecheck.py" "$FILE"
run icaljs "$NODE" "$HERE/icaljs_check.mjs" "$FILE"
run libical-roundtrip "$LIBICAL" roundtrip "$FILE"

if [ -n "$FROM" ]; then
	ok=1
	run expand-icaljs "$NODE" "$HERE/icaljs_check.mjs" "$FILE" --expand "$FROM" "$TO" || ok=0
	run expand-vobject "$PY" "$HERE/ical_vobject_expand.py" "$FILE" "$FROM" "$TO" || ok=0
	run expand-libical "$LIBICAL" expand "$FILE" "$FROM" "$TO" || ok=0
	if [ -n "${ICAL_CHECK_KEEP:-}" ]; then
		mkdir -p "$ICAL_CHECK_KEEP" && cp "$TMP"/expand-*.out "$ICAL_CHECK_KEEP"/ 2>/dev/null
	fi
	if [ $ok = 1 ]; then
		if diff -u --label ical.js "$TMP/expand-icaljs.out" --label libical \
			"$TMP/expand-libical.out" >"$TMP/agree.err" &&
			diff -u --label vobject "$TMP/expand-vobject.out" --label libical \
				"$TMP/expand-libical.out" >>"$TMP/agree.err"; then
			PASSED=$((PASSED + 1))
			echo "ok   expansion-agreement ($(wc -l <"$TMP/expand-libical.out") instances in [$FROM, $TO))"
		else
			FAILED+=(expansion-agreement)
			echo "FAIL expansion-agreement"
			head -n 40 "$TMP/agree.err" | sed 's/^/     /'
		fi
	else
		FAILED+=(expansion-agreement)
		echo "FAIL expansion-agreement (an expander failed)"
	fi
fi

if [ ${#FAILED[@]} -eq 0 ]; then
	echo "ical_check_all: $FILE: all $PASSED checks passed"
	exit 0
fi
echo "ical_check_all: $FILE: FAILED: ${FAILED[*]}"
exit 1
