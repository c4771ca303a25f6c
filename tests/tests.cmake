# Every test is a Check executable run by CTest. Integration tests talk to the
# real PostgreSQL named by WAYMARK_TEST_PG (deploy/test starts one) and to the
# real waymarkd over sockets; without WAYMARK_TEST_PG they fail, loudly.

file(GLOB SUPPORT_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/support/*.c)
add_library(waymark_testsupport STATIC ${SUPPORT_SOURCES})
target_include_directories(waymark_testsupport PUBLIC ${PROJECT_SOURCE_DIR}/tests/support)
target_link_libraries(waymark_testsupport PUBLIC waymark_core PkgConfig::CHECK)
target_compile_definitions(waymark_testsupport PUBLIC
  WAYMARK_BIN="$<TARGET_FILE:waymarkd>"
  WAYMARK_PLUGIN_DIR="${CMAKE_BINARY_DIR}/plugins"
  WAYMARK_TEST_PLUGIN_DIR="${CMAKE_BINARY_DIR}/test_plugins"
  WAYMARK_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(waymark_testsupport waymarkd)

# Fixture plugins: one file each, tests/plugins/<name>.c -> waymark_<name>.so.
# They exist to be refused (or, for fixture_sleep, to hold a slow route).
file(GLOB FIXTURES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/plugins/*.c)
foreach(f IN LISTS FIXTURES)
  get_filename_component(name ${f} NAME_WE)
  add_library(waymark_${name} MODULE ${f})
  set_target_properties(waymark_${name} PROPERTIES PREFIX "" C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/test_plugins)
  target_include_directories(waymark_${name} PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(waymark_${name} PRIVATE PkgConfig::JANSSON)
  add_dependencies(waymark_testsupport waymark_${name})
endforeach()
foreach(p IN LISTS WAYMARK_STANDARD_PLUGINS)
  add_dependencies(waymark_testsupport waymark_${p})
endforeach()

function(waymark_check_tests DIR LABEL)
  file(GLOB tests CONFIGURE_DEPENDS ${DIR}/test_*.c)
  foreach(t IN LISTS tests)
    get_filename_component(n ${t} NAME_WE)
    add_executable(${n} ${t})
    target_link_libraries(${n} PRIVATE waymark_testsupport)
    add_test(NAME ${LABEL}.${n} COMMAND ${n})
    set_tests_properties(${LABEL}.${n} PROPERTIES LABELS ${LABEL} TIMEOUT 600
      ENVIRONMENT "CK_DEFAULT_TIMEOUT=120")
  endforeach()
endfunction()

waymark_check_tests(${PROJECT_SOURCE_DIR}/tests/unit unit)
waymark_check_tests(${PROJECT_SOURCE_DIR}/tests/abi abi)
waymark_check_tests(${PROJECT_SOURCE_DIR}/tests/integration integration)

# Fuzz targets: tests/fuzz/fuzz_<name>.c defines LLVMFuzzerTestOneInput.
# Normally linked with a standalone driver that replays the committed corpus
# tests/fuzz/corpus/<name>/ (a CTest); with WAYMARK_LIBFUZZER and clang, also
# built as a real libFuzzer binary for `fuzz_<name>_libfuzzer corpus/<name>`.
file(GLOB FUZZERS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
foreach(f IN LISTS FUZZERS)
  get_filename_component(n ${f} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" short ${n})
  add_executable(${n} ${f} ${PROJECT_SOURCE_DIR}/tests/fuzz/driver.c)
  target_link_libraries(${n} PRIVATE waymark_core)
  add_test(NAME fuzz.${short} COMMAND ${n} ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${short})
  set_tests_properties(fuzz.${short} PROPERTIES LABELS fuzz)
  if(WAYMARK_LIBFUZZER AND CMAKE_C_COMPILER_ID STREQUAL "Clang")
    # The core's sources are compiled into the fuzzer itself, so the code
    # under test carries the coverage instrumentation libFuzzer steers by.
    add_executable(${n}_libfuzzer ${f} ${CORE_SOURCES}
                   ${CMAKE_BINARY_DIR}/generated/core_migrations.c)
    target_include_directories(${n}_libfuzzer PRIVATE ${PROJECT_SOURCE_DIR}/include
                               ${PROJECT_SOURCE_DIR}/core)
    target_compile_definitions(${n}_libfuzzer PRIVATE _GNU_SOURCE
                               WAYMARK_VERSION="${PROJECT_VERSION}"
                               WAYMARK_STANDARD_PLUGINS="${WAYMARK_STANDARD_PLUGINS_CSV}")
    target_compile_options(${n}_libfuzzer PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${n}_libfuzzer PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(${n}_libfuzzer PRIVATE PkgConfig::LIBEVENT PkgConfig::LIBPQ
                          PkgConfig::JANSSON PkgConfig::SODIUM PkgConfig::LIBICAL
                          Threads::Threads ${CMAKE_DL_LIBS} m)
  endif()
endforeach()

# The style is part of the suite: a file clang-format would change fails it.
find_program(CLANG_FORMAT clang-format)
if(CLANG_FORMAT AND NOT WAYMARK_SANITIZE)
  add_test(NAME style.clang_format
    COMMAND ${CMAKE_COMMAND} -DCLANG_FORMAT=${CLANG_FORMAT} -DROOT=${PROJECT_SOURCE_DIR}
            -P ${PROJECT_SOURCE_DIR}/cmake/check_format.cmake)
endif()

# Checkers and tools for calendar feeds (issue 6), and the group_course
# plugin's unit tests (issue 5), each kept beside what it tests.
include(${PROJECT_SOURCE_DIR}/tests/tools/tools.cmake OPTIONAL)
include(${PROJECT_SOURCE_DIR}/plugins/group_course/tests.cmake OPTIONAL)
