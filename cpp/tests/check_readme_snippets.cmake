# The C++ examples of the README compile against the library's headers: every ```cpp block is
# written to a file and compiled with -fsyntax-only.
file(READ ${README} _text)
string(REPLACE ";" "@SEMICOLON@" _text "${_text}") # CMake lists split on semicolons
string(REGEX MATCHALL "```cpp\n[^`]*```" _blocks "${_text}")
list(LENGTH _blocks _n)
if(_n EQUAL 0)
  message(FATAL_ERROR "no C++ example in ${README}")
endif()
set(_i 0)
foreach(_block IN LISTS _blocks)
  string(REGEX REPLACE "^```cpp\n" "" _code "${_block}")
  string(REGEX REPLACE "```$" "" _code "${_code}")
  string(REPLACE "@SEMICOLON@" ";" _code "${_code}")
  set(_file ${OUT}/readme_snippet_${_i}.cpp)
  file(WRITE ${_file} "${_code}")
  execute_process(COMMAND ${CXX} -std=c++17 -fsyntax-only -Wall -Werror -I${INCLUDE} ${_file}
                  RESULT_VARIABLE _rc ERROR_VARIABLE _err)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "README C++ example ${_i} does not compile:\n${_code}\n${_err}")
  endif()
  math(EXPR _i "${_i} + 1")
endforeach()
message(STATUS "${_n} README C++ examples compile")
