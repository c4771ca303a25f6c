# Fails listing every C file under ROOT that clang-format would change.
file(GLOB_RECURSE files ${ROOT}/core/*.[ch] ${ROOT}/include/*.h ${ROOT}/plugins/*.[ch]
     ${ROOT}/tests/*.[ch])
set(bad "")
foreach(f IN LISTS files)
  if(f MATCHES "/build")
    continue()
  endif()
  execute_process(COMMAND ${CLANG_FORMAT} --dry-run -Werror ${f}
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(NOT rc EQUAL 0)
    list(APPEND bad ${f})
  endif()
endforeach()
if(bad)
  string(REPLACE ";" "\n  " bad "${bad}")
  message(FATAL_ERROR "clang-format would change:\n  ${bad}\nrun: clang-format -i <file>")
endif()
message(STATUS "style: all files formatted")
