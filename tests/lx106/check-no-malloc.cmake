# ctest lx106.core_no_malloc: fails if the cross-built core library calls the heap.
#   cmake -DNM=xtensa-lx106-elf-nm -DLIB=.../libupdraft-core.a -P check-no-malloc.cmake
include(${CMAKE_CURRENT_LIST_DIR}/lib-tool.cmake)
upd_lib_tool(out ${NM} -u ${LIB})
string(REGEX MATCHALL "[^\n]*[ \t](malloc|calloc|realloc|free|reallocarray|aligned_alloc|memalign|posix_memalign)\n"
       hits "${out}\n")
if(hits)
  message(FATAL_ERROR "the core must not use the heap; ${NM} -u lists:\n${hits}"
                      "(full list of undefined symbols below)\n${out}")
endif()
message(STATUS "no heap functions among the undefined symbols of ${LIB}:\n${out}")
