# ctest -S script for scripts/valgrind.sh (which explains what is checked):
# ctest -S scripts/valgrind.cmake -DBUILD=/abs/build -DJOBS=2 [-DTESTS=regex]
set(CTEST_SOURCE_DIRECTORY "${CMAKE_CURRENT_LIST_DIR}/..")
set(CTEST_BINARY_DIRECTORY "${BUILD}")
set(CTEST_MEMORYCHECK_TYPE Valgrind)
find_program(VALGRIND valgrind REQUIRED)
# valgrind-run.sh: valgrind, one log per process (see there).
set(CTEST_MEMORYCHECK_COMMAND "${CMAKE_CURRENT_LIST_DIR}/valgrind-run.sh")
# Children are traced (the synack CLI the tests start), except third-party
# programs the tests and `synack demo` run: their leaks are not ours.
set(CTEST_MEMORYCHECK_COMMAND_OPTIONS
    "--tool=memcheck --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect --vgdb=no --trace-children=yes --trace-children-skip=*/tshark,*/dumpcap,*/curl,*/hping3,*/python3*,*/ip,*/tc,*/ss,*/nft --num-callers=30")
set(CTEST_MEMORYCHECK_SUPPRESSIONS_FILE "${CMAKE_CURRENT_LIST_DIR}/valgrind.supp")
if(NOT DEFINED TESTS)
  set(TESTS ".")
endif()
ctest_start(Experimental QUIET)
ctest_memcheck(BUILD "${BUILD}" PARALLEL_LEVEL ${JOBS} INCLUDE "${TESTS}" EXCLUDE "^test_bench$"
               RETURN_VALUE failed DEFECT_COUNT defects)
message("valgrind: ${defects} memory defects")
if(NOT failed EQUAL 0 OR NOT defects EQUAL 0)
  message(FATAL_ERROR "valgrind: tests failed or memory defects found (logs: ${BUILD}/Testing/Temporary/MemoryChecker.*.log)")
endif()
