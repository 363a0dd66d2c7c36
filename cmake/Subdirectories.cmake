# pageflex_add_child_directories(): adds every direct subdirectory of the
# current source directory that has a CMakeLists.txt, so a new test or
# benchmark folder needs no edit of its parent.
function(pageflex_add_child_directories)
	file(GLOB children LIST_DIRECTORIES true ${CMAKE_CURRENT_SOURCE_DIR}/*)
	foreach(child ${children})
		if(IS_DIRECTORY ${child} AND EXISTS ${child}/CMakeLists.txt)
			add_subdirectory(${child})
		endif()
	endforeach()
endfunction()
