# Helpers that keep each module's CMakeLists.txt a list of what it builds.

# Compiler warnings every Palisade target is built with.
add_library(palisade_warnings INTERFACE)
target_compile_options(palisade_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
  -Wunused -Woverloaded-virtual -Wimplicit-fallthrough
  # Not -Wnull-dereference: gcc 12 reports false positives inside libstdc++
  # and CLI11 at -O2. -Wrestrict misfires at -O3 on "literal" + std::string
  # (GCC bug 105651).
  -Wno-restrict
  $<$<BOOL:${PALISADE_WERROR}>:-Werror>)

# palisade_library(NAME SOURCES ... DEPS ...)
# A module library; headers are included as "module/header.h" from the
# repository root.
function(palisade_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS} palisade_warnings)
endfunction()

# palisade_test(NAME SOURCES ... DEPS ...)
# A GoogleTest binary registered with CTest, one CTest test per TEST().
function(palisade_test name)
  if(NOT PALISADE_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main palisade_warnings)
  target_compile_definitions(${name} PRIVATE
    PALISADE_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    PALISADE_K8S_FIXTURES="${PALISADE_K8S_FIXTURES}")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30 PROPERTIES LABELS "${ARG_LABELS}")
endfunction()

# palisade_fixture_test(NAME SOURCES ... DEPS ...)
# A test of the Kubernetes API fixtures kept beside the repository
# (PALISADE_K8S_FIXTURES); built only where they are, with a warning where not.
function(palisade_fixture_test name)
  if(IS_DIRECTORY "${PALISADE_K8S_FIXTURES}")
    palisade_test(${name} ${ARGN})
  else()
    message(WARNING "Kubernetes API fixtures not found at ${PALISADE_K8S_FIXTURES}: ${name} "
                    "is not built. Set -DPALISADE_K8S_FIXTURES=DIR.")
  endif()
endfunction()
