# Test helpers: every test goes through CTest.
#
#   pageflex_criterion_test(NAME n SOURCES a.c ... [LIBS l ...] [LABELS ...]
#                           [TIMEOUT s] [UNSANITIZED])
# builds a Criterion test executable into <build>/test-bin and registers it.
#   pageflex_script_test(NAME n COMMAND cmd ... [LABELS ...] [TIMEOUT s])
# registers a script; exit code 77 means "skipped" (with a one-line reason).
#
# Labels: unit (no privileges), root (root/BPF/swap; skips unprivileged),
# preload (runs programs under the shim), slow, bench (a benchmark run as a
# smoke test: not in the ASan/UBSan preset).

find_package(PkgConfig REQUIRED)
pkg_check_modules(CRITERION REQUIRED IMPORTED_TARGET criterion)

function(pageflex_criterion_test)
	cmake_parse_arguments(T "UNSANITIZED" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
	add_executable(${T_NAME} ${T_SOURCES})
	set_target_properties(${T_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/test-bin)
	target_link_libraries(${T_NAME} PRIVATE PkgConfig::CRITERION ${T_LIBS})
	if(T_UNSANITIZED)
		pageflex_unsanitized(${T_NAME})
	endif()
	# --jobs 1: tests that measure memory or page faults must not share the CPU.
	add_test(NAME ${T_NAME} COMMAND ${T_NAME} --jobs 1 --short-filename --verbose)
	if(NOT T_TIMEOUT)
		set(T_TIMEOUT 300)
	endif()
	set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}"
		ENVIRONMENT "PAGEFLEX_SOURCE_DIR=${CMAKE_SOURCE_DIR};PAGEFLEX_BUILD_DIR=${CMAKE_BINARY_DIR}")
	# Criterion exits 0 when a test calls cr_skip_test(); make CTest report
	# "skipped" instead of "passed" so nothing passes silently. Only when no
	# case failed or crashed: CTest's skip expression wins over the exit
	# status, and one skipped case must never hide another's failure.
	set_tests_properties(${T_NAME} PROPERTIES SKIP_REGULAR_EXPRESSION
		"\\[SKIP\\].*Synthesis: Tested: [0-9]+ \\| Passing: [0-9]+ \\| Failing: 0 \\| Crashing: 0")
endfunction()

function(pageflex_script_test)
	cmake_parse_arguments(T "" "NAME;TIMEOUT" "COMMAND;LABELS" ${ARGN})
	add_test(NAME ${T_NAME} COMMAND ${T_COMMAND})
	if(NOT T_TIMEOUT)
		set(T_TIMEOUT 300)
	endif()
	set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}"
		SKIP_RETURN_CODE 77
		ENVIRONMENT "PAGEFLEX_SOURCE_DIR=${CMAKE_SOURCE_DIR};PAGEFLEX_BUILD_DIR=${CMAKE_BINARY_DIR}")
endfunction()
