# ctest -S script for scripts/valgrind.sh (which explains the exclusions):
# ctest -S scripts/valgrind.cmake -DBUILD=/abs/build -DJOBS=2
set(CTEST_SOURCE_DIRECTORY "${CMAKE_CURRENT_LIST_DIR}/..")
set(CTEST_BINARY_DIRECTORY "${BUILD}")
set(CTEST_MEMORYCHECK_TYPE Valgrind)
find_program(CTEST_MEMORYCHECK_COMMAND valgrind REQUIRED)
set(CTEST_MEMORYCHECK_COMMAND_OPTIONS
    "--tool=memcheck --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect --trace-children=yes --num-callers=30")
set(CTEST_MEMORYCHECK_SUPPRESSIONS_FILE "${CMAKE_CURRENT_LIST_DIR}/valgrind.supp")
ctest_start(Experimental QUIET)
ctest_memcheck(BUILD "${BUILD}" PARALLEL_LEVEL ${JOBS}
               EXCLUDE_LABEL "^(interop|diff)$" EXCLUDE "^test_bench$"
               RETURN_VALUE failed DEFECT_COUNT defects)
message("valgrind: ${defects} memory defects")
if(NOT failed EQUAL 0 OR NOT defects EQUAL 0)
  message(FATAL_ERROR "valgrind: tests failed or memory defects found (logs: ${BUILD}/Testing/Temporary/MemoryChecker.*.log)")
endif()
