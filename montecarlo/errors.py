"""Every exception montecarlo raises, in one place at the bottom of the layers, under one root.

``except montecarlo.MonteCarloError`` catches them all; each also keeps the
builtin base that says what kind of failure it is (``except ValueError``
still catches bad input)::

    MonteCarloError
    ├── ValidationError (ValueError)     bad input: the argument, the value, what is accepted
    │   ├── ParameterError               a model parameter
    │   ├── ModelNotFoundError (LookupError)
    │   ├── UnknownNameError (KeyError)  an output or estimate name that is not there
    │   ├── PlotError                    a plot that cannot be drawn from what was given
    │   └── InputError                   input described by one line: a file, an experiment
    │       ├── CheckpointError          a checkpoint that cannot be used for this run
    │       ├── ResultFormatError        a file that is not a result this release reads
    │       └── ExperimentError          a bad experiment file or override
    ├── FileProblem (ValueError)         why a file cannot be read back, as a phrase
    ├── ModelError (RuntimeError)        the model failed in a block (names the block)
    ├── WorkerDiedError (RuntimeError)
    ├── TimeLimitError (RuntimeError)
    ├── NoSpaceError (OSError)
    ├── CheckpointWriteError (OSError)
    ├── SingularMatrixError (ArithmeticError)
    └── MatplotlibMissing (ImportError)
    MonteCarloWarning (UserWarning)
    └── OversubscriptionWarning

Input problems are `ValidationError` records: the argument, the value given
and what is accepted. Validation raises them once, before any worker starts;
each entry point formats the same record its own way (a Python keyword, a
command-line option, a key of an experiment file), so no message is ever
rewritten by string replacement. Two more classes are signals rather than
errors, and so not under the root: `Terminated` (SIGTERM, a
`KeyboardInterrupt`) and `ExitAtImport` (a module calling ``os._exit``
while it is imported).
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable
from typing import Any

#: Longest text of another's message (a model's exception) that one line quotes.
ONE_LINE = 300


def one_line(text: object, limit: int = ONE_LINE) -> str:
    r"""``text`` on one line: whitespace runs (newlines too) become one space; long text is cut.

    Examples
    --------
    >>> one_line("line one\n  line two")
    'line one line two'
    >>> one_line("x" * 10, limit=6)
    'xxx...'
    """
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class MonteCarloError(Exception):
    """The root of every error montecarlo raises (each also keeps its builtin base)."""


class MonteCarloWarning(UserWarning):
    """The root of montecarlo's warnings."""


class ValidationError(MonteCarloError, ValueError):
    """An input that is not accepted, named by the argument it was given as.

    Parameters
    ----------
    argument : str
        The option's name in the shared vocabulary (`montecarlo.core.vocabulary`),
        which is the Python keyword and the experiment-file key (for a
        `ParameterError`, the model parameter's name).
    value : object
        The value as given.
    accepted : str
        What is accepted, as a phrase (``"an integer >= 1"``).
    problem : str, optional
        Why the value is refused when "not accepted" says too little
        (``"is larger than the cap"``). Another option it names is written
        ``{option_name}`` and spelt the entry point's way by `format`.

    Attributes
    ----------
    argument, value, accepted, problem
        As given; `format` builds the message from them.

    Examples
    --------
    >>> err = ValidationError("samples", 0, "an integer >= 1")
    >>> str(err)
    '`samples` = 0 is not accepted; accepted: an integer >= 1.'
    >>> err.format("--samples")
    '--samples 0 is not accepted; accepted: an integer >= 1.'
    """

    def __init__(self, argument: str, value: Any, accepted: str, problem: str = "is not accepted") -> None:
        super().__init__(argument, value, accepted, problem)
        self.argument = argument
        self.value = value
        self.accepted = accepted
        self.problem = problem

    def shown_value(self) -> str:
        """The value as the message shows it (long values are cut)."""
        text = repr(self.value)
        return text if len(text) <= 80 else text[:77] + "..."

    def format(self, name: str | None = None, spell: Callable[[str], str] | None = None) -> str:
        """The message, with the argument shown as ``name``.

        ``name`` is how the entry point spells the argument: ``"--samples"``
        on the command line (shown as ``--samples VALUE``), a backquoted
        keyword otherwise (shown as ``name = VALUE``). ``spell`` spells the
        other options the problem names (default: backquoted).
        """
        if name is None:
            name = self.default_name()
        spell = spell or (lambda other: f"`{other}`")
        problem = re.sub(r"\{(\w+)\}", lambda m: spell(m.group(1)), self.problem)
        accepted = re.sub(r"\{(\w+)\}", lambda m: spell(m.group(1)), self.accepted)
        if self.value is None:  # nothing was given: the problem is its absence
            return f"{name} {problem}; accepted: {accepted}."
        if name.startswith("-"):  # a command-line option: its text as typed
            shown = self.value if isinstance(self.value, str) and self.value else self.shown_value()
            return f"{name} {shown} {problem}; accepted: {accepted}."
        return f"{name} = {self.shown_value()} {problem}; accepted: {accepted}."

    def default_name(self) -> str:
        """How Python code and experiment files name the argument: ```samples```."""
        return f"`{self.argument}`"

    def __str__(self) -> str:
        return self.format()


class ParameterError(ValidationError):
    """A model parameter that is unknown, missing, of the wrong type or out of range.

    ``argument`` is the parameter's name. A model's ``check(**params)``
    function raises it for combinations that ranges cannot express.

    Examples
    --------
    >>> str(ParameterError("start", 12, "an integer in [1, 9] (below `goal` = 10)", "is out of range"))
    'parameter `start` = 12 is out of range; accepted: an integer in [1, 9] (below `goal` = 10).'
    """

    def default_name(self) -> str:
        """``parameter `name```."""
        return f"parameter `{self.argument}`"


class ModelNotFoundError(ValidationError, LookupError):
    """A model name or ``"package.module:function"`` reference that does not resolve."""


class UnknownNameError(ValidationError, KeyError):
    """An output, derived estimate or control-variate name that a result or model does not have."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.format()


class PlotError(ValidationError):
    """A plot that cannot be drawn from what was given: names the argument, the value and what is accepted."""


class InputError(ValidationError):
    """Bad input described by one line: a file, an experiment, a combination of options.

    Parameters
    ----------
    message : str
        The whole message, naming the file (or option), the value and what
        is accepted.
    argument : str
        What was given: ``"checkpoint"``, ``"result"``, ``"experiment"``.
    """

    def __init__(self, message: str, argument: str = "input") -> None:
        super().__init__(argument, None, "", message)
        self.args = (message,)
        self.message = message

    def format(self, name: str | None = None, spell: Callable[[str], str] | None = None) -> str:
        """The message, whoever shows it (it names what it is about)."""
        return self.message


class ModelError(MonteCarloError, RuntimeError):
    """The model failed in one block: it raised, or returned a wrong shape or non-finite values.

    Deterministic: re-running the block gives the same failure, so it is never
    retried. ``block`` and ``spawn_key`` identify the block so that it can be
    replayed in-process with `montecarlo.replay_block`.

    Parameters
    ----------
    message : str
        One line: what went wrong, the block index and its spawn key.
    block : int
        Index of the failing block.
    spawn_key : tuple of int
        The block's spawn key (the run's prefix, then the block index).
    detail : str, optional
        The model's own traceback, formatted where the block ran.

    Attributes
    ----------
    seed : int or None
        The run's root entropy, set by the engine (the block is
        ``SeedSequence(seed, spawn_key=spawn_key)``).
    spec : RunSpec or None
        The run's `RunSpec`, set by the engine (replay the block with
        ``montecarlo.replay_block(error.spec, error.block)``).
    """

    def __init__(self, message: str, block: int, spawn_key: tuple[int, ...], detail: str = "") -> None:
        super().__init__(message, block, spawn_key, detail)
        self.message = message
        self.block = block
        self.spawn_key = tuple(spawn_key)
        self.detail = detail
        self.seed: int | None = None
        self.spec: Any = None

    def __str__(self) -> str:
        return self.message


class WorkerDiedError(MonteCarloError, RuntimeError):
    """Worker processes kept dying; the blocks they held could not be completed."""


class TimeLimitError(MonteCarloError, RuntimeError):
    """The time limit passed before a single block was folded: there is no estimate to report."""


class CheckpointError(InputError):
    """A checkpoint file that cannot be used for this run (the file is left untouched)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "checkpoint")


class NoSpaceError(MonteCarloError, OSError):
    """The disk or the quota is full: a failure of the machine, not of the input (exit status 1, not 2)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no space left on the device"


#: errno values that mean "no room": the disk, or the user's quota, is full.
NO_SPACE = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


class CheckpointWriteError(MonteCarloError, OSError):
    """The checkpoint could not be written (disk full, folder gone, ...)."""


class FileProblem(MonteCarloError, ValueError):
    """Why a file cannot be read back, as a phrase (``"is a FIFO (named pipe), not a regular file"``)."""


class ResultFormatError(InputError):
    """A file that is not a montecarlo result of a version this release reads."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "result")


class ExperimentError(InputError):
    """A bad experiment file or command-line override; the message is one line naming the file and the key."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "experiment")


class SingularMatrixError(MonteCarloError, ArithmeticError):
    """A matrix with no inverse in floating point (a constant or collinear control variate)."""


class MatplotlibMissing(MonteCarloError, ImportError):
    """matplotlib is not installed (plots need the ``plot`` extra)."""


class OversubscriptionWarning(MonteCarloWarning):
    """More worker processes asked for than there are cores: they add start-up time and memory, not speed."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that a run stops as on Ctrl-C (a signal, not an error)."""


class ExitAtImport(BaseException):
    """``os._exit(code)`` called by a model's module while it is imported (raised instead of ending the process)."""

    def __str__(self) -> str:
        return f"os._exit({self.args[0]})"
