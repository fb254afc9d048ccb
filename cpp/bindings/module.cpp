// SPDX-License-Identifier: Apache-2.0
// The pymargin._core extension module. Binding code only: all computation is in pymargin::core.
#include <pybind11/pybind11.h>

#include "errors.hpp"
#include "pymargin/version.hpp"

namespace py = pybind11;

namespace pymargin::bindings {

void bind_pricing(py::module_& m);
void bind_kernel(py::module_& m);
void bind_engine(py::module_& m);

void register_error_translator(py::module_& m) {
  (void)m;
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const PyInputError& e) {
      py::module_ exc = py::module_::import("pymargin.exceptions");
      const char* cls = e.kind == PyInputError::kNoSolution ? "NoSolutionError"
                        : e.kind == PyInputError::kType     ? "InputTypeError"
                                                            : "InvalidInputError";
      py::object index = e.index < 0 ? py::object(py::none()) : py::object(py::int_(e.index));
      py::object err =
          exc.attr(cls)(e.message, py::arg("field") = e.field, py::arg("index") = index);
      PyErr_SetObject(py::type::handle_of(err).ptr(), err.ptr());
    }
  });
}

}  // namespace pymargin::bindings

PYBIND11_MODULE(_core, m) {
  m.doc() = "pymargin compiled core (private; use the pymargin package)";
  m.attr("__version__") = std::to_string(PYMARGIN_VERSION_MAJOR) + "." +
                          std::to_string(PYMARGIN_VERSION_MINOR) + "." +
                          std::to_string(PYMARGIN_VERSION_PATCH);
  pymargin::bindings::register_error_translator(m);
  pymargin::bindings::bind_pricing(m);
  pymargin::bindings::bind_kernel(m);
  pymargin::bindings::bind_engine(m);
}
