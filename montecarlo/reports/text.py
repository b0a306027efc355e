r"""Text from files, made safe to print on a terminal: control characters shown escaped.

A name, a description or a value read from a file may hold characters a
terminal acts on instead of showing: ESC and the other C0 and C1 controls
(a title change ``\x1b]0;...\x07``, a screen clear ``\x1b[2J``, a carriage
return that writes over a line), DEL, and the invisible format characters
that reorder what follows them (bidi overrides U+202A-U+202E, isolates
U+2066-U+2069). `printable` shows each as an escape (``\x1b``, ``\u202e``);
letters of any script (é, π, 中) and spaces stay as they are.
"""

from __future__ import annotations

__all__ = ["printable"]

#: Escapes of the controls a reader knows by name.
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

#: Format characters that join letters into one glyph (emoji sequences, Persian, Indic scripts): shown as they are.
_JOINERS = frozenset("\u200c\u200d")

#: Unicode categories a terminal does not show as a glyph: controls, format characters, surrogates, line separators.
_HIDDEN = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))


def printable(text: object, keep: str = "") -> str:
    r"""``text`` with every character a terminal would act on, rather than show, escaped.

    Parameters
    ----------
    text : object
        Text (anything else is shown as its ``str``).
    keep : str
        Controls to leave as they are, such as ``"\n"`` for text of several
        lines whose line breaks are meant.

    Examples
    --------
    >>> printable("a\x1b]0;title\x07b")
    'a\\x1b]0;title\\x07b'
    >>> printable("\u202eevil")
    '\\u202eevil'
    >>> printable("π ≈ 3.14, café, 中")
    'π ≈ 3.14, café, 中'
    >>> printable("two\nlines", keep="\n")
    'two\nlines'
    """
    text = str(text)
    if text.isprintable():  # the common case: nothing to escape
        return text
    from unicodedata import category

    out = []
    for ch in text:
        if ch in keep or ch in _JOINERS or (ch.isprintable() or category(ch) not in _HIDDEN):
            out.append(ch)
        else:
            out.append(_escape(ch))
    return "".join(out)


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
