"""One plug-in style: a registry of names, each naming a factory (a class or a function).

Executors (`montecarlo.register_backend`), stopping rules
(`montecarlo.register_rule`), accumulator parts (`montecarlo.register_part`)
and built-in models are found by name in a `Registry`. A file records a rule
or a part by its name and is read back by looking the name up here: reading
a file never imports a module a file names.

The built-in entries are written into each registry where it is made, as
``"package.module:attribute"`` references that are imported when the entry
is first asked for: so every built-in name is known whatever was imported
before (a checkpoint read in a fresh interpreter finds every part), and
asking for one name loads only its module (``mc --help`` stays quick).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from montecarlo.core.validate import closest
from montecarlo.errors import ValidationError


class Registry:
    """Names mapped to factories, some of them given as ``"module:attribute"`` references.

    Parameters
    ----------
    kind : str
        What the names name (``"executor"``, ``"stopping rule"``), for messages.
    builtin : mapping of str to object or str, optional
        The built-in entries; a string is a ``"module:attribute"`` reference,
        imported at first use.
    check : callable, optional
        ``check(name, factory)`` raises for a factory this registry does not
        accept (called on registration and on first use of a reference).

    Examples
    --------
    >>> r = Registry("shape", {"square": "builtins:str"})
    >>> r.register("circle", dict)
    >>> r.names()
    ('square', 'circle')
    >>> r.get("square") is str
    True
    >>> r.get("sqare")
    Traceback (most recent call last):
    ...
    montecarlo.errors.ValidationError: `shape` = 'sqare' is not accepted (did you mean `square`?); accepted: one of square, circle.
    """

    def __init__(
        self, kind: str, builtin: Mapping[str, Any] | None = None, check: Callable[[str, Any], None] | None = None
    ) -> None:
        self.kind = kind
        self._check = check
        self._entries: dict[str, Any] = dict(builtin or {})

    def register(self, name: str, factory: Any, *, replace: bool = False) -> None:
        """Register ``factory`` under ``name`` (another factory of that name only with ``replace``)."""
        if not isinstance(name, str) or not name.isidentifier():
            raise ValidationError("name", name, f"a {self.kind} name that is a Python identifier")
        if self._check is not None:
            self._check(name, factory)
        taken = self._entries.get(name)
        if taken is not None and not replace and self._resolve(name) is not factory and not _same(taken, factory):
            raise ValidationError(
                "name", name, f"a {self.kind} name of its own (or replace=True)", f"is taken by {self._resolve(name)!r}"
            )
        self._entries[name] = factory

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a built-in name too: it is then unknown until registered again)."""
        self._entries.pop(self.require(name))

    def require(self, name: Any, argument: str | None = None) -> str:
        """``name``, if it is registered (nothing is imported); else a `ValidationError` naming the registered ones."""
        if not isinstance(name, str) or name not in self._entries:
            near = closest(str(name), self._entries)
            raise ValidationError(
                argument or self.kind.replace(" ", "_"), name, "one of " + ", ".join(self.names()),
                "is not accepted" + (f" (did you mean `{near}`?)" if near else ""),
            )  # fmt: skip
        return name

    def get(self, name: str) -> Any:
        """The factory of ``name`` (a `ValidationError` naming the registered ones if there is none)."""
        return self._resolve(self.require(name))

    def _resolve(self, name: str) -> Any:
        entry = self._entries[name]
        if isinstance(entry, str):
            module, _, attr = entry.partition(":")
            entry = getattr(importlib.import_module(module), attr)
            if self._check is not None:
                self._check(name, entry)
            self._entries[name] = entry
        return entry

    def names(self) -> tuple[str, ...]:
        """Every registered name, in the order they were registered (the built-in ones first)."""
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def _same(a: Any, b: Any) -> bool:
    """The same class defined again (a notebook cell run twice replaces its own registration)."""
    return (getattr(a, "__module__", None), getattr(a, "__qualname__", None)) == (
        getattr(b, "__module__", None),
        getattr(b, "__qualname__", None),
    )
