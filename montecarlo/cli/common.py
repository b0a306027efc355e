"""What every ``mc`` command shares: exit codes, option groups from the vocabulary, help layout.

Command-line options are built from `montecarlo.core.vocabulary.OPTIONS`, so the
``mc run`` options, the Python keywords and the experiment-file keys are one
list. Values reach the library as typed; the option objects validate them,
and a `montecarlo.errors.ValidationError` becomes one line naming the option
(`usage_error`). Only click and the numpy-free vocabulary load here, so
``mc --help`` is quick.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import click

from montecarlo.core.vocabulary import OPTIONS, SECTIONS, Option, cli_message
from montecarlo.errors import ValidationError

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

EXIT_CODES = (
    "Exit codes: 0 success (also when a stopping run reaches its cap); 1 the run failed (a model "
    "error names its block and spawn key); 2 usage error; 130 Ctrl-C; 143 SIGTERM."
)


class UsageFailure(click.ClickException):
    """Bad input (a file, a key, a value): one line, exit status 2."""

    exit_code = EXIT_USAGE


class Failed(click.ClickException):
    """The work ran but its claim does not hold (a missed expectation, a mismatch)."""

    exit_code = EXIT_FAILED


def usage_error(exc: ValidationError, ctx: click.Context | None = None) -> click.UsageError:
    """A `ValidationError` as a one-line usage error naming the command-line option."""
    return click.UsageError(cli_message(exc), ctx)


class SectionOption(click.Option):
    """A click option listed under a section heading in ``--help``."""

    def __init__(self, *args: Any, section: str = "Options", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.section = section


class SectionedCommand(click.Command):
    """A command whose ``--help`` lists options by section, then examples and exit codes."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Options under their section headings, in the order the sections first appear."""
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
            if record is not None:
                sections.setdefault(getattr(param, "section", "Other options"), []).append(record)
        sections["Other options"] = sections.pop("Other options", [])  # last
        for name, records in sections.items():
            with formatter.section(name):
                formatter.write_dl(records)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The epilog, with its line breaks kept."""
        if self.epilog:
            formatter.write_paragraph()
            for line in self.epilog.split("\n"):
                formatter.write_text(line) if line else formatter.write_paragraph()


class Passthrough(click.ParamType):
    """Text handed to the library as typed (it validates); completes ``choices`` in the shell."""

    def __init__(self, metavar: str, choices: Iterable[str] = ()) -> None:
        self.name = metavar
        self.choices = tuple(choices)

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        """``[a|b|c]`` for a choice, else the placeholder."""
        return "[" + "|".join(self.choices) + "]" if self.choices else self.name

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        """The choices that start with what was typed."""
        from click.shell_completion import CompletionItem

        return [CompletionItem(c) for c in self.choices if c.startswith(incomplete)]


def click_option(option: Option, section: str | None = None) -> Callable[[Any], Any]:
    """The click option for one vocabulary `Option`."""
    decls = [d for d in (option.short, option.cli) if d]
    kwargs: dict[str, Any] = {
        "help": option.help_text,
        "section": section or SECTIONS[option.group],
        "cls": SectionOption,
    }
    if option.is_flag and option.group == "execution":  # a setting with two spellings: --cache/--no-cache
        return click.option(f"{option.cli}/--no-{option.cli[2:]}", option.name, default=None, **kwargs)
    if option.is_flag:
        return click.option(*decls, option.name, is_flag=True, default=None, **kwargs)
    return click.option(
        *decls,
        option.name,
        type=Passthrough(option.metavar, option.choices),
        metavar=option.metavar if not option.choices else None,
        multiple=option.multiple,
        default=None,
        **kwargs,
    )


def vocabulary_options(groups: Iterable[str], only: Iterable[str] = ()) -> Callable[[Any], Any]:
    """Decorate a command with the vocabulary's options of ``groups`` (or the names in ``only``)."""
    wanted = [o for o in OPTIONS if o.group in set(groups) or o.name in set(only)]

    def decorate(f: Any) -> Any:
        for option in reversed(wanted):
            f = click_option(option)(f)
        return f

    return decorate


def parse_params(items: Iterable[str]) -> dict[str, str]:
    """``NAME=VALUE`` items of ``-p``; a name given twice is an error."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.UsageError(f"-p {item} is not of the form NAME=VALUE.")
        if key in out:
            raise click.UsageError(f"-p {key} is given twice ({out[key]!r} and {value!r}); give it once.")
        out[key] = value
    return out


def param_option(f: Any) -> Any:
    """``-p/--param NAME=VALUE`` (repeatable)."""
    return click.option(
        "-p", "--param", "params", multiple=True, metavar="NAME=VALUE", cls=SectionOption,
        section="Sampling", help="Model parameter (repeatable); see `mc show MODEL`.",
    )(f)  # fmt: skip


def complete_models(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Shell completion of built-in model names."""
    from click.shell_completion import CompletionItem

    from montecarlo.models.registry import BUILTIN

    return [CompletionItem(name) for name in sorted(BUILTIN) if name.startswith(incomplete)]


def replay_command(spec: Any, block: int) -> str:
    """The ``mc run`` command that replays ``block`` of ``spec`` (a spec without a spawn-key prefix)."""
    import shlex

    words = ["mc", "run", spec.model, "-n", str(spec.samples), "--seed", str(spec.entropy)]
    for name, value in spec.params.items():
        words += ["-p", f"{name}={value}"]
    words += ["--bit-generator", spec.bit_generator, "--block-size", str(spec.block_size)]
    words += ["--batch-size", str(spec.batch_size), "--replay-block", str(block)]
    return " ".join(shlex.quote(w) for w in words)


def check_output(path: str | None, option: str) -> str | None:
    """A file the command writes at the end must be writable before anything runs.

    Returns the absolute path, so that a model that changes the working
    directory cannot move where the file goes.
    """
    if path is None:
        return None
    import os

    from montecarlo.records.files import check_writable

    try:
        check_writable(path, option)
    except ValidationError as exc:
        raise click.UsageError(exc.format(option)) from None
    return os.path.abspath(path)


def check_distinct(paths: dict[str, str | None]) -> None:
    """Two options of one command must not name the same file (one would overwrite the other)."""
    import os

    seen: dict[str, str] = {}
    for option, path in paths.items():
        if path is None:
            continue
        real = os.path.realpath(path)
        if real in seen:
            raise click.UsageError(
                f"{option} {path} is the file {seen[real]} names too; accepted: a file of its own for each."
            )
        seen[real] = option


def check_outputs(output: str | None, plot: str | None, checkpoint: str | None) -> tuple[str | None, str | None]:
    """``mc run``'s files, checked before the run: ``(output, plot)`` as absolute paths.

    ``--plot`` is checked as its value is read (`PlotPath`); none of the
    three may name the file another names.
    """
    import os

    check_distinct({"--checkpoint": checkpoint, "--output": output, "--plot": plot})
    output = check_output(output, "--output")
    return output, os.path.abspath(plot) if plot is not None else None


@contextlib.contextmanager
def running(ctx: click.Context, checkpoint: str | None, saved: Callable[[str], str]) -> Iterator[None]:
    """Around a run a command starts: what models print goes to stderr, and its failures read as the command's.

    A Ctrl-C or SIGTERM gets a note: what the checkpoint ``checkpoint``
    holds (``saved(path)``, a sentence starting with "checkpoint" when one
    was saved) and the command that resumes the run. A `ValidationError`
    (a checkpoint that exists, is missing for ``--resume`` or belongs to
    another run), a missing Dask or an unreachable scheduler exit 2 as
    usage errors.
    """
    try:
        with model_output_to_stderr():  # stdout is for the result
            yield
    except KeyboardInterrupt as exc:
        if checkpoint is not None:
            exc.add_note(resume_note(ctx, saved(checkpoint)))
        raise
    except ValidationError as exc:
        raise usage_error(exc, ctx) from None
    except (ImportError, ConnectionError) as exc:  # dask not installed, or no scheduler at the address
        raise click.UsageError(str(exc), ctx) from None


def resume_note(ctx: click.Context, saved: str) -> str:
    """``saved`` (what the checkpoint holds) and, when one was saved, the command that resumes the run."""
    import shlex

    if not saved.startswith("checkpoint"):
        return saved
    argv = list(ctx.obj.get("argv") or [])
    command = shlex.join(["mc", *argv, *([] if "--resume" in argv else ["--resume"])])
    return f"{saved}; resume with: {command}"


@contextlib.contextmanager
def model_output_to_stderr() -> Iterator[None]:
    """While models run, what they print goes to stderr: stdout carries the result alone (``--json`` parses).

    Both Python's ``sys.stdout`` and file descriptor 1 are pointed at
    stderr, so worker processes started meanwhile, and C code, write there
    too.
    """
    import os
    import sys

    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no descriptor 1 (a closed stdout): nothing to protect
        yield
        return
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 1)
        os.close(saved)


def save_result(result: Any, path: str | None, option: str) -> None:
    """Write a result file after the result is shown, so a full disk loses nothing on screen."""
    if path is None:
        return
    try:
        result.save(path)
    except OSError as exc:
        raise click.ClickException(
            f"cannot write {option} {path!r}: {exc.strerror or exc}; the result above is complete, "
            "and an earlier file of that name is intact."
        ) from None


def require_matplotlib() -> None:
    """Fail before anything runs when a plot is asked for and matplotlib is missing (a usage error: exit 2)."""
    from montecarlo.reports.plot import MatplotlibMissing, _matplotlib

    try:
        _matplotlib()
    except MatplotlibMissing as exc:
        raise UsageFailure(str(exc)) from None


class PlotPath(click.ParamType):
    """A file name ending in .png, .svg or .pdf, in a writable folder."""

    name = "FILE"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        """The path, checked before anything runs."""
        formats = ("png", "svg", "pdf")
        ext = str(value).rsplit(".", 1)[-1].lower() if "." in str(value) else ""
        if ext not in formats:
            self.fail(
                f"{value!r} has no plot file extension; accepted: a file name ending in "
                f"{', '.join('.' + f for f in formats)}.",
                param,
                ctx,
            )
        from montecarlo.records.files import check_writable

        try:
            check_writable(str(value), "plot")
        except ValidationError as exc:
            self.fail(f"{value!r} {exc.problem}; accepted: {exc.accepted}.", param, ctx)
        return str(value)
