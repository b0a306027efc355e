"""``mc experiment run`` and ``mc experiment check``: TOML experiment files.

Every bad input is one ``Error:`` line naming the file (or the command
line), the key and the value, with exit status 2; a missed expectation exits
with status 1. Text from the files reaches the terminal with its control
characters escaped (`montecarlo.reports.text.printable`).
"""

from __future__ import annotations

import os
from typing import Any

import click

from montecarlo.cli.common import (
    Failed,
    SectionedCommand,
    SectionOption,
    UsageFailure,
    model_output_to_stderr,
    vocabulary_options,
)


def _overrides(values: dict[str, Any], params: tuple[str, ...], settings: tuple[str, ...]) -> dict:
    """Command-line values that replace the file's, by file key, as recorded in the result."""
    import tomllib

    from montecarlo.core.vocabulary import BY_NAME, cli_message
    from montecarlo.errors import ValidationError

    out: dict[str, Any] = {}
    for name, value in values.items():
        if value is not None:
            try:  # recorded as typed values, as a file would hold them
                out[BY_NAME[name].file_key or name] = BY_NAME[name].parse(value)
            except ValidationError as exc:
                raise UsageFailure(cli_message(exc)) from None
    for item in settings:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise UsageFailure(
                f'--set {item!r} is not of the form KEY=VALUE (VALUE in TOML syntax, such as 0.99 or "t").'
            )
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text  # a bare word: take it as a string
        out[key.strip()] = value
    if params:
        fixed: dict[str, str] = {}
        for item in params:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise UsageFailure(f"--param {item!r} is not of the form NAME=VALUE.")
            if key.strip() in fixed:
                raise UsageFailure(f"--param {key.strip()} is given twice; give it once.")
            fixed[key.strip()] = value  # parsed by the model's parameter types
        out["params"] = fixed
    return out


def _expanded(files: tuple[str, ...]) -> list[str]:
    """The files given, a folder standing for the ``*.toml`` files directly in it, in name order."""
    out: list[str] = []
    for f in files:
        if not os.path.isdir(f):
            out.append(f)
            continue
        found = sorted(e.path for e in os.scandir(f) if e.name.endswith(".toml") and e.is_file())
        if not found:
            raise UsageFailure(f"{f}: a folder with no .toml file; accepted: experiment files, or a folder of them.")
        out += found
    return out


def _load_all(files: tuple[str, ...], overrides: dict) -> list:
    """Validate every file before running any (a typo in the last file fails at once)."""
    from montecarlo.experiments import ExperimentError, load_experiment
    from montecarlo.experiments.analysis import KINDS, refuse_foreign

    try:
        exps = [load_experiment(f, overrides) for f in _expanded(files)]
    except ExperimentError as exc:
        raise UsageFailure(str(exc)) from None
    # A command-line key some files' analysis does not take is left out for them; one that no file takes is an error.
    for key in overrides:
        if all(key in e.ignored for e in exps):
            kind = KINDS[(exps[0].analysis or {}).get("name")]
            raise UsageFailure(str(refuse_foreign(kind, key, "command line")))
    return exps


def _override_options(f: Any) -> Any:
    options = [
        click.option("-n", "--samples", default=None, metavar="N", help="Samples per point (replaces the file's)."),
        click.option("-s", "--seed", "rng", default=None, metavar="SEED", help="Root seed (replaces the file's)."),
        vocabulary_options(["execution"]),
        click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="Model parameter (repeatable)."),
        click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="Any top-level key, VALUE in TOML syntax (repeatable)."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar."),
    ]  # fmt: skip
    for option in reversed(options):
        f = option(f)
    return f


def _check_caches(exps: list) -> None:
    """The cache of every file is usable (a folder that is a cache, a valid size), before anything runs."""
    from montecarlo.errors import ValidationError
    from montecarlo.records.cache import Cache

    for exp in exps:
        cache = exp.execution.cache
        if cache:
            try:
                Cache(cache if isinstance(cache, str) else None)
            except ValidationError as exc:
                raise UsageFailure(f"{exp.path}: {exc}") from None


def _run_all(exps: list, quiet: bool, output_dir: str | None) -> list:
    import dataclasses

    from montecarlo.engine.progress import ProgressBar
    from montecarlo.experiments import ExperimentError, check_output_dir, run_experiment
    from montecarlo.experiments.record import WRITING
    from montecarlo.reports.text import printable

    if output_dir is not None:
        try:
            check_output_dir(output_dir)
        except ExperimentError as exc:
            raise UsageFailure(str(exc)) from None
    _check_caches(exps)
    results = []
    for exp in exps:
        bar = None if quiet else ProgressBar()
        try:
            with model_output_to_stderr():
                # With an output folder each point is recorded as it finishes and an unfinished
                # folder of the same points is resumed; the result folder is written last.
                res = run_experiment(
                    exp, execution=dataclasses.replace(exp.execution, progress=bar), output_dir=output_dir
                )
        except (ImportError, ConnectionError) as exc:  # dask missing, or no scheduler at the address
            raise UsageFailure(str(exc)) from None
        except OSError as exc:
            if WRITING not in getattr(exc, "__notes__", ()):
                raise
            _say_notes(exc)  # where the finished points are kept
            raise click.ClickException(
                f"--output-dir {output_dir!r}: cannot write the result folder ({exc})."
            ) from None
        except Exception as exc:  # reported by the command's handler; where the finished points are kept, here
            _say_notes(exc)
            raise
        finally:
            if bar is not None:
                bar.close()
        click.echo(res.table())
        resumed = res.provenance.get("resumed")
        if resumed:
            click.echo(f"{resumed} of {len(res.points)} points taken from an unfinished run of this experiment")
        if res.folder is not None:
            click.echo(printable(f"wrote {res.folder}"))  # the folder is named after the experiment
        click.echo("")
        results.append((exp, res))
    return results


def _say_notes(exc: BaseException) -> None:
    from montecarlo.experiments.record import WRITING
    from montecarlo.reports.text import printable

    for note in getattr(exc, "__notes__", ()):
        if note != WRITING:
            click.echo(printable(note), err=True)


@click.group("experiment")
def experiment_group() -> None:
    """Run or check experiment files (TOML; see docs/experiments.md)."""


@experiment_group.command("run", cls=SectionedCommand)
@click.argument("files", nargs=-1, required=True, metavar="FILE|FOLDER...")
@click.option(
    "-o", "--output-dir", default="results", show_default=True, metavar="DIR",
    help="Result folders go to DIR/<experiment>/<UTC time>-<config hash>/.", cls=SectionOption, section="Output",
)  # fmt: skip
@_override_options
def run_cmd(
    files: tuple[str, ...],
    output_dir: str,
    params: tuple[str, ...],
    settings: tuple[str, ...],
    quiet: bool,
    **values: Any,
) -> None:
    """Run each experiment FILE (a FOLDER: its *.toml files) and write its result folder."""
    exps = _load_all(files, _overrides(values, params, settings))
    _run_all(exps, quiet, output_dir)


@experiment_group.command("show")
@click.argument("result_file", metavar="RESULT.json")
def show_cmd(result_file: str) -> None:
    """Print the table of an experiment's result again (its result.json, or its folder)."""
    from montecarlo.analyses.reading import load
    from montecarlo.errors import ResultFormatError
    from montecarlo.records.experiment_result import ExperimentResult

    try:
        res = load(result_file)
    except ResultFormatError as exc:  # it names the path
        raise UsageFailure(str(exc)) from None
    if not isinstance(res, ExperimentResult):
        raise UsageFailure(
            f"{result_file}: a result of `mc run`, not of an experiment; accepted: an experiment's result.json."
        )
    click.echo(res.table())


@experiment_group.command("check", cls=SectionedCommand)
@click.argument("files", nargs=-1, required=True, metavar="FILE|FOLDER...")
@click.option("-o", "--output-dir", default=None, metavar="DIR", help="Also write result folders to DIR.")
@_override_options
def check_cmd(
    files: tuple[str, ...],
    output_dir: str | None,
    params: tuple[str, ...],
    settings: tuple[str, ...],
    quiet: bool,
    **values: Any,
) -> None:
    """Run each FILE (a FOLDER: its *.toml files) and verify its [expect] values lie in the confidence intervals."""
    from montecarlo.experiments.tables import label
    from montecarlo.reports.table import check_miss
    from montecarlo.reports.text import printable

    exps = _load_all(files, _overrides(values, params, settings))
    for exp in exps:
        if not exp.has_expectations:
            raise UsageFailure(
                f"{exp.path}: no [expect] table, nothing to check; accepted: a file with [expect] values."
            )
    misses = []
    for exp, res in _run_all(exps, quiet, output_dir):
        for point, c in res.misses:
            where = f" point {point.index} ({label(point.swept)}):" if point.swept else ""
            misses.append(f"{exp.path}:{where} {check_miss(c)}")
    checked = sum(len(p.expect) for e in exps for p in e.points)
    if misses:
        for line in misses:
            click.echo(printable(f"MISS {line}"), err=True)
        raise Failed(f"{len(misses)} of {checked} expected values missed.")
    click.echo(f"all {checked} expected values lie within their intervals ({len(exps)} file(s)).")
