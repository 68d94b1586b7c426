# Run a libFuzzer target for a bounded time on a fresh seed corpus (ctest driver).
#
#   cmake -DFUZZER=... -DMAKE_SEEDS=... -DWORKDIR=... -DSECONDS=30 [-DSHARED=dir]
#         -P run_fuzz.cmake
#
# MAX_LEN: longest input (libFuzzer -max_len). WORKDIR/corpus is emptied and seeded with make_seeds; the fuzzer writes the inputs it
# finds there. SHARED (real firmware, read in place) is given as a second corpus
# directory when it exists: libFuzzer only reads it. Crash inputs go to WORKDIR/.
# Fails when the fuzzer fails (a crash, a leak, a timeout or a broken invariant).

# SEEDS_DIR (instead of MAKE_SEEDS): copy the seeds from that directory. EXTRA: more
# libFuzzer flags (a ;-list).
if(DEFINED SEEDS_DIR)
  set(MAKE_SEEDS "")
endif()
foreach(v FUZZER MAKE_SEEDS WORKDIR SECONDS MAX_LEN)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run_fuzz.cmake: -D${v}=... is required")
  endif()
endforeach()

set(corpus "${WORKDIR}/corpus")
file(REMOVE_RECURSE "${corpus}")
file(MAKE_DIRECTORY "${corpus}")

if(DEFINED SEEDS_DIR)
  file(GLOB seeds "${SEEDS_DIR}/*")
  file(COPY ${seeds} DESTINATION "${corpus}")
else()
  execute_process(COMMAND "${MAKE_SEEDS}" "${corpus}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "make_seeds failed (${rc})")
  endif()
endif()

set(dirs "${corpus}")
if(DEFINED SHARED AND IS_DIRECTORY "${SHARED}")
  list(APPEND dirs "${SHARED}")
  message(STATUS "extra seeds (read in place): ${SHARED}")
else()
  message(STATUS "no shared firmware corpus at '${SHARED}': synthetic seeds only")
  set(synthetic_only TRUE)
endif()

# Inputs longer than MAX_LEN (real firmware) are cut to MAX_LEN when loaded.
set(cmd "${FUZZER}" -max_total_time=${SECONDS} -max_len=${MAX_LEN} -rss_limit_mb=4096
        -timeout=60 -print_final_stats=1 -artifact_prefix=${WORKDIR}/ ${EXTRA} ${dirs})
string(REPLACE ";" " " shown "${cmd}")
message(STATUS "running: ${shown}")
execute_process(COMMAND ${cmd} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)

# libFuzzer's log goes to stderr; show its tail and the final statistics.
string(REGEX MATCHALL "[^\n]*\n" lines "${out}")
list(LENGTH lines n)
if(NOT rc EQUAL 0)
  math(EXPR first "${n} - 80")
else()
  math(EXPR first "${n} - 12")
endif()
if(first LESS 0)
  set(first 0)
endif()
list(SUBLIST lines ${first} -1 tail)
string(REPLACE ";" "" tail "${tail}")
message("${tail}")

string(REGEX MATCH "Done [0-9]+ runs in [0-9]+ second\\(s\\)" done "${out}")
string(REGEX MATCH "stat::number_of_executed_units: +[0-9]+" execs "${out}")
string(REGEX MATCH "stat::average_exec_per_sec: +[0-9]+" rate "${out}")
string(REGEX REPLACE " +" " " execs "${execs}")
string(REGEX REPLACE " +" " " rate "${rate}")
message(STATUS "fuzz stats: ${done}; ${execs}; ${rate}")

if(NOT rc EQUAL 0)
  file(GLOB found "${WORKDIR}/crash-*" "${WORKDIR}/leak-*" "${WORKDIR}/timeout-*"
       "${WORKDIR}/oom-*")
  message(FATAL_ERROR "the fuzzer failed (exit ${rc}); reproducer(s): ${found}\n"
                      "rerun one with: ${FUZZER} <file>")
endif()

# Without the real firmware the run fuzzed synthetic seeds only: a weaker test than the
# one it stands for, so ctest reports it Skipped (SKIP_REGULAR_EXPRESSION in
# CMakeLists.txt), saying so; printed only after a clean run, so a crash still fails.
if(synthetic_only)
  message("SKIPPED: the real firmware seeds (${SHARED}) are missing: the fuzzer ran on "
          "synthetic seeds only, without error")
endif()
