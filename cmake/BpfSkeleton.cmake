# tcpleak_bpf_skeleton(<target> SOURCE <x.bpf.c> [DEPENDS <headers>...])
#
# clang -target bpf compiles SOURCE into an object, `bpftool gen skeleton`
# turns the object into <x>.skel.h, and <target> is an INTERFACE library
# whose include directory holds that header. Link it to get the header and
# the build-order dependency.
#
# vmlinux.h: the committed bpf/vmlinux/<arch>/vmlinux.h (dumped from kernel
# 6.18 BTF; CO-RE relocates it to the running kernel) keeps builds
# reproducible and independent of the build host's kernel. For an
# architecture without a committed header it is generated from the build
# host's /sys/kernel/btf/vmlinux.

find_program(BPF_CLANG NAMES clang clang-14 REQUIRED)
find_program(BPFTOOL bpftool PATHS /usr/sbin /sbin REQUIRED)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|amd64")
  set(TCPLEAK_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(TCPLEAK_BPF_ARCH arm64)
else()
  message(FATAL_ERROR "tcpleak: unsupported architecture ${CMAKE_SYSTEM_PROCESSOR}")
endif()

set(TCPLEAK_VMLINUX_DIR ${PROJECT_SOURCE_DIR}/bpf/vmlinux/${TCPLEAK_BPF_ARCH})
if(NOT EXISTS ${TCPLEAK_VMLINUX_DIR}/vmlinux.h)
  set(TCPLEAK_VMLINUX_DIR ${CMAKE_BINARY_DIR}/vmlinux)
  add_custom_command(
    OUTPUT ${TCPLEAK_VMLINUX_DIR}/vmlinux.h
    COMMAND ${CMAKE_COMMAND} -E make_directory ${TCPLEAK_VMLINUX_DIR}
    COMMAND ${BPFTOOL} btf dump file /sys/kernel/btf/vmlinux format c > ${TCPLEAK_VMLINUX_DIR}/vmlinux.h
    COMMENT "Generating vmlinux.h from the running kernel's BTF"
    VERBATIM)
endif()

function(tcpleak_bpf_skeleton target)
  cmake_parse_arguments(ARG "" "SOURCE" "DEPENDS" ${ARGN})
  get_filename_component(source ${ARG_SOURCE} ABSOLUTE)
  get_filename_component(name ${source} NAME_WE) # tcpleak.bpf.c -> tcpleak
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/bpf)
  set(object ${out_dir}/${name}.bpf.o)
  set(skeleton ${out_dir}/${name}.skel.h)

  add_custom_command(
    OUTPUT ${object}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND ${BPF_CLANG} -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_${TCPLEAK_BPF_ARCH}
            -I${TCPLEAK_VMLINUX_DIR} -I${PROJECT_SOURCE_DIR}/bpf
            -c ${source} -o ${object}
    DEPENDS ${source} ${ARG_DEPENDS} ${TCPLEAK_VMLINUX_DIR}/vmlinux.h
    COMMENT "Compiling BPF object ${name}.bpf.o"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skeleton}
    COMMAND ${BPFTOOL} gen skeleton ${object} name ${name}_bpf > ${skeleton}
    DEPENDS ${object}
    COMMENT "Generating BPF skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${target}_gen DEPENDS ${skeleton})

  add_library(${target} INTERFACE)
  target_include_directories(${target} INTERFACE ${out_dir} ${PROJECT_SOURCE_DIR}/bpf)
  add_dependencies(${target} ${target}_gen)
endfunction()
