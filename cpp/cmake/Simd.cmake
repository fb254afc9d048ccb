# Vector kernels of the batch pricer, compiled once per instruction set and chosen at run time
# (batch.cpp). They rely on glibc's vector math library (libmvec) through
# `#pragma omp declare simd` redeclarations of exp/log/erfc; no fast-math mode. Where libmvec is
# missing (non-glibc, non-x86-64) only the portable scalar kernel is built.
include(CheckCXXSourceCompiles)

function(pymargin_add_simd_kernels target)
  set(_src ${CMAKE_CURRENT_SOURCE_DIR}/src/pricing/batch_kernel.cpp)
  set(_have_mvec OFF)
  if(PYMARGIN_SIMD_DISPATCH AND CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64"
     AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    set(CMAKE_REQUIRED_FLAGS "-O2 -fopenmp-simd -fno-math-errno -mavx2 -mfma")
    set(CMAKE_REQUIRED_LIBRARIES mvec m)
    check_cxx_source_compiles(
      [=[
      #include <cmath>
      extern "C" {
      #pragma omp declare simd notinbranch
      double erfc(double) noexcept;
      }
      double a[64], b[64];
      int main() {
      #pragma omp simd
        for (int i = 0; i < 64; ++i) b[i] = erfc(a[i]);
        return b[0] > 2.0;
      }]=]
      PYMARGIN_HAVE_LIBMVEC)
    if(PYMARGIN_HAVE_LIBMVEC)
      set(_have_mvec ON)
    endif()
  endif()

  set(_variants scalar)
  if(_have_mvec)
    list(APPEND _variants sse2 avx2 avx512)
  endif()
  foreach(_isa IN LISTS _variants)
    set(_obj pymargin_kernel_${_isa})
    add_library(${_obj} OBJECT ${_src})
    target_include_directories(${_obj} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src/pricing)
    set_target_properties(${_obj} PROPERTIES POSITION_INDEPENDENT_CODE ON)
    target_compile_features(${_obj} PRIVATE cxx_std_17)
    target_link_libraries(${_obj} PRIVATE $<BUILD_INTERFACE:pymargin_sanitize>)
    target_compile_definitions(${_obj} PRIVATE PYMARGIN_KERNEL_FACTORY=kernels_${_isa}
                                               PYMARGIN_KERNEL_NAME="${_isa}")
    if(_isa STREQUAL "scalar")
      target_compile_definitions(${_obj} PRIVATE PYMARGIN_USE_LIBMVEC=0)
      target_compile_options(${_obj} PRIVATE -fno-math-errno)
    else()
      target_compile_definitions(${_obj} PRIVATE PYMARGIN_USE_LIBMVEC=1)
      # -fno-trapping-math: lets gcc turn the kernels' selects between two computed values into
      # blends under AVX2 (FP exceptions are never unmasked here); it changes no result.
      target_compile_options(${_obj} PRIVATE -fno-math-errno -fno-trapping-math -fopenmp-simd
                                             -ffp-contract=off)
    endif()
    if(_isa STREQUAL "avx2")
      target_compile_options(${_obj} PRIVATE -mavx2 -mfma)
    elseif(_isa STREQUAL "avx512")
      target_compile_options(${_obj} PRIVATE -mavx512f -mavx512dq -mavx512vl -mavx512bw -mavx2
                                             -mfma -mprefer-vector-width=512)
    endif()
    target_sources(${target} PRIVATE $<TARGET_OBJECTS:${_obj}>)
  endforeach()
  if(_have_mvec)
    target_compile_definitions(${target} PRIVATE PYMARGIN_HAVE_X86_KERNELS=1)
    target_link_libraries(${target} PUBLIC mvec m)
    set(PYMARGIN_SIMD_LINK_LIBS "mvec;m" PARENT_SCOPE)
  else()
    target_compile_definitions(${target} PRIVATE PYMARGIN_HAVE_X86_KERNELS=0)
  endif()
endfunction()
