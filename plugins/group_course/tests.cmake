# Unit tests of the group_course plugin's pure functions (settings,
# eligibility, completion, early warning, calendar text), compiled straight
# from the plugin's sources: no server, no database, no core. Included by
# tests/tests.cmake.
set(GC_DIR ${PROJECT_SOURCE_DIR}/plugins/group_course)
add_executable(test_gc_rules ${GC_DIR}/test/test_gc_rules.c ${GC_DIR}/gc_settings.c
               ${GC_DIR}/gc_eligibility.c ${GC_DIR}/gc_rules.c ${GC_DIR}/gc_render.c)
target_include_directories(test_gc_rules PRIVATE ${PROJECT_SOURCE_DIR}/include ${GC_DIR})
target_compile_definitions(test_gc_rules PRIVATE _GNU_SOURCE)
target_link_libraries(test_gc_rules PRIVATE PkgConfig::CHECK PkgConfig::JANSSON)
add_test(NAME unit.test_gc_rules COMMAND test_gc_rules)
set_tests_properties(unit.test_gc_rules PROPERTIES LABELS unit TIMEOUT 600
  ENVIRONMENT "CK_DEFAULT_TIMEOUT=120")
