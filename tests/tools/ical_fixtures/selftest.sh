#!/usr/bin/env bash
# ctest ical_tools_selftest: proves the calendar checkers pass a good feed and
# that every one of them can fail. For each line of expect.txt, runs
# tests/tools/ical_check_all.sh on the fixture over its window: "pass" fixtures
# must pass every check (the three expansions agreeing, across DST changes);
# each bad fixture must exit 1 with each named check among the failures. At the
# end, every check ical_check_all.sh runs must have been seen failing at least
# once. Needs ICAL_LIBICAL (set by CTest), node_modules (npm ci) and
# /usr/bin/python3 with python3-vobject.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
CHECK="$HERE/../ical_check_all.sh"
ALL_CHECKS="bytecheck icaljs libical-roundtrip expand-icaljs expand-vobject expand-libical expansion-agreement"
bad=0
seen_failing=" "
TMP=$(mktemp -d /tmp/ical-selftest-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# Run the fixtures in parallel (as many at a time as there are cores), then judge.
jobs_max=$(nproc 2>/dev/null || echo 2)
i=0
while read -r file from to outcome; do
	case $file in '' | '#'*) continue ;; esac
	i=$((i + 1))
	(
		"$CHECK" "$HERE/$file" "$from" "$to" >"$TMP/$i.out" 2>&1
		echo $? >"$TMP/$i.rc"
	) &
	while [ "$(jobs -pr | wc -l)" -ge "$jobs_max" ]; do wait -n; done
done <"$HERE/expect.txt"
wait
i=0
while read -r file from to outcome; do
	case $file in '' | '#'*) continue ;; esac
	i=$((i + 1))
	out=$(cat "$TMP/$i.out")
	rc=$(cat "$TMP/$i.rc" 2>/dev/null || echo 99)
	failed=$(printf '%s\n' "$out" | sed -n 's/^ical_check_all: .*: FAILED: //p')
	if [ "$outcome" = pass ]; then
		if [ "$rc" -eq 0 ]; then
			echo "ok   $file passes every check"
		else
			echo "FAIL $file should pass (exit $rc)"
			printf '%s\n' "$out" | sed 's/^/     /'
			bad=1
		fi
		continue
	fi
	if [ "$rc" -ne 1 ]; then
		echo "FAIL $file: ical_check_all.sh exit $rc, expected 1"
		printf '%s\n' "$out" | sed 's/^/     /'
		bad=1
		continue
	fi
	for c in ${outcome//,/ }; do
		case " $failed " in
		*" $c "*)
			echo "ok   $file fails $c"
			seen_failing="$seen_failing$c "
			;;
		*)
			echo "FAIL $file: $c did not fail (failed: ${failed:-nothing})"
			printf '%s\n' "$out" | sed 's/^/     /'
			bad=1
			;;
		esac
	done
done <"$HERE/expect.txt"
for c in $ALL_CHECKS; do
	case "$seen_failing" in
	*" $c "*) ;;
	*)
		echo "FAIL no fixture shows that $c can fail"
		bad=1
		;;
	esac
done
[ $bad -eq 0 ] && echo "ical_tools_selftest: all fixtures behaved as expected"
exit $bad
