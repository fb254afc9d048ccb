# PYMARGIN_SANITIZE="address;undefined" instruments the core and its tests.
add_library(pymargin_sanitize INTERFACE)
if(PYMARGIN_SANITIZE)
  string(REPLACE ";" "," _pm_san "${PYMARGIN_SANITIZE}")
  target_compile_options(pymargin_sanitize INTERFACE -fsanitize=${_pm_san} -fno-omit-frame-pointer
                                                     -fno-sanitize-recover=all)
  target_link_options(pymargin_sanitize INTERFACE -fsanitize=${_pm_san})
endif()
