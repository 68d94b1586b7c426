# Included by tests/CMakeLists.txt in the HOST build when UPD_LX106_TESTS is ON:
# cross-builds the same source tree for the ESP8266's CPU as a nested build in
# <build>/lx106 (cmake/toolchains/xtensa-lx106.cmake) and runs each core unit test
# under QEMU as ctest "lx106.<test>". See docs/lx106.md.
include(ExternalProject)

set(UPD_LX106_DEBIAN_PACKAGES "gcc-xtensa-lx106 picolibc-xtensa-lx106-elf qemu-system-misc")
set(missing "")
foreach(pair UPD_LX106_GCC:xtensa-lx106-elf-gcc UPD_LX106_NM:xtensa-lx106-elf-nm
             UPD_LX106_SIZE:xtensa-lx106-elf-size UPD_QEMU_XTENSA:qemu-system-xtensa)
  string(REPLACE ":" ";" pair ${pair})
  list(GET pair 0 var)
  list(GET pair 1 prog)
  find_program(${var} ${prog})
  if(NOT ${var})
    list(APPEND missing ${prog})
  endif()
endforeach()
set(UPD_LX106_SPECS /usr/lib/xtensa-lx106-elf/picolibc.specs)
if(NOT EXISTS ${UPD_LX106_SPECS})
  list(APPEND missing ${UPD_LX106_SPECS})
endif()
list(JOIN missing ", " missing)
if(missing)
  message(FATAL_ERROR
    "UPD_LX106_TESTS=ON runs the core tests on the ESP8266's CPU under QEMU, but this "
    "machine lacks: ${missing}. Install the Debian packages:\n"
    "  sudo apt-get install ${UPD_LX106_DEBIAN_PACKAGES}\n"
    "or configure with -DUPD_LX106_TESTS=OFF.")
endif()

set(UPD_LX106_BINARY_DIR ${CMAKE_BINARY_DIR}/lx106)
set(UPD_LX106_CORE_LIB ${UPD_LX106_BINARY_DIR}/src/core/libupdraft-core.a)
set(UPD_LX106_ELFS "")
foreach(t ${UPD_CORE_UNIT_TESTS})
  list(APPEND UPD_LX106_ELFS ${UPD_LX106_BINARY_DIR}/tests/${t}.elf)
endforeach()

# The device client: its library and its tests (tests/client/list.cmake) come out of
# the same nested build.
include(${PROJECT_SOURCE_DIR}/tests/client/list.cmake)
set(UPD_LX106_CLIENT_LIB ${UPD_LX106_BINARY_DIR}/src/client/libupdraft-client.a)
foreach(t ${UPD_CLIENT_UNIT_TESTS})
  list(APPEND UPD_LX106_ELFS ${UPD_LX106_BINARY_DIR}/tests/client/${t}.elf)
endforeach()
list(APPEND UPD_LX106_ELFS ${UPD_LX106_CLIENT_LIB})
list(APPEND UPD_LX106_ELFS ${UPD_LX106_BINARY_DIR}/src/client/libupdraft-client-min.a)
list(APPEND UPD_LX106_ELFS ${UPD_LX106_BINARY_DIR}/src/client/libupdraft-client-full.a)
# The device crypto library and its tests (tests/crypto).
set(UPD_LX106_CRYPTO_LIB ${UPD_LX106_BINARY_DIR}/src/client/libupdraft-crypto.a)
set(UPD_LX106_CRYPTO_VECTORS_ELF ${UPD_LX106_BINARY_DIR}/tests/crypto/test_rsa_vectors.elf)
set(UPD_LX106_SHA256_ELF ${UPD_LX106_BINARY_DIR}/tests/crypto/test_sha256.elf)
set(UPD_LX106_MD5_ELF ${UPD_LX106_BINARY_DIR}/tests/crypto/test_md5.elf)
list(APPEND UPD_LX106_ELFS ${UPD_LX106_CRYPTO_LIB} ${UPD_LX106_CRYPTO_VECTORS_ELF}
     ${UPD_LX106_SHA256_ELF} ${UPD_LX106_MD5_ELF})
# The ESP8266 port over a fake SDK (tests/esp8266).
set(UPD_LX106_ESP8266_ELF ${UPD_LX106_BINARY_DIR}/tests/esp8266/test_esp8266_port.elf)
list(APPEND UPD_LX106_ELFS ${UPD_LX106_ESP8266_ELF})

# The nested build gets the toolchain file and nothing of the host's flags: no
# sanitizers (UPD_SANITIZE only acts on the host, and CFLAGS/LDFLAGS from the
# environment are dropped), no fuzzers, no CLI. Same build type as the host.
set(build_type ${CMAKE_BUILD_TYPE})
if(NOT build_type)
  set(build_type RelWithDebInfo)
endif()
ExternalProject_Add(updraft-lx106
  SOURCE_DIR ${PROJECT_SOURCE_DIR}
  BINARY_DIR ${UPD_LX106_BINARY_DIR}
  CMAKE_COMMAND ${CMAKE_COMMAND} -E env --unset=CFLAGS --unset=LDFLAGS --unset=ASMFLAGS
                --unset=CPPFLAGS --unset=CC ${CMAKE_COMMAND}
  CMAKE_ARGS
    -DCMAKE_TOOLCHAIN_FILE=${PROJECT_SOURCE_DIR}/cmake/toolchains/xtensa-lx106.cmake
    -DCMAKE_BUILD_TYPE=${build_type}
    -DUPD_SANITIZE=OFF
    -DUPD_FUZZ=OFF
    -DUPD_LX106_TESTS=OFF
    -DUPD_BUILD_TESTS=ON
  BUILD_ALWAYS ON
  INSTALL_COMMAND ""
  BUILD_BYPRODUCTS ${UPD_LX106_CORE_LIB} ${UPD_LX106_ELFS}
  USES_TERMINAL_BUILD ON)

foreach(t ${UPD_CORE_UNIT_TESTS})
  add_test(NAME lx106.${t}
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/run-qemu.sh ${UPD_LX106_BINARY_DIR}/tests/${t}.elf)
  set_tests_properties(lx106.${t} PROPERTIES TIMEOUT 90 LABELS lx106)
endforeach()

add_test(NAME lx106.core_no_malloc
         COMMAND ${CMAKE_COMMAND} -DNM=${UPD_LX106_NM} -DLIB=${UPD_LX106_CORE_LIB}
                 -P ${CMAKE_CURRENT_LIST_DIR}/check-no-malloc.cmake)
# the core's text on lx106: 32,618 bytes when the budget was set (docs/lx106.md)
add_test(NAME lx106.core_size
         COMMAND ${CMAKE_COMMAND} -DSIZE=${UPD_LX106_SIZE} "-DLIBS=${UPD_LX106_CORE_LIB}=34000"
                 "-DWHAT=the core" -DDOC=docs/lx106.md
                 -P ${CMAKE_CURRENT_LIST_DIR}/check-size.cmake)
set_tests_properties(lx106.core_no_malloc lx106.core_size PROPERTIES LABELS lx106)

# The device client on lx106: its tests under QEMU, no heap, and its size (goal: text
# <= 8 KB at -Os; budgets that catch growth: check-size.cmake; ctest -R client_size -V).
foreach(t ${UPD_CLIENT_UNIT_TESTS})
  add_test(NAME lx106.${t}
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/run-qemu.sh ${UPD_LX106_BINARY_DIR}/tests/client/${t}.elf)
  set_tests_properties(lx106.${t} PROPERTIES TIMEOUT 90 LABELS lx106)
endforeach()
add_test(NAME lx106.client_no_malloc
         COMMAND ${CMAKE_COMMAND} -DNM=${UPD_LX106_NM} -DLIB=${UPD_LX106_CLIENT_LIB}
                 -P ${CMAKE_CURRENT_LIST_DIR}/check-no-malloc.cmake)
# Both builds of the library: the default (every feature) and the minimal parity
# configuration (updraft-client-min: UPD_CLIENT_WITH_* off, src/client/CMakeLists.txt).
set(UPD_LX106_CLIENT_MIN_LIB ${UPD_LX106_BINARY_DIR}/src/client/libupdraft-client-min.a)
add_test(NAME lx106.client_size
         COMMAND ${CMAKE_COMMAND} -DSIZE=${UPD_LX106_SIZE}
                 "-DLIBS=${UPD_LX106_CLIENT_LIB}=8192;${UPD_LX106_CLIENT_MIN_LIB}=6050;${UPD_LX106_BINARY_DIR}/src/client/libupdraft-client-full.a=8700"
                 -P ${CMAKE_CURRENT_LIST_DIR}/check-size.cmake)
set_tests_properties(lx106.client_no_malloc lx106.client_size PROPERTIES LABELS lx106)

# The ESP8266 NONOS SDK port itself (ports/esp8266) with the real engine, over the fake
# SDK of tests/esp8266, on the ESP8266's CPU.
add_test(NAME lx106.esp8266_port COMMAND ${CMAKE_CURRENT_LIST_DIR}/run-qemu.sh ${UPD_LX106_ESP8266_ELF})
set_tests_properties(lx106.esp8266_port PROPERTIES TIMEOUT 90 LABELS lx106)

# The device crypto library (src/client/crypto: SHA-256, the RSA verifier) on the
# ESP8266's CPU: the vectors `updraft keygen` and `updraft sign` make now (vectors.py),
# read through semihosting in 4 KB pieces as from flash; -icount shift=4 makes CCOUNT
# count instructions (the test calibrates it and prints instructions per step and the
# stack of the key set-up and of the verification; ctest -R crypto_vectors -V).
# No heap, and its size (docs/client.md "A verifier for ports without crypto").
find_program(UPD_LX106_PYTHON3 python3 REQUIRED)
add_test(NAME lx106.crypto_vectors
         COMMAND ${UPD_LX106_PYTHON3} ${PROJECT_SOURCE_DIR}/tests/crypto/vectors.py
                 $<TARGET_FILE:updraft> $<TARGET_FILE:mkimage> --
                 ${CMAKE_CURRENT_LIST_DIR}/run-qemu.sh ${UPD_LX106_CRYPTO_VECTORS_ELF}
                 -icount shift=4)
add_test(NAME lx106.crypto_sha256
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/run-qemu.sh ${UPD_LX106_SHA256_ELF})
add_test(NAME lx106.crypto_md5 COMMAND ${CMAKE_CURRENT_LIST_DIR}/run-qemu.sh ${UPD_LX106_MD5_ELF})
add_test(NAME lx106.crypto_no_malloc
         COMMAND ${CMAKE_COMMAND} -DNM=${UPD_LX106_NM} -DLIB=${UPD_LX106_CRYPTO_LIB}
                 -P ${CMAKE_CURRENT_LIST_DIR}/check-no-malloc.cmake)
add_test(NAME lx106.crypto_size
         COMMAND ${CMAKE_COMMAND} -DSIZE=${UPD_LX106_SIZE} "-DLIBS=${UPD_LX106_CRYPTO_LIB}=5632"
                 "-DWHAT=the device crypto library" -DDOC=docs/client.md
                 -P ${CMAKE_CURRENT_LIST_DIR}/check-size.cmake)
set_tests_properties(lx106.crypto_vectors lx106.crypto_sha256 lx106.crypto_md5
                     lx106.crypto_no_malloc lx106.crypto_size PROPERTIES TIMEOUT 240 LABELS lx106)
