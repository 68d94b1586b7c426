# Cross build for the ESP8266's CPU (Xtensa lx106) with Debian's gcc-xtensa-lx106 and
# picolibc-xtensa-lx106-elf. Builds the portable core (src/core) and the core unit tests
# as ELF images that run under QEMU (tests/lx106/, docs/lx106.md); no CLI.
#
#   cmake -S . -B build/lx106 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/xtensa-lx106.cmake
#   cmake --build build/lx106
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR xtensa)

set(UPD_LX106_PREFIX xtensa-lx106-elf-)
set(UPD_LX106_PICOLIBC_SPECS /usr/lib/xtensa-lx106-elf/picolibc.specs)

set(CMAKE_C_COMPILER ${UPD_LX106_PREFIX}gcc)
set(CMAKE_ASM_COMPILER ${UPD_LX106_PREFIX}gcc)
set(CMAKE_AR ${UPD_LX106_PREFIX}ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${UPD_LX106_PREFIX}ranlib CACHE FILEPATH "")
set(CMAKE_NM ${UPD_LX106_PREFIX}nm CACHE FILEPATH "")
set(CMAKE_OBJDUMP ${UPD_LX106_PREFIX}objdump CACHE FILEPATH "")
set(CMAKE_SIZE ${UPD_LX106_PREFIX}size CACHE FILEPATH "")

# The specs file must be named by its full path. -mlongcalls: calls may span more than
# call0's +-512 KB; sections per function/object so the linker drops what is unused.
set(UPD_LX106_FLAGS
    "--specs=${UPD_LX106_PICOLIBC_SPECS} -std=c11 -Os -mlongcalls -ffunction-sections -fdata-sections")
set(CMAKE_C_FLAGS_INIT "${UPD_LX106_FLAGS}")
set(CMAKE_ASM_FLAGS_INIT "${UPD_LX106_FLAGS}")

# GCC's per-configuration defaults (-O2/-O3) would come after -Os and win: the device
# code is measured and tested at -Os in every configuration. Set before CMake's own
# defaults, which only fill cache entries that are still unset.
set(CMAKE_C_FLAGS_DEBUG "-Os -g" CACHE STRING "")
set(CMAKE_C_FLAGS_RELEASE "-Os -DNDEBUG" CACHE STRING "")
set(CMAKE_C_FLAGS_RELWITHDEBINFO "-Os -g -DNDEBUG" CACHE STRING "")
set(CMAKE_C_FLAGS_MINSIZEREL "-Os -DNDEBUG" CACHE STRING "")
set(CMAKE_ASM_FLAGS_DEBUG "-g" CACHE STRING "")
set(CMAKE_ASM_FLAGS_RELEASE "" CACHE STRING "")
set(CMAKE_ASM_FLAGS_RELWITHDEBINFO "-g" CACHE STRING "")
set(CMAKE_ASM_FLAGS_MINSIZEREL "" CACHE STRING "")

# No start files or linker script exist for a plain test executable: check the
# compiler by building a static library instead.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Tells the top-level CMakeLists that this is the cross build: core and tests only.
set(UPD_TARGET_LX106 ON CACHE BOOL "Cross build for the ESP8266's CPU (set by the lx106 toolchain file)" FORCE)
