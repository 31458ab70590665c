# Wasmtime, weir's Wasm engine: the crates.io C API (rust/wasmtime-capi pins it) built with
# rustup's cargo into a cache outside the build tree, keyed by everything that changes the
# library, so a fresh machine pays the build once (7-12 minutes on 2 cores) and every later
# configure, worktree or clean build reuses it.
#
#   ${WEIR_CACHE_DIR:-$HOME/.cache/weir}/wasmtime/<key>/{lib/libweir_wasmtime.a,include/}
#
# Defines the imported target weir::wasmtime.

set(_wt_crate ${CMAKE_CURRENT_LIST_DIR}/../rust/wasmtime-capi)
get_filename_component(_wt_crate ${_wt_crate} ABSOLUTE)

# Debian's cargo (1.63) is too old for Wasmtime 48 (rust-version 1.95): prefer rustup's.
find_program(WEIR_CARGO cargo HINTS $ENV{HOME}/.cargo/bin NO_DEFAULT_PATH)
if(NOT WEIR_CARGO)
  find_program(WEIR_CARGO cargo)
endif()
if(NOT WEIR_CARGO)
  message(FATAL_ERROR "Wasmtime: no cargo found. Install Rust with rustup (cargo 1.95 or newer).")
endif()
get_filename_component(_wt_cargo_dir ${WEIR_CARGO} DIRECTORY)
# Cargo runs the rustc beside it (rustup's proxies), never Debian's /usr/bin/rustc.
set(_wt_env ${CMAKE_COMMAND} -E env "PATH=${_wt_cargo_dir}:$ENV{PATH}")
execute_process(COMMAND ${_wt_env} rustc -V OUTPUT_VARIABLE _wt_rustc
                OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _wt_rc)
if(NOT _wt_rc EQUAL 0)
  message(FATAL_ERROR "Wasmtime: `rustc -V` failed beside ${WEIR_CARGO}")
endif()
if(_wt_rustc MATCHES "^rustc ([0-9]+)\\.([0-9]+)")
  if(CMAKE_MATCH_1 LESS 1 OR (CMAKE_MATCH_1 EQUAL 1 AND CMAKE_MATCH_2 LESS 95))
    message(FATAL_ERROR "Wasmtime 48 needs rustc 1.95 or newer; ${WEIR_CARGO} has ${_wt_rustc}. "
                        "Install a newer toolchain with rustup.")
  endif()
endif()

file(READ ${_wt_crate}/Cargo.toml _wt_toml)
file(READ ${_wt_crate}/Cargo.lock _wt_lock)
file(READ ${_wt_crate}/build.rs _wt_build_rs)
# Cargo.toml holds the version and the features.
string(SHA256 _wt_key "${_wt_toml}\n${_wt_lock}\n${_wt_build_rs}\n${_wt_rustc}")
string(SUBSTRING ${_wt_key} 0 16 _wt_key)

if(DEFINED ENV{WEIR_CACHE_DIR} AND NOT "$ENV{WEIR_CACHE_DIR}" STREQUAL "")
  set(_wt_cache_root $ENV{WEIR_CACHE_DIR})
else()
  set(_wt_cache_root $ENV{HOME}/.cache/weir)
endif()
set(_wt_root ${_wt_cache_root}/wasmtime)
set(WEIR_WASMTIME_DIR ${_wt_root}/${_wt_key})
set(_wt_lib ${WEIR_WASMTIME_DIR}/lib/libweir_wasmtime.a)
set(_wt_stamp ${WEIR_WASMTIME_DIR}/complete)

if(NOT EXISTS ${_wt_stamp})
  file(MAKE_DIRECTORY ${_wt_root})
  # Worktrees configuring at once build it once: the others wait here, then find it done.
  file(LOCK ${_wt_root}/build.lock GUARD PROCESS TIMEOUT 3600)
  if(NOT EXISTS ${_wt_stamp})
    # NOTICE (stderr): `make build` hides configure's stdout, and this takes minutes.
    message(NOTICE "Wasmtime: building ${_wt_key} (${_wt_rustc}) once into ${WEIR_WASMTIME_DIR}; "
                   "this takes several minutes, log in ${_wt_root}/build-${_wt_key}.log")
    file(REMOVE_RECURSE ${WEIR_WASMTIME_DIR})
    set(_wt_target ${_wt_root}/target)
    string(TIMESTAMP _wt_started "%s")
    execute_process(
      COMMAND ${_wt_env} "WEIR_WASMTIME_INCLUDE_OUT=${WEIR_WASMTIME_DIR}/include"
              ${WEIR_CARGO} build --release --locked
              --manifest-path ${_wt_crate}/Cargo.toml --target-dir ${_wt_target}
      OUTPUT_FILE ${_wt_root}/build-${_wt_key}.log
      ERROR_FILE ${_wt_root}/build-${_wt_key}.log
      RESULT_VARIABLE _wt_rc)
    if(NOT _wt_rc EQUAL 0)
      file(READ ${_wt_root}/build-${_wt_key}.log _wt_log)
      message(FATAL_ERROR "Wasmtime: cargo build failed (${_wt_rc}):\n${_wt_log}")
    endif()
    file(COPY ${_wt_target}/release/libweir_wasmtime.a DESTINATION ${WEIR_WASMTIME_DIR}/lib)
    if(NOT EXISTS ${WEIR_WASMTIME_DIR}/include/wasmtime.h)
      message(FATAL_ERROR "Wasmtime: the build left no headers in ${WEIR_WASMTIME_DIR}/include")
    endif()
    string(TIMESTAMP _wt_finished "%s")
    math(EXPR _wt_seconds "${_wt_finished} - ${_wt_started}")
    file(WRITE ${_wt_stamp} "${_wt_rustc}\nbuilt in ${_wt_seconds} s\n")
    message(NOTICE "Wasmtime: built in ${_wt_seconds} s")
  endif()
  file(LOCK ${_wt_root}/build.lock RELEASE)
endif()

add_library(weir::wasmtime STATIC IMPORTED GLOBAL)
set_target_properties(weir::wasmtime PROPERTIES
  IMPORTED_LOCATION ${_wt_lib}
  INTERFACE_INCLUDE_DIRECTORIES ${WEIR_WASMTIME_DIR}/include
  INTERFACE_LINK_LIBRARIES "Threads::Threads;${CMAKE_DL_LIBS};m")
# Reconfigure when the crate changes (a new key, then a new build).
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${_wt_crate}/Cargo.toml ${_wt_crate}/Cargo.lock ${_wt_crate}/build.rs)
