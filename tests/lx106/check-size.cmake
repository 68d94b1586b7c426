# ctest lx106.client_size: prints the lx106 size of the client engine's builds and fails
# when one grows past its budget (the default build's budget is the 8 KB goal; the
# others sit a little above today's sizes; docs/client.md has the numbers).
#   cmake -DSIZE=xtensa-lx106-elf-size -DLIBS="a.a=MAX;b.a=MAX" [-DWHAT=... -DDOC=...]
#         -P check-size.cmake
# lx106.core_size uses it for the core (WHAT "the core", DOC docs/lx106.md).
if(NOT DEFINED WHAT)
  set(WHAT "the client engine")
endif()
if(NOT DEFINED DOC)
  set(DOC "docs/client.md")
endif()
include(${CMAKE_CURRENT_LIST_DIR}/lib-tool.cmake)
set(over "")
foreach(pair ${LIBS})
  string(REPLACE "=" ";" pair "${pair}")
  list(GET pair 0 lib)
  list(GET pair 1 budget)
  upd_lib_tool(out ${SIZE} -t ${lib})
  message("${out}")
  if(NOT out MATCHES "\n[ \t]*([0-9]+)[ \t]+[0-9]+[ \t]+[0-9]+[ \t]+[0-9]+[ \t]+[0-9a-f]+[ \t]+\\(TOTALS\\)")
    message(FATAL_ERROR "no TOTALS line in the output of ${SIZE} -t ${lib}")
  endif()
  set(text ${CMAKE_MATCH_1})
  get_filename_component(name ${lib} NAME)
  if(text GREATER budget)
    string(APPEND over "${name}: text ${text} bytes > budget ${budget}\n")
  else()
    message("${name}: text ${text} bytes (budget ${budget})\n")
  endif()
endforeach()
if(over)
  message(FATAL_ERROR "${WHAT} grew past its size budget:\n${over}"
                      "Find what grew (xtensa-lx106-elf-nm -S --size-sort on the library) "
                      "or, if the growth is worth it, raise the budget in tests/lx106/host.cmake "
                      "and update ${DOC}.")
endif()
