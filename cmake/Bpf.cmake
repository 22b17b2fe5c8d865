# Building BPF programs: CO-RE objects compiled by clang against a vmlinux.h
# generated from the BTF of the kernel the build runs on, and the libbpf
# skeleton bpftool generates from each object.
#
#   palisade_bpf_skeleton(NAME SOURCE file.bpf.c)
#
# compiles SOURCE into NAME.bpf.o and NAME.skel.h in the current binary
# directory and defines the interface library NAME_skeleton, which puts the
# skeleton on the include path (#include "NAME.skel.h") and links libbpf.
# Headers the BPF source includes are found from the repository root, as in
# C++ ("policy/dataplane_abi.h"), and from vmlinux.h's directory.

find_program(PALISADE_BPF_CLANG NAMES clang clang-16 clang-15 clang-14 REQUIRED
             DOC "clang with the BPF target")
find_program(PALISADE_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED
             DOC "bpftool, for vmlinux.h and skeletons")
set(PALISADE_VMLINUX_BTF /sys/kernel/btf/vmlinux CACHE FILEPATH
    "BTF of the kernel the programs are compiled against (CO-RE relocates them on others)")
if(NOT EXISTS ${PALISADE_VMLINUX_BTF})
  message(FATAL_ERROR "${PALISADE_VMLINUX_BTF} does not exist: the BPF programs need a kernel "
                      "built with CONFIG_DEBUG_INFO_BTF, or -DPALISADE_VMLINUX_BTF=FILE.")
endif()

find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET libbpf>=1.0)

# bpftool and the BPF backend name architectures the kernel's way.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(PALISADE_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(PALISADE_BPF_ARCH arm64)
else()
  set(PALISADE_BPF_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()

# One vmlinux.h per build tree. It depends on the BTF file so that it is made
# again when the machine boots another kernel.
set(PALISADE_VMLINUX_DIR ${PROJECT_BINARY_DIR}/vmlinux)
add_custom_command(
  OUTPUT ${PALISADE_VMLINUX_DIR}/vmlinux.h
  COMMAND ${CMAKE_COMMAND} -E make_directory ${PALISADE_VMLINUX_DIR}
  COMMAND sh -c "'${PALISADE_BPFTOOL}' btf dump file '${PALISADE_VMLINUX_BTF}' format c \
                 > '${PALISADE_VMLINUX_DIR}/vmlinux.h.tmp'"
  COMMAND ${CMAKE_COMMAND} -E rename ${PALISADE_VMLINUX_DIR}/vmlinux.h.tmp
          ${PALISADE_VMLINUX_DIR}/vmlinux.h
  DEPENDS ${PALISADE_VMLINUX_BTF}
  COMMENT "Generating vmlinux.h from ${PALISADE_VMLINUX_BTF}"
  VERBATIM)

function(palisade_bpf_skeleton name)
  cmake_parse_arguments(ARG "" "SOURCE" "" ${ARGN})
  get_filename_component(source ${ARG_SOURCE} ABSOLUTE)
  set(dir ${CMAKE_CURRENT_BINARY_DIR})
  set(object ${dir}/${name}.bpf.o)
  set(skeleton ${dir}/${name}.skel.h)
  set(include_flags)
  foreach(include_dir IN LISTS LIBBPF_INCLUDE_DIRS)
    list(APPEND include_flags -idirafter ${include_dir})
  endforeach()

  add_custom_command(
    OUTPUT ${object}
    COMMAND ${PALISADE_BPF_CLANG} -target bpf -g -O2 -Wall -Wextra -Werror
            -D__TARGET_ARCH_${PALISADE_BPF_ARCH}
            -I${PALISADE_VMLINUX_DIR} -I${PROJECT_SOURCE_DIR} ${include_flags}
            -MD -MF ${object}.d -c ${source} -o ${object}
    DEPFILE ${object}.d
    DEPENDS ${source} ${PALISADE_VMLINUX_DIR}/vmlinux.h
    COMMENT "Compiling BPF object ${name}.bpf.o"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skeleton}
    COMMAND sh -c "'${PALISADE_BPFTOOL}' gen skeleton '${object}' name '${name}' \
                   > '${skeleton}.tmp'"
    COMMAND ${CMAKE_COMMAND} -E rename ${skeleton}.tmp ${skeleton}
    DEPENDS ${object}
    COMMENT "Generating BPF skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name}_skeleton_files DEPENDS ${skeleton})

  add_library(${name}_skeleton INTERFACE)
  add_dependencies(${name}_skeleton ${name}_skeleton_files)
  target_include_directories(${name}_skeleton INTERFACE ${dir})
  target_link_libraries(${name}_skeleton INTERFACE PkgConfig::LIBBPF)
endfunction()
