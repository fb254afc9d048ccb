// SPDX-License-Identifier: Apache-2.0
// Bindings of the pricing layer: batch kernels over numpy arrays (zero-copy, out=, GIL
// released) and cheap scalar calls.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <array>
#include <cstdint>
#include <string>

#include "errors.hpp"
#include "pymargin/pricing/batch.hpp"
#include "pymargin/pricing/black.hpp"
#include "pymargin/pricing/implied_vol.hpp"

namespace py = pybind11;

namespace pymargin::bindings {
namespace {

using pricing::Column;
using pricing::OptionType;

[[noreturn]] void type_error(const std::string& field, const std::string& message) {
  throw PyInputError{PyInputError::kType, field, -1, message};
}
[[noreturn]] void shape_error(const std::string& field, const std::string& message) {
  throw PyInputError{PyInputError::kInvalid, field, -1, message};
}

// A read-only view of `a` as a column of n rows: one element (broadcast), a C-contiguous array
// of n elements, or a 1-D strided array of n elements. Never copies.
template <class T>
Column<T> column(const py::array& a, std::size_t n, const std::string& name) {
  if (!py::dtype::of<T>().equal(a.dtype()) &&
      !(sizeof(T) == 1 && a.dtype().itemsize() == 1 && a.dtype().kind() == 'b')) {
    type_error(name, std::string("expected dtype ") + std::string(py::str(py::dtype::of<T>())) +
                         ", got " + std::string(py::str(a.dtype())));
  }
  const auto size = static_cast<std::size_t>(a.size());
  const T* data = static_cast<const T*>(a.data());
  if (size == 1) return {data, 0};
  if (size != n)
    shape_error(
        name, "has " + std::to_string(size) + " elements, expected " + std::to_string(n) + " or 1");
  if (a.flags() & py::array::c_style) return {data, 1};
  if (a.ndim() == 1 && a.strides(0) % static_cast<py::ssize_t>(sizeof(T)) == 0) {
    return {data, a.strides(0) / static_cast<py::ssize_t>(sizeof(T))};
  }
  shape_error(name, "must be C-contiguous or one-dimensional");
}

double* output(const py::object& o, std::size_t n, const char* name) {
  if (o.is_none()) return nullptr;
  if (!py::isinstance<py::array>(o)) type_error(name, "out must be a numpy array");
  py::array a = py::reinterpret_borrow<py::array>(o);
  if (!py::dtype::of<double>().equal(a.dtype())) type_error(name, "out must have dtype float64");
  if (!(a.flags() & py::array::c_style)) type_error(name, "out must be C-contiguous");
  if (!a.writeable()) type_error(name, "out must be writeable");
  if (static_cast<std::size_t>(a.size()) != n) {
    shape_error(name,
                "out has " + std::to_string(a.size()) + " elements, expected " + std::to_string(n));
  }
  return static_cast<double*>(a.mutable_data());
}

pricing::Model to_model(int m) {
  if (m < 0 || m > 2) shape_error("model", "unknown pricing model");
  return static_cast<pricing::Model>(m);
}

const char* underlying_name(pricing::Model m) {
  return m == pricing::Model::kBsm ? "spot" : "forward";
}

pricing::BatchInputs inputs(int model, std::size_t n, const py::array& u, const py::array& k,
                            const py::array& t, const py::array& v, const py::array& r,
                            const py::array& q, const py::array& is_call) {
  pricing::BatchInputs in;
  in.model = to_model(model);
  in.n = n;
  in.underlying = column<double>(u, n, underlying_name(in.model));
  in.strike = column<double>(k, n, "strike");
  in.time = column<double>(t, n, "time");
  in.vol = column<double>(v, n, "vol");
  in.rate = column<double>(r, n, "rate");
  in.carry = column<double>(q, n, "dividend");
  in.is_call = column<std::uint8_t>(is_call, n, "option_type");
  return in;
}

void price_batch(int model, std::size_t n, const py::array& u, const py::array& k,
                 const py::array& t, const py::array& v, const py::array& r, const py::array& q,
                 const py::array& is_call, const py::tuple& outs, int threads,
                 bool outputs_are_scratch) {
  const pricing::BatchInputs in = inputs(model, n, u, k, t, v, r, q, is_call);
  if (outs.size() != 9) shape_error("out", "expected 9 output slots");
  static const char* names[9] = {"price", "delta", "delta_forward", "gamma", "vega",
                                 "theta", "rho",   "vanna",         "volga"};
  std::array<double*, 9> p{};
  for (std::size_t i = 0; i < 9; ++i) p[i] = output(outs[i], n, names[i]);
  pricing::BatchOutputs out{p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8]};
  Status st;
  {
    py::gil_scoped_release nogil;
    st = pricing::price_batch(in, out, threads, outputs_are_scratch);
  }
  raise_status(st, underlying_name(in.model));
}

void implied_vol_batch(int model, std::size_t n, const py::array& price, const py::array& u,
                       const py::array& k, const py::array& t, const py::array& r,
                       const py::array& q, const py::array& is_call, const py::object& out,
                       int threads) {
  py::array vol_dummy = py::array_t<double>(1);  // the vol column is not read
  pricing::BatchInputs in = inputs(model, n, u, k, t, vol_dummy, r, q, is_call);
  const Column<double> pc = column<double>(price, n, "price");
  double* dst = output(out, n, "out");
  if (dst == nullptr && n > 0) type_error("out", "an output array is required");
  Status st;
  {
    py::gil_scoped_release nogil;
    st = pricing::implied_vol_batch(in, pc, dst, threads);
  }
  raise_status(st, underlying_name(in.model));
}

inline OptionType type_of(bool is_call) { return is_call ? OptionType::kCall : OptionType::kPut; }

void check(double u, double k, double t, double v, double r, double q, const char* uname) {
  raise_status(pricing::validate_black_inputs(u, k, t, v, r, q, 0), uname);
}

inline double result(double x) { return x; }
inline py::tuple result(const pricing::Greeks& g) {
  return py::make_tuple(g.price, g.delta, g.delta_forward, g.gamma, g.vega, g.theta, g.rho, g.vanna,
                        g.volga);
}

// Scalar entry points: check the inputs (typed error), then call the core function.
template <auto Fn>
auto on_forward(double f, double k, double t, double v, double r, bool c) {
  check(f, k, t, v, r, 0.0, "forward");
  return result(Fn(f, k, t, v, r, type_of(c)));
}

template <auto Fn>
auto on_spot(double sp, double k, double t, double v, double r, double q, bool c) {
  check(sp, k, t, v, r, q, "spot");
  return result(Fn(sp, k, t, v, r, q, type_of(c)));
}

template <auto Fn>
double iv_on_forward(double p, double f, double k, double t, double r, bool c) {
  double v = 0.0;
  raise_status(Fn(p, f, k, t, r, type_of(c), &v), "forward");
  return v;
}

// The scalar calls without pybind11's dispatch: CPython functions (METH_FASTCALL) whose `self`
// is the pybind11 binding of the same call. Positional floats or ints and a bool is_call are
// taken here; anything else (keywords, other types) and inputs the model refuses go to that
// binding with the same arguments, which converts them or raises the typed error.
inline bool number(PyObject* o, double* x) noexcept {
  if (PyFloat_CheckExact(o)) {
    *x = PyFloat_AS_DOUBLE(o);
    return true;
  }
  if (PyLong_CheckExact(o)) {
    *x = PyLong_AsDouble(o);
    if (*x == -1.0 && PyErr_Occurred()) {
      PyErr_Clear();
      return false;
    }
    return true;
  }
  return false;
}

PyObject* new_result(double x) noexcept { return PyFloat_FromDouble(x); }
PyObject* new_result(const pricing::Greeks& g) noexcept {
  const double v[9] = {g.price, g.delta, g.delta_forward, g.gamma, g.vega,
                       g.theta, g.rho,   g.vanna,         g.volga};
  PyObject* t = PyTuple_New(9);
  if (t == nullptr) return nullptr;
  for (Py_ssize_t k = 0; k < 9; ++k) {
    PyObject* f = PyFloat_FromDouble(v[k]);
    if (f == nullptr) {
      Py_DECREF(t);
      return nullptr;
    }
    PyTuple_SET_ITEM(t, k, f);
  }
  return t;
}

// Spot: (spot, strike, time, vol[, rate[, dividend[, is_call]]]); else (forward, strike,
// time, vol[, rate[, is_call]]).
template <auto Fn, bool Spot>
PyObject* fast_scalar(PyObject* fallback, PyObject* const* args, Py_ssize_t nargs,
                      PyObject* kwnames) {
  constexpr Py_ssize_t kMax = Spot ? 7 : 6;
  double x[6] = {0, 0, 0, 0, 0, 0};  // u, k, t, v, r, q
  bool call = true;
  bool ok = kwnames == nullptr && nargs >= 4 && nargs <= kMax;
  const Py_ssize_t numbers = std::min<Py_ssize_t>(nargs, Spot ? 6 : 5);
  for (Py_ssize_t a = 0; ok && a < numbers; ++a) ok = number(args[a], &x[a]);
  if (ok && nargs == kMax) {
    PyObject* c = args[kMax - 1];
    ok = c == Py_True || c == Py_False;
    call = c == Py_True;
  }
  if (ok) {
    const double q = Spot ? x[5] : 0.0;
    if (pricing::validate_black_inputs(x[0], x[1], x[2], x[3], x[4], q, 0).ok()) {
      if constexpr (Spot) {
        return new_result(Fn(x[0], x[1], x[2], x[3], x[4], x[5], type_of(call)));
      } else {
        return new_result(Fn(x[0], x[1], x[2], x[3], x[4], type_of(call)));
      }
    }
  }
  return PyObject_Vectorcall(fallback, args, static_cast<std::size_t>(nargs), kwnames);
}

template <auto Fn, bool Spot>
PyObject* fast_scalar_entry(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                            PyObject* kwnames) {
  return fast_scalar<Fn, Spot>(self, args, nargs, kwnames);
}

}  // namespace

void bind_pricing(py::module_& m) {
  m.def("price_batch", &price_batch, py::arg("model"), py::arg("n"), py::arg("underlying"),
        py::arg("strike"), py::arg("time"), py::arg("vol"), py::arg("rate"), py::arg("carry"),
        py::arg("is_call"), py::arg("outputs"), py::arg("threads"),
        py::arg("outputs_are_scratch") = false,
        "Batch prices/Greeks into the given output arrays (private; see pymargin.pricing).\n"
        "outputs_are_scratch: the outputs are fresh arrays discarded on error, so inputs may be\n"
        "checked block by block during the computation.");
  m.def("implied_vol_batch", &implied_vol_batch, py::arg("model"), py::arg("n"), py::arg("price"),
        py::arg("underlying"), py::arg("strike"), py::arg("time"), py::arg("rate"),
        py::arg("carry"), py::arg("is_call"), py::arg("out"), py::arg("threads"),
        "Batch implied vols into `out` (private; see pymargin.pricing).");
  m.def("simd_level", &pricing::simd_level,
        "Vector instruction set the batch kernels run on (capped by $PYMARGIN_SIMD).");

  py::module_ s = m.def_submodule("scalar", "Single-option calls: floats in, floats out.");
  const char* greeks_doc = "(price, delta, delta_forward, gamma, vega, theta, rho, vanna, volga)";
  // Each call twice: the pybind11 binding (private, `_name`: keywords, conversions, typed
  // errors) and the public fast entry that falls back to it.
  static PyMethodDef defs[6];
  int next = 0;
  using Fast = PyObject* (*)(PyObject*, PyObject* const*, Py_ssize_t, PyObject*);
  auto publish = [&s, &next](const char* name, Fast fast, const char* doc) {
    PyMethodDef& d = defs[next++];
    d.ml_name = name;
    d.ml_meth = reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fast));
    d.ml_flags = METH_FASTCALL | METH_KEYWORDS;
    d.ml_doc = doc;
    py::object fallback = s.attr((std::string("_") + name).c_str());
    PyObject* fn = PyCFunction_NewEx(&d, fallback.ptr(), nullptr);
    if (fn == nullptr) throw py::error_already_set();
    s.attr(name) = py::reinterpret_steal<py::object>(fn);
  };
  auto fwd = [&s](const char* name, auto fn, const char* doc) {
    s.def((std::string("_") + name).c_str(), fn, py::arg("forward"), py::arg("strike"),
          py::arg("time"), py::arg("vol"), py::arg("rate") = 0.0, py::arg("is_call") = true, doc);
  };
  auto spot = [&s](const char* name, auto fn, const char* doc) {
    s.def((std::string("_") + name).c_str(), fn, py::arg("spot"), py::arg("strike"),
          py::arg("time"), py::arg("vol"), py::arg("rate") = 0.0, py::arg("dividend") = 0.0,
          py::arg("is_call") = true, doc);
  };
  fwd("black76_price", &on_forward<pricing::black76_price>, "Discounted Black-76 value.");
  fwd("black76_greeks", &on_forward<pricing::black76_greeks>, greeks_doc);
  fwd("inverse_price", &on_forward<pricing::inverse_price>, "Coin price of an inverse option.");
  fwd("inverse_greeks", &on_forward<pricing::inverse_greeks>, greeks_doc);
  spot("bsm_price", &on_spot<pricing::bsm_price>, "Generalised Black-Scholes-Merton value.");
  spot("bsm_greeks", &on_spot<pricing::bsm_greeks>, greeks_doc);
  publish("black76_price", &fast_scalar_entry<pricing::black76_price, false>,
          "black76_price(forward, strike, time, vol, rate=0.0, is_call=True)\n--\n\n"
          "Discounted Black-76 value.");
  publish("black76_greeks", &fast_scalar_entry<pricing::black76_greeks, false>,
          "black76_greeks(forward, strike, time, vol, rate=0.0, is_call=True)\n--\n\n"
          "(price, delta, delta_forward, gamma, vega, theta, rho, vanna, volga)");
  publish("inverse_price", &fast_scalar_entry<pricing::inverse_price, false>,
          "inverse_price(forward, strike, time, vol, rate=0.0, is_call=True)\n--\n\n"
          "Coin price of an inverse option.");
  publish("inverse_greeks", &fast_scalar_entry<pricing::inverse_greeks, false>,
          "inverse_greeks(forward, strike, time, vol, rate=0.0, is_call=True)\n--\n\n"
          "(price, delta, delta_forward, gamma, vega, theta, rho, vanna, volga)");
  publish("bsm_price", &fast_scalar_entry<pricing::bsm_price, true>,
          "bsm_price(spot, strike, time, vol, rate=0.0, dividend=0.0, is_call=True)\n--\n\n"
          "Generalised Black-Scholes-Merton value.");
  publish("bsm_greeks", &fast_scalar_entry<pricing::bsm_greeks, true>,
          "bsm_greeks(spot, strike, time, vol, rate=0.0, dividend=0.0, is_call=True)\n--\n\n"
          "(price, delta, delta_forward, gamma, vega, theta, rho, vanna, volga)");
  auto fwd_iv = [&s](const char* name, auto fn) {
    s.def(name, fn, py::arg("price"), py::arg("forward"), py::arg("strike"), py::arg("time"),
          py::arg("rate") = 0.0, py::arg("is_call") = true);
  };
  fwd_iv("black76_implied_vol", &iv_on_forward<pricing::black76_implied_vol>);
  fwd_iv("inverse_implied_vol", &iv_on_forward<pricing::inverse_implied_vol>);
  s.def(
      "bsm_implied_vol",
      [](double p, double sp, double k, double t, double r, double q, bool c) {
        double v = 0.0;
        raise_status(pricing::bsm_implied_vol(p, sp, k, t, r, q, type_of(c), &v), "spot");
        return v;
      },
      py::arg("price"), py::arg("spot"), py::arg("strike"), py::arg("time"), py::arg("rate") = 0.0,
      py::arg("dividend") = 0.0, py::arg("is_call") = true);
}

}  // namespace pymargin::bindings
