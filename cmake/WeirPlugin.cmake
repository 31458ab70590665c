# weir_add_plugin(NAME SOURCES src... [OUTPUT_NAME name]
#                 [COMPILE_OPTIONS opt...] [LINK_OPTIONS opt...])
#
# Builds a Proxy-Wasm plugin written in C++ against weir's SDK (sdk/cpp) with clang-14
# for wasm32-wasi, as ${CMAKE_BINARY_DIR}/plugins/<OUTPUT_NAME or NAME>.wasm, part of the
# default build. NAME is also the name of the CMake target. Relative SOURCES are relative
# to the calling CMakeLists.txt.
#
# The plain command line this amounts to (scripts/build-cpp-plugin and `make plugin SRC=...`
# run it for authors without CMake; see sdk/cpp/README.md):
#   clang-14 --target=wasm32-wasi -mexec-model=reactor -fno-exceptions -fno-rtti \
#     -fvisibility=hidden -O2 -std=c++20 -I sdk/cpp plugin.cc sdk/cpp/weir/*.cc \
#     -lc++ -lc++abi -Wl,--strip-debug -Wl,--export=malloc -o plugin.wasm
include_guard(GLOBAL)

set(WEIR_SDK_CPP_DIR "${CMAKE_CURRENT_LIST_DIR}/../sdk/cpp")
get_filename_component(WEIR_SDK_CPP_DIR "${WEIR_SDK_CPP_DIR}" ABSOLUTE)
set(WEIR_SDK_CPP_SOURCES
  "${WEIR_SDK_CPP_DIR}/weir/plugin.cc"
  "${WEIR_SDK_CPP_DIR}/weir/api.cc")

find_program(WEIR_WASM_CLANG NAMES clang-14
  DOC "clang 14, used to build C++ Proxy-Wasm plugins for wasm32-wasi")
set(WEIR_WASI_SYSROOT "" CACHE PATH
  "wasi-libc sysroot for C++ plugins (empty: clang's default, /usr on Debian)")

set(WEIR_PLUGIN_CXX_FLAGS
  --target=wasm32-wasi
  -fno-exceptions -fno-rtti -fvisibility=hidden -O2 -std=c++20
  -Wall -Wno-unused-parameter)
if(WEIR_WASI_SYSROOT)
  list(APPEND WEIR_PLUGIN_CXX_FLAGS "--sysroot=${WEIR_WASI_SYSROOT}")
endif()
# Exports: the proxy_on_* callbacks and proxy_abi_version_0_2_1 carry export_name in the
# SDK; the reactor start file adds _initialize; memory is exported by default; the host's
# allocator is malloc (the SDK also exports proxy_on_memory_allocate).
# -mexec-model=reactor: link crt1-reactor.o, whose _initialize runs static constructors
# (where RegisterContextFactory objects register).
set(WEIR_PLUGIN_LINK_FLAGS
  -mexec-model=reactor
  -lc++ -lc++abi
  -Wl,--strip-debug
  -Wl,--export=malloc)

# Check once that clang-14, wasm-ld, wasi-libc and libc++ for wasm32 all work together.
if(NOT WEIR_WASM_TOOLCHAIN_OK)
  set(_why "")
  if(NOT WEIR_WASM_CLANG)
    set(_why "clang-14 not found")
  else()
    set(_dir "${CMAKE_BINARY_DIR}/CMakeFiles/weir-wasm-check")
    file(MAKE_DIRECTORY "${_dir}")
    file(WRITE "${_dir}/check.cc" [=[
#include <string>
#include <vector>
extern "C" __attribute__((export_name("check"))) int check(int n) {
  std::vector<std::string> v(static_cast<size_t>(n), std::string("x"));
  return static_cast<int>(v.size());
}
]=])
    execute_process(
      COMMAND "${WEIR_WASM_CLANG}" ${WEIR_PLUGIN_CXX_FLAGS} "${_dir}/check.cc"
              ${WEIR_PLUGIN_LINK_FLAGS} -o "${_dir}/check.wasm"
      RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
    if(NOT _rc EQUAL 0)
      set(_why "${WEIR_WASM_CLANG} cannot build a wasm32-wasi C++ module (${_rc}):\n${_out}")
    endif()
  endif()
  if(_why)
    message(FATAL_ERROR
      "C++ plugins need clang-14, lld-14, wasi-libc, libc++-14-dev-wasm32, "
      "libc++abi-14-dev-wasm32 and libclang-rt-14-dev-wasm32: run scripts/setup "
      "(it installs them), then configure again.\n${_why}")
  endif()
  set(WEIR_WASM_TOOLCHAIN_OK TRUE CACHE INTERNAL "clang-14 wasm32-wasi C++ works")
  message(STATUS "C++ plugins: ${WEIR_WASM_CLANG} --target=wasm32-wasi")
endif()

function(weir_add_plugin NAME)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "OUTPUT_NAME"
                        "SOURCES;COMPILE_OPTIONS;LINK_OPTIONS")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "weir_add_plugin(${NAME}): unexpected arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "weir_add_plugin(${NAME}): SOURCES is required")
  endif()
  set(out_name "${NAME}")
  if(ARG_OUTPUT_NAME)
    set(out_name "${ARG_OUTPUT_NAME}")
  endif()
  set(wasm "${CMAKE_BINARY_DIR}/plugins/${out_name}.wasm")
  set(obj_dir "${CMAKE_CURRENT_BINARY_DIR}/${NAME}.wasm.dir")

  set(objects "")
  set(index 0)
  foreach(src IN LISTS ARG_SOURCES WEIR_SDK_CPP_SOURCES)
    get_filename_component(src "${src}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    get_filename_component(stem "${src}" NAME_WE)
    # The index keeps objects apart when two sources share a file name.
    set(obj "${obj_dir}/${index}_${stem}.o")
    math(EXPR index "${index} + 1")
    file(RELATIVE_PATH rel "${CMAKE_SOURCE_DIR}" "${src}")
    add_custom_command(
      OUTPUT "${obj}"
      COMMAND "${WEIR_WASM_CLANG}" ${WEIR_PLUGIN_CXX_FLAGS} ${ARG_COMPILE_OPTIONS}
              "-I${WEIR_SDK_CPP_DIR}" -MD -MF "${obj}.d" -c "${src}" -o "${obj}"
      DEPENDS "${src}"
      DEPFILE "${obj}.d"
      COMMENT "wasm32 C++ ${rel}"
      COMMAND_EXPAND_LISTS
      VERBATIM)
    list(APPEND objects "${obj}")
  endforeach()

  add_custom_command(
    OUTPUT "${wasm}"
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${CMAKE_BINARY_DIR}/plugins"
    COMMAND "${WEIR_WASM_CLANG}" ${WEIR_PLUGIN_CXX_FLAGS} ${objects}
            ${WEIR_PLUGIN_LINK_FLAGS} ${ARG_LINK_OPTIONS} -o "${wasm}"
    DEPENDS ${objects}
    COMMENT "Linking plugin plugins/${out_name}.wasm"
    COMMAND_EXPAND_LISTS
    VERBATIM)
  add_custom_target(${NAME} ALL DEPENDS "${wasm}")
  set_target_properties(${NAME} PROPERTIES WEIR_PLUGIN_FILE "${wasm}")
endfunction()
