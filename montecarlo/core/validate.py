"""Checks of single values, shared by every entry point.

Each check takes the value and the argument's name, returns the normalised
value, and raises `montecarlo.errors.ValidationError` naming the argument, the
value and what is accepted. Strings are parsed where a command line or a file
would give them (``"1e9"`` samples), so one check serves the API, the CLI
and experiment files.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from montecarlo.errors import ValidationError

#: Largest sample count a run accepts (block indices and counts stay exact in
#: float64 arithmetic well past this).
MAX_SAMPLES = 10**15

COUNT = f"an integer >= 1 and at most {MAX_SAMPLES:.0e}, such as 1000000, 1_000_000 or 1e6"

F = TypeVar("F", bound=Callable[..., Any])


def parse_count(text: str, *, allow_negative: bool = False) -> int:
    """``"1e9"``, ``"1_000_000"`` or ``"1000000"`` as an exact int (no float rounding).

    Raises
    ------
    ValueError
        For anything that is not an integer in decimal or scientific notation.
    """
    import decimal  # loaded when a count is parsed: keeps `mc --help` quick

    s = text.strip().replace("_", "")
    if not s or s.lower().lstrip("+-") in ("inf", "infinity", "nan", "snan"):
        raise ValueError(text)
    try:
        value = decimal.Decimal(s)
    except decimal.InvalidOperation:
        raise ValueError(text) from None
    if not value.is_finite() or value != value.to_integral_value():
        raise ValueError(text)
    if value.adjusted() > 30:  # keep int() cheap for absurd exponents
        raise ValueError(text)
    n = int(value)
    if n < 0 and not allow_negative:
        raise ValueError(text)
    return n


def check_count(value: Any, name: str = "samples") -> int:
    """A sample count: an exact integer in [1, `MAX_SAMPLES`]; ``"1e9"`` and ``1e9`` are parsed."""
    given = value
    if isinstance(value, str):
        try:
            value = parse_count(value, allow_negative=True)
        except ValueError:
            raise ValidationError(name, given, COUNT, "is not an integer") from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(name, given, COUNT, "is not an integer")
    if value < 1:
        raise ValidationError(name, given, COUNT)
    if value > MAX_SAMPLES:
        raise ValidationError(name, given, COUNT, "is too large")
    return value


def check_int(value: Any, name: str, low: int = 1, high: int | None = None) -> int:
    """An integer in ``[low, high]``; a string of digits is parsed."""
    span = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"
    given = value
    if isinstance(value, str):
        try:
            value = int(value.strip().replace("_", ""), 10)
        except ValueError:
            raise ValidationError(name, given, span, "is not an integer") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(name, given, span, "is not an integer")
    if value < low or (high is not None and value > high):
        raise ValidationError(name, given, span)
    return value


def check_positive(value: Any, name: str, example: str) -> float:
    """A finite number > 0 (tolerances, seconds); a numeric string is parsed."""
    accepted = f"a finite number > 0, such as {example}"
    given = value
    if isinstance(value, str):
        try:
            value = float(value.strip().replace("_", ""))
        except ValueError:
            raise ValidationError(name, given, accepted, "is not a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise ValidationError(name, given, accepted)
    return float(value)


def check_level(value: Any, name: str = "confidence") -> float:
    """A confidence level: a number strictly between 0 and 1 whose complement is not lost to rounding."""
    accepted = "a number strictly between 0 and 1, such as 0.95"
    given = value
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValidationError(name, given, accepted, "is not a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0.0 < value < 1.0):
        raise ValidationError(name, given, accepted)
    # The two-sided quantile is taken at 0.5 + level / 2, which must stay below 1.
    if not 0.5 + value / 2.0 < 1.0:
        raise ValidationError(name, given, "a number strictly between 0 and 1 - 1e-15", "is too close to 1")
    return float(value)


SCHEDULER = (
    "an address tcp://HOST:PORT (tls:// with Dask's TLS settings; HOST:PORT alone is tcp) with PORT from 1 to "
    "65535, such as tcp://10.0.0.5:8786"
)


def check_scheduler(value: Any, name: str = "scheduler") -> str:
    """A Dask scheduler's address, as ``tcp://HOST:PORT`` or ``tls://HOST:PORT`` (an IPv6 HOST in brackets)."""
    if not isinstance(value, str):
        raise ValidationError(name, value, SCHEDULER)
    text = value.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    if scheme not in ("tcp", "tls"):
        raise ValidationError(name, value, SCHEDULER, f"uses the transport {scheme + '://'!r}")
    host, colon, port = rest.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    bare = host[1:-1] if bracketed else host
    if not colon or not bare or any(c.isspace() or c in "/[]@" for c in bare) or (":" in bare and not bracketed):
        raise ValidationError(name, value, SCHEDULER, "has no HOST:PORT")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValidationError(name, value, SCHEDULER, "has no port from 1 to 65535")
    return f"{scheme}://{host}:{int(port)}"


def check_levels(value: Any, name: str) -> tuple[float, ...]:
    """Probability levels (quantiles): a number or a sequence of numbers strictly between 0 and 1.

    Returns them sorted, each once, so that the order they were given in
    does not make two runs differ.
    """
    items = [value] if isinstance(value, (str, int, float)) else value
    if isinstance(items, Mapping) or not isinstance(items, Iterable):
        raise ValidationError(name, value, "a number strictly between 0 and 1, or a list of them")
    levels = set()
    for item in items:
        try:
            levels.add(check_level(item, name))
        except ValidationError as exc:
            raise ValidationError(name, item, "numbers strictly between 0 and 1, such as 0.99", exc.problem) from None
    return tuple(sorted(levels))


def check_choice(value: Any, name: str, choices: Iterable[str]) -> str:
    """One of ``choices``."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise ValidationError(name, value, "one of " + ", ".join(choices))
    return value


def check_bool(value: Any, name: str) -> bool:
    """True or False (from a file or the API; the CLI has flags)."""
    if not isinstance(value, bool):
        raise ValidationError(name, value, "true or false")
    return value


def closest(word: str, known: Iterable[str]) -> str | None:
    """The known word closest to ``word``, if one is close enough to be a likely typo."""
    import difflib

    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` Did you mean `x`?`` for the closest known word, or ``""``."""
    close = closest(word, known)
    return f" Did you mean `{close}`?" if close else ""


def unknown_keywords(given: Iterable[str], known: Iterable[str], where: str) -> TypeError | None:
    """A `TypeError` naming the first keyword not in ``known`` (with a suggestion), or None."""
    known = list(known)
    for word in given:
        if word not in known:
            return TypeError(
                f"{where} got an unexpected keyword argument `{word}`.{did_you_mean(word, known)} "
                f"Accepted: {', '.join(known)}."
            )
    return None


def suggest_keywords(func: F) -> F:
    """Decorate a function or class so that a misspelt keyword is a `TypeError` with a suggestion.

    Python's own message names the wrong word only; this one also names the
    closest accepted keyword (``tolerence`` -> ``tolerance``). A class gets
    its ``__init__`` checked.
    """
    if isinstance(func, type):
        init = vars(func)["__init__"]
        known = [p for p in inspect.signature(init).parameters if p != "self"]
        setattr(func, "__init__", _checked(init, func.__name__, known))  # noqa: B010 - a class attribute
        return func
    sig = inspect.signature(func)
    known = [p.name for p in sig.parameters.values() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        raise TypeError(f"{func.__qualname__} takes **kwargs: nothing to check")
    return _checked(func, func.__qualname__, known)  # type: ignore[return-value]


def _checked(func: Callable[..., Any], name: str, known: list[str]) -> Callable[..., Any]:
    @functools.wraps(func)
    def checked(*args: Any, **kwargs: Any) -> Any:
        error = unknown_keywords(kwargs, known, f"{name}()")
        if error is not None:
            raise error
        return func(*args, **kwargs)

    return checked
