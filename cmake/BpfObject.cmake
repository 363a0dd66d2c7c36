# Compiles eBPF programs and generates their libbpf skeletons (the approach of
# libbpf-bootstrap's FindBpfObject, written as one function).
#
#   pageflex_bpf_object(NAME fault_count SOURCE fault_count.bpf.c [HEADERS a.h ...])
#
# builds <build>/bpf/NAME.bpf.o with clang -target bpf (CO-RE, -g), runs
# `bpftool gen skeleton` into <build>/bpf/NAME.skel.h and exposes both through
# the INTERFACE target NAME_skel (link it to get the include path and libbpf).
# vmlinux.h is generated once, at configure time, from the running kernel's BTF.

find_program(BPFTOOL_EXE NAMES bpftool PATHS /usr/sbin /sbin)
find_program(BPF_CLANG_EXE NAMES clang clang-14)
if(NOT BPFTOOL_EXE)
	message(FATAL_ERROR "bpftool not found: install it with `apt-get install bpftool` "
		"(or run scripts/install-deps.sh)")
endif()
if(NOT BPF_CLANG_EXE)
	message(FATAL_ERROR "clang not found: install it with `apt-get install clang` "
		"(or run scripts/install-deps.sh)")
endif()

set(PAGEFLEX_BTF_FILE /sys/kernel/btf/vmlinux CACHE FILEPATH "Kernel BTF used to generate vmlinux.h")
set(PAGEFLEX_BPF_GEN_DIR ${CMAKE_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${PAGEFLEX_BPF_GEN_DIR})
set(PAGEFLEX_VMLINUX_H ${PAGEFLEX_BPF_GEN_DIR}/vmlinux.h)

if(NOT EXISTS ${PAGEFLEX_VMLINUX_H})
	if(NOT EXISTS ${PAGEFLEX_BTF_FILE})
		message(FATAL_ERROR "${PAGEFLEX_BTF_FILE} does not exist: PageFlex needs a kernel "
			"built with CONFIG_DEBUG_INFO_BTF=y (Linux >= 6.7 on x86-64)")
	endif()
	execute_process(
		COMMAND ${BPFTOOL_EXE} btf dump file ${PAGEFLEX_BTF_FILE} format c
		OUTPUT_FILE ${PAGEFLEX_VMLINUX_H}.tmp
		RESULT_VARIABLE rc ERROR_VARIABLE err)
	if(NOT rc EQUAL 0)
		file(REMOVE ${PAGEFLEX_VMLINUX_H}.tmp)
		message(FATAL_ERROR "bpftool could not dump ${PAGEFLEX_BTF_FILE}: ${err}")
	endif()
	file(RENAME ${PAGEFLEX_VMLINUX_H}.tmp ${PAGEFLEX_VMLINUX_H})
endif()

# Architecture define for bpf_tracing.h's PT_REGS helpers.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|amd64")
	set(PAGEFLEX_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
	set(PAGEFLEX_BPF_ARCH arm64)
else()
	message(FATAL_ERROR "unsupported architecture for BPF: ${CMAKE_SYSTEM_PROCESSOR}")
endif()

function(pageflex_bpf_object)
	cmake_parse_arguments(BPF "" "NAME;SOURCE" "HEADERS" ${ARGN})
	if(NOT BPF_NAME OR NOT BPF_SOURCE)
		message(FATAL_ERROR "pageflex_bpf_object: NAME and SOURCE are required")
	endif()
	get_filename_component(src ${BPF_SOURCE} ABSOLUTE)
	set(obj ${PAGEFLEX_BPF_GEN_DIR}/${BPF_NAME}.bpf.o)
	set(skel ${PAGEFLEX_BPF_GEN_DIR}/${BPF_NAME}.skel.h)
	list(TRANSFORM BPF_HEADERS PREPEND ${CMAKE_CURRENT_SOURCE_DIR}/)

	add_custom_command(OUTPUT ${obj}
		COMMAND ${BPF_CLANG_EXE} -g -O2 -target bpf -D__TARGET_ARCH_${PAGEFLEX_BPF_ARCH}
			-Wall -Werror -Wno-unused-function
			-I${PAGEFLEX_BPF_GEN_DIR} -I${CMAKE_SOURCE_DIR}/bpf -I${CMAKE_SOURCE_DIR}/common
			-c ${src} -o ${obj}
		DEPENDS ${src} ${BPF_HEADERS} ${PAGEFLEX_VMLINUX_H}
		IMPLICIT_DEPENDS C ${src}
		COMMENT "BPF ${BPF_NAME}.bpf.o"
		VERBATIM)
	add_custom_command(OUTPUT ${skel}
		COMMAND ${BPFTOOL_EXE} gen skeleton ${obj} name ${BPF_NAME}_bpf > ${skel}.tmp
		COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
		DEPENDS ${obj}
		COMMENT "BPF skeleton ${BPF_NAME}.skel.h")
	add_custom_target(${BPF_NAME}_skel_gen DEPENDS ${skel})

	add_library(${BPF_NAME}_skel INTERFACE)
	add_dependencies(${BPF_NAME}_skel ${BPF_NAME}_skel_gen)
	target_include_directories(${BPF_NAME}_skel INTERFACE ${PAGEFLEX_BPF_GEN_DIR})
	target_link_libraries(${BPF_NAME}_skel INTERFACE PkgConfig::LIBBPF)
endfunction()
