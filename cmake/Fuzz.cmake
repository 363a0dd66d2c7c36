# libFuzzer targets, built with clang whatever the project's C compiler is
# (gcc has no -fsanitize=fuzzer). Each fuzzer links its harness with the
# sources it exercises, under ASan + UBSan.
#
#   pageflex_fuzzer(NAME fuzz_wire SOURCES harness.c ../../common/wire.c
#                   INCLUDES dir ... CORPUS dir [SECONDS 30] [LIBS -lyaml ...])
#
# builds <build>/fuzz/NAME and registers the CTest test NAME, which runs the
# fuzzer for SECONDS on a copy of the seed corpus (so the repo's corpus is
# never modified) and fails on any crash, leak or timeout. A crash input is
# left in <build>/fuzz/NAME-artifacts/: add it to the corpus as a regression.
find_program(FUZZ_CLANG_EXE NAMES clang clang-14)
set(PAGEFLEX_FUZZ_SECONDS 15 CACHE STRING "Seconds each fuzzer runs inside make test")

function(pageflex_fuzzer)
	cmake_parse_arguments(F "" "NAME;CORPUS;SECONDS" "SOURCES;INCLUDES;LIBS" ${ARGN})
	if(NOT FUZZ_CLANG_EXE)
		message(WARNING "clang not found: fuzzer ${F_NAME} not built")
		return()
	endif()
	if(NOT F_SECONDS)
		set(F_SECONDS ${PAGEFLEX_FUZZ_SECONDS})
	endif()
	set(out ${CMAKE_BINARY_DIR}/fuzz/${F_NAME})
	set(srcs "")
	foreach(s ${F_SOURCES})
		get_filename_component(a ${s} ABSOLUTE)
		list(APPEND srcs ${a})
	endforeach()
	set(incs "")
	foreach(i ${F_INCLUDES})
		get_filename_component(a ${i} ABSOLUTE)
		list(APPEND incs -I${a})
	endforeach()
	add_custom_command(OUTPUT ${out}
		COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/fuzz
		COMMAND ${FUZZ_CLANG_EXE} -g -O1 -std=gnu11 -D_GNU_SOURCE -Wall -Werror
			-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
			${incs} ${srcs} ${F_LIBS} -o ${out}
		DEPENDS ${srcs}
		IMPLICIT_DEPENDS C ${srcs}
		COMMENT "libFuzzer ${F_NAME}"
		VERBATIM)
	add_custom_target(${F_NAME} ALL DEPENDS ${out})
	get_filename_component(corpus ${F_CORPUS} ABSOLUTE)
	add_test(NAME ${F_NAME}
		COMMAND bash ${CMAKE_SOURCE_DIR}/test/fuzz/run-fuzzer.sh ${out} ${corpus} ${F_SECONDS})
	set_tests_properties(${F_NAME} PROPERTIES LABELS "fuzz" TIMEOUT 600)
endfunction()
