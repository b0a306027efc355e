"""Resolving what a user names into a `Model`: a registered name, a reference or a function.

References are ``"package.module:function"`` (imported by name) or
``"path/to/file.py:function"`` (loaded from the file). A model an analysis
derives from another is named ``"ANALYSIS(REFERENCE)"``
(``"sensitivity(ishigami)"``): the analysis's entry in `DERIVATIONS` makes
it from the model ``REFERENCE`` names, so a RunSpec of it is read back,
resumed, cached and reproduced like any other. Importing runs the
module's code: only references a user types, or a result file the user asks
to re-run (``mc extend``, ``mc reproduce``), are ever imported.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import importlib
import importlib.util
import os
import re
import sys
import threading
from collections.abc import Iterator
from typing import Any

from montecarlo.core.plugins import Registry
from montecarlo.errors import ExitAtImport, ModelNotFoundError, one_line
from montecarlo.models.declare import make_model
from montecarlo.models.record import Model

#: Registered name -> "module:function".
BUILTIN = {
    "pi": "montecarlo.models.builtin.pi:simulate",
    "buffon": "montecarlo.models.builtin.buffon:simulate",
    "integrate": "montecarlo.models.builtin.integrate:simulate",
    "european_option": "montecarlo.models.builtin.european_option:simulate",
    "asian_option": "montecarlo.models.builtin.asian_option:simulate",
    "gamblers_ruin": "montecarlo.models.builtin.gamblers_ruin:simulate",
    "tail_probability": "montecarlo.models.builtin.tail_probability:simulate",
    "gbm_call": "montecarlo.models.builtin.gbm_call:simulate",
    "digital_call": "montecarlo.models.builtin.digital_call:simulate",
    "ishigami": "montecarlo.models.builtin.ishigami:simulate",
    "sobol_g": "montecarlo.models.builtin.sobol_g:simulate",
}

#: Analysis name -> ``derive(model) -> Model``: the model the analysis runs for ``model`` (``"ANALYSIS(REFERENCE)"``).
DERIVATIONS = Registry(
    "analysis",
    {
        "sensitivity": "montecarlo.analyses.sensitivity_model:derive",
        "sensitivity2": "montecarlo.analyses.sensitivity_model:derive_second_order",
    },
)

#: ``ANALYSIS(REFERENCE)``.
_DERIVED = re.compile(r"([A-Za-z_]\w*)\((.+)\)")

ACCEPTED = "a built-in model name (see `mc list`), 'package.module:function' or 'path/to/file.py:function'"


def load_model(obj: Any) -> Model:
    """Resolve a model into its record.

    Parameters
    ----------
    obj : str, callable or Model
        A registered name (``"pi"``), a ``"package.module:function"`` or
        ``"path/to/file.py:function"`` reference, a (decorated or plain)
        function ``simulate(rng, n, **params)``, or a `Model`.

    Returns
    -------
    Model

    Raises
    ------
    montecarlo.errors.ModelNotFoundError
        When the name or reference does not resolve (with the closest names).
    """
    if isinstance(obj, Model):
        return obj
    if isinstance(obj, str):
        return _load_reference(obj)
    if callable(obj):
        rec = getattr(obj, "__montecarlo_model__", None)
        return rec if isinstance(rec, Model) else dataclasses.replace(make_model(obj), undeclared=True)
    raise ModelNotFoundError("model", obj, ACCEPTED + ", or a function simulate(rng, n, **params)")


def builtin_models() -> list[Model]:
    """Every built-in model, in name order."""
    return [load_model(name) for name in sorted(BUILTIN)]


def derived_model(analysis: str, model: Any) -> Model:
    """The model ``analysis`` derives from ``model``, named ``"ANALYSIS(REFERENCE)"`` in its RunSpecs."""
    base = load_model(model)
    rec = load_model(DERIVATIONS.get(analysis)(base))  # a Model, or a function @model declared
    return dataclasses.replace(rec, reference=f"{analysis}({base.recorded_name})")


def _load_reference(ref: str) -> Model:
    derived = _DERIVED.fullmatch(ref)
    if derived is not None and derived.group(1) in DERIVATIONS.names():
        return derived_model(derived.group(1), derived.group(2))
    if ref in BUILTIN:
        target = BUILTIN[ref]
    elif ":" in ref:
        target = ref
    else:
        close = difflib.get_close_matches(ref, list(BUILTIN), n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        accepted = f"one of {', '.join(sorted(BUILTIN))}, 'package.module:function' or 'path/to/file.py:function'"
        raise ModelNotFoundError("model", ref, accepted, f"is not a known model{hint}")
    rec = load_model(_import(target, ref))
    return rec if rec.reference == ref else dataclasses.replace(rec, reference=ref)


def _import(target: str, shown: str) -> Any:
    module_name, _, attr = target.rpartition(":")
    if not module_name or not attr:
        raise ModelNotFoundError("model", shown, ACCEPTED, "is not a model reference")
    module = _module_from_file(module_name, shown) if module_name.endswith(".py") else _module(module_name, shown)
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ModelNotFoundError(
                "model", shown, ACCEPTED, f"names {attr!r}, which module {module_name!r} does not define"
            ) from None
    return obj


@contextlib.contextmanager
def _exits_refused() -> Iterator[None]:
    """While a model's module is imported, ``os._exit`` raises instead of ending the process.

    `SystemExit` is an exception already; ``os._exit`` would end ``mc`` (or
    the caller) with no word. Only done while this is the process's one
    thread: a fork from another thread meanwhile would give its child the
    raising ``os._exit``.
    """
    if threading.active_count() != 1:
        yield
        return
    real = os._exit

    def refuse(code: int = 0) -> None:
        raise ExitAtImport(code)

    os._exit = refuse  # type: ignore[assignment]
    try:
        yield
    finally:
        os._exit = real


def _what(exc: BaseException) -> str:
    """What a module did on import, on one line: ``raised ValueError: ...`` or ``called os._exit(3)``."""
    if isinstance(exc, ExitAtImport):
        return f"called {exc}"
    said = one_line(exc)
    return f"raised {type(exc).__name__}" + (f": {said}" if said else "")


def _module(name: str, shown: str) -> Any:
    try:
        with _exits_refused():
            return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        hint = ""
        if exc.name == name.split(".")[0] and os.path.exists(name.split(".")[0] + ".py"):
            hint = f" (it is a file here: give the path, {name.split('.')[0]}.py:..., or run with PYTHONPATH=.)"
        raise ModelNotFoundError("model", shown, ACCEPTED, f"cannot be imported: {exc}{hint}") from None
    except BaseException as exc:  # the module's own error (or exit) on import
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ModelNotFoundError(
            "model", shown, ACCEPTED, f"cannot be imported: module {name!r} {_what(exc)}"
        ) from None


def _module_from_file(path: str, shown: str) -> Any:
    """Load ``path`` as a module named after the file (kept in `sys.modules` for worker processes)."""
    full = os.path.abspath(path)
    if not os.path.isfile(full):
        raise ModelNotFoundError("model", shown, ACCEPTED, f"names the file {path!r}, which does not exist")
    name = os.path.splitext(os.path.basename(full))[0]
    loaded = sys.modules.get(name)
    if loaded is not None and os.path.abspath(getattr(loaded, "__file__", "") or "") == full:
        return loaded
    spec = importlib.util.spec_from_file_location(name, full)
    if spec is None or spec.loader is None:
        raise ModelNotFoundError("model", shown, ACCEPTED, f"names {path!r}, which is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        with _exits_refused():
            spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[name]
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ModelNotFoundError("model", shown, ACCEPTED, f"cannot be loaded: {path!r} {_what(exc)}") from None
    return module
