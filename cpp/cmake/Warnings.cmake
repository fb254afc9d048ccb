add_library(pymargin_warnings INTERFACE)
target_compile_options(
  pymargin_warnings INTERFACE $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic -Wshadow
                              -Wconversion -Wno-sign-conversion>)
