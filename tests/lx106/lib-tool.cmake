# upd_lib_tool(OUT TOOL FLAG LIB): run "TOOL FLAG LIB" on a cross-built library and put
# its output in OUT; a missing library or a failing tool stops the script with a message.
# Included by the check-*.cmake scripts (cmake -P).
function(upd_lib_tool out tool flag lib)
  if(NOT EXISTS "${lib}")
    message(FATAL_ERROR "no such library: ${lib} (has the lx106 build run?)")
  endif()
  execute_process(COMMAND ${tool} ${flag} ${lib} RESULT_VARIABLE rc OUTPUT_VARIABLE o
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${tool} ${flag} ${lib} failed (${rc}): ${err}")
  endif()
  set(${out} "${o}" PARENT_SCOPE)
endfunction()
