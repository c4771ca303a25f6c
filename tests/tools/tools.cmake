# Calendar-feed checkers (issue 6, ICAL.md 4.3), included by tests/tests.cmake.
#
# ical_libical: libical 3.0.16's round trip and expansion of a feed, used by
# tests/tools/ical_check_all.sh. It lands next to waymarkd
# (${CMAKE_BINARY_DIR}/ical_libical), so a test knowing WAYMARK_BIN finds it:
#   ICAL_LIBICAL=<dir of WAYMARK_BIN>/ical_libical tests/tools/ical_check_all.sh FILE [FROM TO]
# It is built whenever the test support library is, so integration tests can
# call the checker.
add_executable(ical_libical ${PROJECT_SOURCE_DIR}/tests/tools/ical_libical.c)
target_link_libraries(ical_libical PRIVATE PkgConfig::LIBICAL)
target_compile_definitions(ical_libical PRIVATE _GNU_SOURCE) # memmem
add_dependencies(waymark_testsupport ical_libical)

# The checkers' own test: a good feed passes everything, each broken fixture
# fails the check meant to catch it (tests/tools/ical_fixtures/expect.txt).
# Needs node_modules (npm ci) and /usr/bin/python3 with python3-vobject.
add_test(NAME unit.ical_tools_selftest
  COMMAND ${PROJECT_SOURCE_DIR}/tests/tools/ical_fixtures/selftest.sh)
set_tests_properties(unit.ical_tools_selftest PROPERTIES LABELS unit TIMEOUT 600
  ENVIRONMENT "ICAL_LIBICAL=$<TARGET_FILE:ical_libical>")

# Benchmark helper (tests/bench/feed_bench.sh): bare libical building and
# serialising the same events the server's feed holds. Not a test.
add_executable(ical_bare ${PROJECT_SOURCE_DIR}/tests/bench/ical_bare.c)
target_link_libraries(ical_bare PRIVATE PkgConfig::LIBICAL)
