"""Model parameters: read from the signature of ``simulate``, checked before any worker starts.

A parameter's type comes from its annotation (``int``, ``float``, ``bool`` or
``str``, or a sequence of one of them: ``tuple[float, ...]``,
``list[float]``, ``Sequence[float]``) or its default (a tuple or list of
such values makes a sequence parameter); ranges and accepted strings come
from the `montecarlo.model` decorator and apply to each element of a
sequence. A sequence is held as a tuple; on a command line it is written
``0.2,0.3,0.5``. Values from a command line or a file arrive as
text and are parsed here, so every entry point gets the same checks and the
same messages.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import math
import re
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from montecarlo.core.validate import parse_count
from montecarlo.errors import ParameterError, ValidationError

PARAM_TYPES = (int, float, bool, str)
BOUNDS = ("[]", "()", "(]", "[)")


@dataclass(frozen=True)
class Param:
    """One model parameter, read from the signature of ``simulate``.

    Parameters
    ----------
    name : str
    type : type
        ``int``, ``float``, ``bool`` or ``str``.
    default : object
        ``inspect.Parameter.empty`` for a required parameter.
    low, high : float, optional
        Bounds (``None``: open on that side).
    choices : tuple of str, optional
        Accepted values of a ``str`` parameter (``None``: any string).
    bounds : {"[]", "()", "(]", "[)"}
        Which bounds are included.
    sequence : bool
        A sequence of ``type`` values (held as a tuple), each checked as a
        value of ``type`` would be.
    """

    name: str
    type: type
    default: Any = inspect.Parameter.empty
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    bounds: str = "[]"
    sequence: bool = False

    @property
    def required(self) -> bool:
        """Whether the parameter has no default."""
        return self.default is inspect.Parameter.empty

    def accepted(self) -> str:
        """What the parameter accepts, in words."""
        if self.sequence:
            one = dataclasses.replace(self, sequence=False).accepted()
            return f"a list, each element {one} (on a command line: comma-separated, as 0.2,0.3)"
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        what = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}[self.type]
        left, right = self.bounds[0], self.bounds[1]
        if self.low is not None and self.high is not None:
            return f"{what} in {left}{self.low}, {self.high}{right}"
        if self.low is not None:
            return f"{what} {'>=' if left == '[' else '>'} {self.low}"
        if self.high is not None:
            return f"{what} {'<=' if right == ']' else '<'} {self.high}"
        return what

    def _outside(self, value: Any) -> bool:
        left, right = self.bounds[0], self.bounds[1]
        below = self.low is not None and (value < self.low if left == "[" else value <= self.low)
        above = self.high is not None and (value > self.high if right == "]" else value >= self.high)
        return below or above

    def _error(self, value: Any, problem: str = "is not accepted") -> ParameterError:
        return ParameterError(self.name, value, self.accepted(), problem)

    def convert(self, value: Any) -> Any:
        """Check one value (parsing text from a command line or a file); return it normalised."""
        if self.sequence:
            return self._convert_sequence(value)
        given = value
        if isinstance(value, str) and self.type is not str:
            value = self._parse(value)
        t = self.type
        ok = (
            (t is bool and isinstance(value, bool))
            or (t is int and isinstance(value, int) and not isinstance(value, bool))
            or (t is float and isinstance(value, (int, float)) and not isinstance(value, bool))
            or (t is str and isinstance(value, str))
        )
        if not ok:
            raise self._error(given)
        if t is float:
            value = float(value)
            if not math.isfinite(value):
                raise self._error(given, "is not finite")
        if self._outside(value):
            raise self._error(given, "is out of range")
        if self.choices is not None and value not in self.choices:
            raise self._error(given)
        return value

    def _convert_sequence(self, value: Any) -> tuple:
        """A tuple of checked elements, from a list, a tuple, a 1-D array or comma-separated text."""
        given = value
        if isinstance(value, str):
            text = value.strip()
            if text[:1] + text[-1:] in ("[]", "()"):
                text = text[1:-1]
            value = [part for part in (p.strip() for p in text.split(",")) if part] if text.strip() else []
        elif hasattr(value, "tolist") and getattr(value, "ndim", 0) == 1:  # a numpy array
            value = value.tolist()
        if not isinstance(value, (list, tuple)):
            raise self._error(given)
        one = dataclasses.replace(self, sequence=False)
        out = []
        for i, v in enumerate(value):
            try:
                out.append(one.convert(v))
            except ParameterError as exc:
                raise self._error(given, f"has element {i} = {v!r}, which {exc.problem}") from None
        return tuple(out)

    def _parse(self, text: str) -> Any:
        s = text.strip()
        try:
            if self.type is bool:
                low = s.lower()
                if low in ("true", "yes", "1", "on"):
                    return True
                if low in ("false", "no", "0", "off"):
                    return False
                raise ValueError
            if self.type is int:
                return parse_count(s, allow_negative=True)  # exact: "1e6" and "1_000" are fine
            return float(s)
        except ValueError:
            raise self._error(text) from None


def signature_params(
    func: Callable[..., Any],
    ranges: Mapping[str, Sequence[Any]] | None = None,
    choices: Mapping[str, Sequence[str]] | None = None,
) -> tuple[Param, ...]:
    """The parameters of ``simulate(rng, n, **params)``, with ranges and choices attached."""
    ranges = dict(ranges or {})
    choices = dict(choices or {})
    sig = inspect.signature(func)
    ps = list(sig.parameters.values())
    if len(ps) < 2 or any(p.kind not in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY) for p in ps[:2]):
        name = getattr(func, "__name__", repr(func))
        raise ValidationError("model", f"{name}{sig}", "a function simulate(rng, n, **params)", "has another signature")
    out = []
    for p in ps[2:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        t, sequence = _type_of(p)
        low, high, bounds = _range(p.name, ranges.get(p.name, (None, None)))
        allowed = choices.get(p.name)
        if allowed is not None:
            allowed = tuple(allowed)
            if t is not str or not allowed or not all(isinstance(c, str) for c in allowed):
                raise ValidationError(
                    "choices",
                    allowed,
                    "non-empty strings, for a str parameter",
                    f"of parameter {p.name!r} are not accepted",
                )
        default = tuple(p.default) if sequence and isinstance(p.default, (list, tuple)) else p.default
        out.append(Param(p.name, t, default, low, high, allowed, bounds, sequence))
    for arg, given in (("ranges", ranges), ("choices", choices)):
        unknown = set(given) - {p.name for p in out}
        if unknown:
            names = ", ".join(p.name for p in out) or "none"
            raise ValidationError(arg, sorted(unknown), f"parameters of the model: {names}", "names unknown parameters")
    return tuple(out)


#: Annotations written as text (``from __future__ import annotations``): ``"float"``, ``"tuple[float, ...]"``.
_NAMES = {"int": int, "float": float, "bool": bool, "str": str}
_SEQUENCE_TEXT = re.compile(
    r"(?:tuple|list|Sequence|typing\.Sequence|collections\.abc\.Sequence)\[(\w+)(?:, \.\.\.)?\]"
)


def _type_of(p: inspect.Parameter) -> tuple[type, bool]:
    """``(element type, is a sequence)`` of a parameter, from its annotation, else its default (else float)."""
    ann = p.annotation
    if isinstance(ann, str):
        text = ann.replace(" ", "").replace(",...", ", ...")
        seq = _SEQUENCE_TEXT.fullmatch(text)
        if seq is not None and seq.group(1) in _NAMES:
            return _NAMES[seq.group(1)], True
        ann = _NAMES.get(ann, inspect.Parameter.empty)
    if ann in PARAM_TYPES:
        return ann, False
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin in (tuple, list, collections.abc.Sequence) and args and args[0] in PARAM_TYPES:
        if origin is not tuple or len(args) == 1 or (len(args) == 2 and args[1] is Ellipsis):
            return args[0], True
    d = p.default
    if d is not p.empty and type(d) in PARAM_TYPES:
        return type(d), False
    if isinstance(d, (list, tuple)) and d and all(type(v) in PARAM_TYPES for v in d):
        kinds = {type(v) for v in d}
        if kinds <= {int, float} and float in kinds:
            return float, True  # (0, 0.5, 1): numbers
        if len(kinds) == 1:
            return kinds.pop(), True
    return float, False


def _range(name: str, spec: Iterable[Any]) -> tuple[Any, Any, str]:
    """``(low, high)`` inclusive, or ``(low, high, bounds)`` with bounds one of `BOUNDS`."""
    spec = tuple(spec)
    bounds = spec[2] if len(spec) == 3 else "[]"
    if len(spec) not in (2, 3) or bounds not in BOUNDS:
        raise ValidationError(
            "ranges", spec, "(low, high) or (low, high, '[]'|'()'|'(]'|'[)')", f"of parameter {name!r} is not accepted"
        )
    return spec[0], spec[1], bounds


def call_with_params(func: Callable[..., Any], args: Iterable[Any], params: Mapping[str, Any]) -> Any:
    """``func(*args, **params)``, passing only the parameters ``func``'s signature names.

    A function taking ``**kwargs`` receives every parameter.
    """
    args = list(args)
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):  # builtins without a signature
        return func(*args)
    ps = sig.parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in ps):
        return func(*args, **params)
    named = {p.name for p in ps if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    return func(*args, **{k: v for k, v in params.items() if k in named})
