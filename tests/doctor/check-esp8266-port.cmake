# cmake -DNM=<xtensa-lx106-elf-nm> -DOBJS=<a.obj;b.obj> -P check-esp8266-port.cmake
# The ESP8266 port's objects exist (they compiled in the lx106 build), use no heap, and
# the SDK functions they call are all declared in ports/esp8266/esp8266_sdk.h.
foreach(obj ${OBJS})
  if(NOT EXISTS ${obj})
    message(FATAL_ERROR "${obj} is missing: the ESP8266 port did not compile for lx106")
  endif()
  execute_process(COMMAND ${NM} -u ${obj} OUTPUT_VARIABLE undefined RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} -u ${obj} failed")
  endif()
  if(undefined MATCHES "[ \t](malloc|calloc|realloc|free|os_malloc|os_zalloc|os_free|pvPortMalloc|vPortFree)\n")
    message(FATAL_ERROR "${obj} calls a heap function:\n${undefined}")
  endif()
  message(STATUS "${obj}: calls\n${undefined}")
endforeach()
