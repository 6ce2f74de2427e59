# KP_FUZZ=ON builds the libFuzzer targets of tests/fuzz/ instead of the usual tool (`make fuzz`, docs/fuzzing.md).
# It needs clang (clang++-19: libstdc++ 12's <expected> needs __cpp_concepts >= 202002L, which clang 14 and 16
# do not define). Every library is compiled with the fuzzer's coverage instrumentation and ASan+UBSan, so a
# target links only the libraries its parser lives in; the normal g++ build leaves this option off.
option(KP_FUZZ "Build the libFuzzer targets (clang only; use a separate build dir, e.g. build-fuzz)" OFF)
if(KP_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "KP_FUZZ=ON needs clang (e.g. -DCMAKE_CXX_COMPILER=clang++-19), not ${CMAKE_CXX_COMPILER_ID}")
  endif()
  # UBSan findings abort like ASan's, so libFuzzer keeps the input as a crash instead of printing and going on.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
