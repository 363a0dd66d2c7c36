# ASan/UBSan as compile and link flags (libuv's approach). Enabled by the
# asan-ubsan preset through PAGEFLEX_SANITIZE. The preload library and its
# tests stay unsanitised: a sanitiser runtime cannot be LD_PRELOADed behind a
# shim that replaces malloc (see pageflex_unsanitized()).
option(PAGEFLEX_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)

set(PAGEFLEX_SAN_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer
	-fno-sanitize-recover=undefined)

if(PAGEFLEX_SANITIZE)
	add_compile_options(${PAGEFLEX_SAN_FLAGS})
	add_link_options(${PAGEFLEX_SAN_FLAGS})
endif()

# Strip the sanitiser flags from one target (the shim, preload tests).
function(pageflex_unsanitized target)
	if(PAGEFLEX_SANITIZE)
		# Target properties start as copies of the directory's options.
		foreach(prop COMPILE_OPTIONS LINK_OPTIONS)
			get_target_property(opts ${target} ${prop})
			if(opts)
				list(REMOVE_ITEM opts ${PAGEFLEX_SAN_FLAGS})
			else()
				set(opts "")
			endif()
			set_property(TARGET ${target} PROPERTY ${prop} ${opts})
		endforeach()
	endif()
endfunction()
