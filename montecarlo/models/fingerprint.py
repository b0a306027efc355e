"""A model's fingerprint: everything Python can see that decides its numbers.

Two runs of one RunSpec give the same numbers only if the model is the same
model. The RunSpec names the model (``"pi"``, ``"m2.py:asian"``,
``"__main__:simulate"``); the fingerprint says what that name stood for when
the run was made, as digests of:

- ``code``: each of the record's functions' compiled code (the simulation,
  its uniform form, the exact value, derived quantities, control means, the
  dimension), nested functions and lambdas included, without line numbers;
- ``defaults``: their default arguments;
- ``closure:NAME``: the values their closures hold (two closures of one
  factory with other arguments are other models);
- ``global:NAME``: every global value the code reads -- a module by its name
  and version, a function or class by its own fingerprint, anything else by
  its pickled bytes (as cloudpickle would ship it to a worker);
- ``module:NAME``: the source text of each module the model's functions are
  defined in (a file edited since is another model);
- ``declaration``: the outputs, their kinds and scales (and a model's declared
  inputs: their names and distributions; a level model's levels);
- ``base.code``, ``base.declaration``: those of the model this one is
  derived from (an analysis's model holds the model it analyses).

The cache keys entries with it, every result, checkpoint and experiment
result records it, and a resume or an extension refuses a model whose
fingerprint changed, naming what changed. What Python cannot see is not in
it: a file the model opens, a database it queries, the environment it reads
(docs/design.md, "What a fingerprint cannot see").
"""

from __future__ import annotations

import hashlib
import inspect
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

from montecarlo.models.inputs import Inputs
from montecarlo.models.record import Model

#: Version of the fingerprint's recipe (a change makes every old fingerprint another).
RECIPE = 1
#: How deep functions that call functions are followed.
DEPTH = 4


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def _code_bytes(code: types.CodeType) -> Iterator[bytes]:
    """The parts of a code object that decide what it computes (no file name, no line numbers)."""
    yield code.co_code
    yield repr((code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars, code.co_argcount)).encode()
    yield repr(code.co_kwonlyargcount).encode()
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_bytes(const)
        else:
            yield repr(const).encode()


def _canonical(obj: Any, depth: int = 0) -> bytes | None:
    """Bytes that stand for a plain value, the same in every process; None for other values.

    Sets and dictionaries are written in sorted order where they can be
    sorted: pickled as they are, their order follows the process's string
    hash seed, and one model would have a fingerprint per process.
    """
    if depth > 20:
        return None
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
        return repr((type(obj).__name__, obj)).encode()
    if isinstance(obj, (list, tuple)):
        items = [_canonical(v, depth + 1) for v in obj]
        return None if any(i is None for i in items) else repr((type(obj).__name__, items)).encode()
    if isinstance(obj, (set, frozenset)):
        items = [_canonical(v, depth + 1) for v in obj]
        return None if any(i is None for i in items) else repr((type(obj).__name__, sorted(items))).encode()  # type: ignore[type-var]
    if isinstance(obj, dict):
        pairs = [(_canonical(k, depth + 1), _canonical(v, depth + 1)) for k, v in obj.items()]
        if any(k is None or v is None for k, v in pairs):
            return None
        return repr(("dict", sorted(pairs))).encode()
    import numpy as np

    if isinstance(obj, np.ndarray) and obj.dtype.kind in "biufcSU":
        return repr((obj.dtype.str, obj.shape)).encode() + np.ascontiguousarray(obj).tobytes()
    if isinstance(obj, np.generic):
        return repr((obj.dtype.str, obj.item())).encode()
    return None


def _names(code: types.CodeType) -> list[str]:
    """The global names a code object and the code nested in it may read."""
    names = list(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names += _names(const)
    return names


class Fingerprinter:
    """Collects the parts of one model's fingerprint, following the functions it calls."""

    def __init__(self) -> None:
        self.parts: dict[str, str] = {}
        self._seen: set[int] = set()
        #: Whether a value was seen by its text only (not picklable): the fingerprint may miss its changes.
        self.blind = False

    def value(self, obj: Any, depth: int) -> str:
        """The digest of a value a model's code reads."""
        if isinstance(obj, types.ModuleType):
            version = getattr(obj, "__version__", "")
            return f"module {obj.__name__} {version}".strip()
        if isinstance(obj, (types.FunctionType, types.MethodType)) or inspect.isclass(obj):
            if depth <= 0:
                return f"{getattr(obj, '__module__', '')}:{getattr(obj, '__qualname__', '')}"
            return self.callable(obj, depth - 1)
        if isinstance(obj, Model):  # a model another is derived from (an analysis's): its own parts count
            return self.model(obj, prefix="base.")
        if isinstance(obj, Inputs):  # by what fixes them: a pickled scipy distribution holds numpy's global state
            parts = (obj.names, obj.described, [self.value(fn, depth) for fn in (obj.function, obj.indices)])
            return _digest(repr(parts).encode())
        if isinstance(obj, (types.BuiltinFunctionType, types.BuiltinMethodType)) or type(obj).__name__ == "ufunc":
            return (
                f"builtin {getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', getattr(obj, '__name__', ''))}"
            )
        plain = _canonical(obj)
        if plain is not None:
            return _digest(plain)
        try:
            import cloudpickle

            return _digest(cloudpickle.dumps(obj))
        except Exception:  # not picklable: it could not reach a worker process either; its repr is what can be seen
            self.blind = True
            return "repr " + _digest(repr(obj).encode("utf-8", "replace"))

    def callable(self, fn: Any, depth: int = DEPTH) -> str:
        """The digest of a function, method, class or callable object; its reads become parts."""
        if id(fn) in self._seen:
            return "seen"
        self._seen.add(id(fn))
        if isinstance(fn, types.MethodType):
            return _digest((self.callable(fn.__func__, depth) + self.value(fn.__self__, depth)).encode())
        if inspect.isclass(fn):
            try:
                source = inspect.getsource(fn)
            except (OSError, TypeError):
                source = fn.__qualname__
            self._module(fn)
            return _digest(source.encode())
        if not isinstance(fn, types.FunctionType):
            if hasattr(fn, "func") and callable(fn.func):  # functools.partial
                inner = self.callable(fn.func, depth)
                args = self.value((getattr(fn, "args", ()), getattr(fn, "keywords", {})), depth)
                return _digest((inner + args).encode())
            call = vars(type(fn)).get("__call__")  # a callable object: its state, pickled, and its method
            own = self.value(fn, depth)
            return _digest((own + (self.callable(call, depth) if call is not None else "")).encode())
        code = fn.__code__
        h = hashlib.sha256()
        for chunk in _code_bytes(code):
            h.update(chunk)
        defaults = (fn.__defaults__, sorted((fn.__kwdefaults__ or {}).items()))
        h.update(self.value(defaults, depth).encode())
        for name, cell in zip(code.co_freevars, fn.__closure__ or (), strict=False):
            try:
                held = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            self.parts[f"closure:{name}"] = self.value(held, depth)
        glb = fn.__globals__
        for name in sorted(set(_names(code))):  # attribute names too: only those the module defines count
            if name in glb:
                self.parts.setdefault(f"global:{name}", self.value(glb[name], depth))
        self._module(fn)
        return h.hexdigest()[:32]

    def model(self, model: Model, prefix: str = "") -> str:
        """The digest of a model record's functions and declaration; their reads become parts."""
        functions: list[tuple[str, Callable[..., Any] | None]] = [
            ("simulate", model.simulate),
            ("uniform", model.uniform),
            ("exact", model.exact),
            ("dimension", model.dimension if callable(model.dimension) else None),
            ("exact_quantile", model.exact_quantile),
        ]
        if model.inputs is not None:  # f(x, **params), which simulate and uniform wrap, and the exact indices
            functions += [("inputs", model.inputs.function), ("indices", model.inputs.indices)]
        if model.levels is not None:  # the cost of each level decides the sample counts of multilevel Monte Carlo
            exact_limit = model.levels.exact if callable(model.levels.exact) else None
            functions += [("levels.cost", model.levels.cost), ("levels.exact", exact_limit)]
        functions += [(f"derived:{d.name}", d.func) for d in model.derived]
        functions += [(f"gradient:{d.name}", d.gradient) for d in model.derived]
        functions += [(f"means:{c.name}", c.means if callable(c.means) else None) for c in model.controls]
        codes = {name: self.callable(fn) for name, fn in functions if fn is not None}
        self.parts[prefix + "code"] = code = _digest(repr(sorted(codes.items())).encode())
        declared: tuple[Any, ...] = (
            [(o.name, o.kind, o.scale, o.likelihood_ratio) for o in model.outputs],
            [(d.name, d.inputs, d.exact if not callable(d.exact) else None) for d in model.derived],
            [(c.name, c.target, c.controls, c.means if not callable(c.means) else None) for c in model.controls],
            model.dimension if not callable(model.dimension) else None,
        )
        if model.inputs is not None:  # (a model without inputs keeps the declaration it always had)
            declared += ((model.inputs.names, model.inputs.described),)
        if model.levels is not None:  # (likewise a model without levels)
            exact = model.levels.exact
            declared += (("levels", exact if not callable(exact) else None, model.levels.unit),)
        self.parts[prefix + "declaration"] = _digest(repr(declared).encode())
        return code

    def _module(self, obj: Any) -> None:
        """The source of the module ``obj`` is defined in, where there is one to read."""
        name = getattr(obj, "__module__", None)
        module = sys.modules.get(name or "")
        if module is None or f"module:{name}" in self.parts:
            return
        try:
            source = inspect.getsource(module)
        except (OSError, TypeError):  # a notebook, an interactive session: the code digests stand
            return
        self.parts[f"module:{name}"] = _digest(source.encode("utf-8"))


def fingerprint(model: Model) -> dict:
    """The fingerprint of a model record: its parts' digests and one digest of them all.

    Returns
    -------
    dict
        ``{"recipe": RECIPE, "digest": ..., "complete": bool, "parts":
        {name: digest}}`` (JSON-ready; `changes` compares two).
        ``complete`` is false when a value could be seen by its text only
        (it cannot be pickled): such a model is never served from the cache.
    """
    f = Fingerprinter()
    f.model(model)
    parts = dict(sorted(f.parts.items()))
    complete = not any(v.startswith("repr ") for v in parts.values()) and not f.blind
    return {"recipe": RECIPE, "digest": _digest(repr(parts).encode()), "complete": complete, "parts": parts}


def changed_since(recorded: dict, now: dict) -> str:
    """What changed since ``recorded`` was taken, in words; empty when nothing did or nothing was recorded.

    A file written before fingerprints were recorded has none: it is
    compared by its RunSpec alone, as before.
    """
    if not recorded or recorded.get("digest") == now.get("digest"):
        return ""
    return ", ".join(changes(recorded, now))


def changes(old: dict, new: dict) -> list[str]:
    """What differs between two fingerprints, in words: ``["the global W", "the source of module m2"]``."""
    if old.get("recipe") != new.get("recipe"):
        return ["the fingerprint's recipe (another montecarlo release)"]
    a, b = old.get("parts", {}), new.get("parts", {})
    out = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) == b.get(key):
            continue
        kind, _, name = key.partition(":")
        base, _, kind = kind.rpartition(".")  # "base.code": the model this one is derived from
        of = " of the model it is derived from" if base else ""
        what = {
            "code": f"the model's code{of}" if not base else f"the code{of}",
            "declaration": f"its outputs' declaration{of}" if not base else f"the outputs' declaration{of}",
            "closure": f"the closure value {name}",
            "global": f"the global {name}",
            "module": f"the source of module {name}",
        }.get(kind, key)
        if key not in a:
            what += " (new)"
        elif key not in b:
            what += " (gone)"
        out.append(what)
    return out
