# Helpers shared by the core, the plugins and the tests.

# Generates OUT (a C file) defining `const struct wm_migration <SYMBOL>[]` and
# `const size_t <SYMBOL>_n` from DIR/NNNN_name.sql, at build time, so an edited
# migration is rebuilt into the binary (and then refused by its checksum).
function(waymark_embed_migrations SYMBOL DIR OUT)
  file(GLOB sql CONFIGURE_DEPENDS ${DIR}/*.sql)
  add_custom_command(
    OUTPUT ${OUT}
    COMMAND ${CMAKE_COMMAND} -DSYMBOL=${SYMBOL} -DDIR=${DIR} -DOUT=${OUT}
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_migrations.cmake
    DEPENDS ${sql} ${PROJECT_SOURCE_DIR}/cmake/embed_migrations.cmake
    COMMENT "Embedding migrations from ${DIR}")
endfunction()

# A plugin: a MODULE named waymark_<name>.so in OUTDIR, built with hidden
# visibility so wm_plugin_entry is its only export, linking nothing of the
# core. Sources: every .c in SRCDIR; migrations: SRCDIR/migrations.
function(waymark_plugin NAME SRCDIR OUTDIR)
  file(GLOB srcs CONFIGURE_DEPENDS ${SRCDIR}/*.c)
  set(gen ${CMAKE_BINARY_DIR}/generated/${NAME}_migrations.c)
  waymark_embed_migrations(${NAME}_migrations ${SRCDIR}/migrations ${gen})
  add_library(waymark_${NAME} MODULE ${srcs} ${gen})
  set_target_properties(waymark_${NAME} PROPERTIES
    PREFIX "" C_VISIBILITY_PRESET hidden LIBRARY_OUTPUT_DIRECTORY ${OUTDIR})
  target_include_directories(waymark_${NAME} PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_compile_definitions(waymark_${NAME} PRIVATE _GNU_SOURCE)
  target_link_libraries(waymark_${NAME} PRIVATE PkgConfig::JANSSON)
  target_link_options(waymark_${NAME} PRIVATE -Wl,--no-undefined)
  if(WAYMARK_SANITIZE)
    # The sanitizer runtime comes from the executable.
    target_link_options(waymark_${NAME} PRIVATE -Wl,--unresolved-symbols=ignore-in-object-files)
  endif()
endfunction()
