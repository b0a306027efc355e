"""The ``mc experiment run``, ``mc experiment check`` and ``mc reproduce`` commands.

They only parse arguments and call `montecarlo.experiments`. Every bad input
is one ``Error:`` line naming the file, key and value, with exit status 2;
a missed expectation or a reproduction mismatch exits with status 1.
"""

from __future__ import annotations

import math
import tomllib
from typing import Any

import click

from montecarlo.cli import EXIT_FAILED, EXIT_USAGE, PositiveInt, SamplesType

EXECUTOR_CHOICE = click.Choice(["processes", "threads", "serial"])


class InputError(click.ClickException):
    """Bad input (a file, a key, a value): one line, exit status 2."""

    exit_code = EXIT_USAGE


class Failed(click.ClickException):
    """The work ran but its claim does not hold (a missed expectation, a mismatch)."""

    exit_code = EXIT_FAILED


def _overrides(
    samples: Any, seed: Any, workers: Any, executor: Any, params: tuple[str, ...], settings: tuple[str, ...]
) -> dict:
    """Command-line values that replace the file's, as recorded in the result."""
    out: dict[str, Any] = {}
    for key, value in (("samples", samples), ("seed", seed), ("workers", workers), ("executor", executor)):
        if value is not None:
            out[key] = value
    for item in settings:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise InputError(
                f'--set {item!r} is not of the form KEY=VALUE (VALUE in TOML syntax, such as 0.99 or "t").'
            )
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text  # a bare word: take it as a string
        out[key.strip()] = value
    if params:
        fixed = {}
        for item in params:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise InputError(f"--param {item!r} is not of the form NAME=VALUE.")
            fixed[key.strip()] = value  # parsed by the model's parameter types
        out["params"] = fixed
    return out


def _load_all(files: tuple[str, ...], overrides: dict) -> list:
    """Validate every file before running any (a typo in the last file fails at once)."""
    from montecarlo.experiments import ExperimentError, load_experiment

    try:
        return [load_experiment(f, overrides) for f in files]
    except ExperimentError as exc:
        raise InputError(str(exc)) from None


def _overrides_options(f: Any) -> Any:
    options = [
        click.option(
            "-n",
            "--samples",
            type=SamplesType(),
            default=None,
            help="Samples per point (replaces the file's `samples`).",
        ),
        click.option(
            "-s", "--seed", type=click.IntRange(min=0), default=None, help="Root seed (replaces the file's `seed`)."
        ),
        click.option(
            "-w",
            "--workers",
            type=PositiveInt(),
            default=None,
            help="Parallel workers  [default: the file's, else all cores]",
        ),
        click.option("--executor", type=EXECUTOR_CHOICE, default=None, help="Where blocks run (same numbers for all)."),
        click.option(
            "-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="Model parameter (repeatable)."
        ),
        click.option(
            "--set",
            "settings",
            multiple=True,
            metavar="KEY=VALUE",
            help="Any top-level key, VALUE in TOML syntax (repeatable).",
        ),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _run_all(exps: list, quiet: bool, output_dir: str | None) -> list:
    from montecarlo.experiments import ExperimentError, check_output_dir, run_experiment, write_folder
    from montecarlo.progress import ProgressBar

    if output_dir is not None:
        try:
            check_output_dir(output_dir)
        except ExperimentError as exc:
            raise InputError(str(exc)) from None
    results = []
    for exp in exps:
        bar = None if quiet else ProgressBar()
        try:
            res = run_experiment(exp, progress=bar)
        finally:
            if bar is not None:
                bar.close()
        click.echo(format_experiment(exp, res))
        if output_dir is not None:
            try:
                folder = write_folder(res, output_dir)
            except OSError as exc:
                raise InputError(f"--output-dir {output_dir!r}: cannot write the result folder ({exc}).") from None
            click.echo(f"wrote {folder}")
        click.echo("")
        results.append((exp, res))
    return results


@click.group("experiment")
def experiment_group() -> None:
    """Run or check experiment files (TOML; see docs/experiments.md)."""


@experiment_group.command("run")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option(
    "-o",
    "--output-dir",
    default="results",
    show_default=True,
    metavar="DIR",
    help="Result folders go to DIR/<experiment>/<UTC time>-<config hash>/.",
)
@_overrides_options
def run_cmd(
    files: tuple[str, ...],
    output_dir: str,
    samples: Any,
    seed: Any,
    workers: Any,
    executor: Any,
    params: tuple[str, ...],
    settings: tuple[str, ...],
    quiet: bool,
) -> None:
    """Run each experiment FILE and write its result folder."""
    exps = _load_all(files, _overrides(samples, seed, workers, executor, params, settings))
    _run_all(exps, quiet, output_dir)


@experiment_group.command("check")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("-o", "--output-dir", default=None, metavar="DIR", help="Also write result folders to DIR.")
@_overrides_options
def check_cmd(
    files: tuple[str, ...],
    output_dir: str | None,
    samples: Any,
    seed: Any,
    workers: Any,
    executor: Any,
    params: tuple[str, ...],
    settings: tuple[str, ...],
    quiet: bool,
) -> None:
    """Run each FILE and verify its [expect] values lie in the confidence intervals."""
    exps = _load_all(files, _overrides(samples, seed, workers, executor, params, settings))
    for exp in exps:
        if not exp.has_expectations:
            raise InputError(f"{exp.path}: no [expect] table, nothing to check; accepted: a file with [expect] values.")
    misses = []
    for exp, res in _run_all(exps, quiet, output_dir):
        for point, c in res.misses:
            where = f" point {point.index} ({_label(point.swept)}):" if point.swept else ""
            misses.append(f"{exp.path}:{where} {_miss(c)}")
    checked = sum(len(p.expect) for e in exps for p in e.points)
    if misses:
        for line in misses:
            click.echo(f"MISS {line}", err=True)
        raise Failed(f"{len(misses)} of {checked} expected values missed.")
    click.echo(f"all {checked} expected values lie within their intervals ({len(exps)} file(s)).")


@click.command("reproduce")
@click.argument("result_file", metavar="RESULT.json")
@click.option("-w", "--workers", type=PositiveInt(), default=None, help="Parallel workers  [default: all cores]")
@click.option("--executor", type=EXECUTOR_CHOICE, default="processes", show_default=True, help="Where blocks run.")
def reproduce_cmd(result_file: str, workers: int | None, executor: str) -> None:
    """Re-run RESULT.json from its recorded RunSpecs; report "bit-identical" or each differing number."""
    from montecarlo.experiments import ExperimentError, reproduce

    try:
        rep = reproduce(result_file, workers=workers, executor=executor)
    except ExperimentError as exc:
        raise InputError(str(exc)) from None
    for w in rep.warnings:
        click.echo(f"warning: {w}", err=True)
    rec = rep.recorded
    was = f"{rec.provenance.get('workers', '?')} worker(s) ({rec.provenance.get('executor', '?')})"
    click.echo(
        f"{rec.path}: {len(rec.points)} run(s), {rep.compared} numbers compared; "
        f"recorded on {was}, re-run on {rep.workers} worker(s) ({rep.executor})"
    )
    if rep.identical:
        click.echo("bit-identical")
        return
    for line in rep.mismatches:
        click.echo(f"  {line}")
    raise Failed(f"not reproduced: {len(rep.mismatches)} of {rep.compared} numbers differ.")


# --------------------------------------------------------------------------
# display
# --------------------------------------------------------------------------


def _label(swept: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in swept.items())


def _miss(c: dict) -> str:
    if c["expected"] is None:
        return f"output {c['output']}: the run reports no exact value to compare with"
    z = c["error_in_se"]
    dist = "an undefined number of" if z is None else f"{abs(z):.2f}"
    lo, hi = c["interval"]
    tol = f" widened by {c['tolerance']:g}" if c["tolerance"] else ""
    return (
        f"output {c['output']} = {c['estimate']!r} is {dist} standard errors from the expected "
        f"{c['expected']!r} ({c['source']}), outside the interval [{lo!r}, {hi!r}]{tol}"
    )


def format_experiment(exp: Any, res: Any) -> str:
    """A run's table: the result table for one point; one row per point for a sweep."""
    head = f"== {exp.name} ({exp.path}) =="
    if exp.description:
        head += f"\n{exp.description}"
    if len(res.points) == 1 and not res.points[0].swept:
        lines = [head, res.points[0].result.table()]
        lines += [f"  {_check_line(c)}" for c in res.points[0].checks]
        return "\n".join(lines)
    params = list(res.points[0].swept)
    outs = [e.name for e in res.points[0].result.estimates]  # outputs, then derived
    rows = [["point", *params]]
    for o in outs:
        rows[0] += [o, "std error", "interval"]
    has_checks = any(p.checks for p in res.points)
    if has_checks:
        rows[0] += ["expected", "error/se", "check"]
    for p in res.points:
        row = [str(p.index), *(f"{p.swept[k]:g}" if isinstance(p.swept[k], float) else str(p.swept[k]) for k in params)]
        for o in outs:
            e = p.result[o]
            d = _digits(e.standard_error)
            row += [f"{e.estimate:.{d}f}", f"{e.standard_error:.3g}", f"[{e.interval[0]:.{d}f}, {e.interval[1]:.{d}f}]"]
        if has_checks:
            exp_txt = "; ".join("?" if c["expected"] is None else f"{c['expected']:.6g}" for c in p.checks)
            z_txt = "; ".join("" if c["error_in_se"] is None else f"{c['error_in_se']:+.2f}" for c in p.checks)
            ok = "ok" if all(c["passed"] for c in p.checks) else "MISS"
            row += [exp_txt, z_txt, ok if p.checks else ""]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    spec = res.points[0].result.spec
    sweep = res.sweep or {}
    crn = ", common random numbers" if sweep.get("common_random_numbers") else ""
    info = (
        f"{exp.model.name}: {len(res.points)} points ({sweep.get('mode', '')} sweep{crn}), "
        f"{spec.samples:,} samples each, seed entropy {spec.entropy}, {spec.bit_generator}"
    )
    prov = res.provenance
    tail = f"{prov['elapsed_s']:.2f} s, {prov['workers']} worker(s) ({prov['executor']})"
    return "\n".join([head, info, *body, tail])


def _check_line(c: dict) -> str:
    z = "" if c["error_in_se"] is None else f", {c['error_in_se']:+.2f} se"
    state = "ok" if c["passed"] else "MISS"
    return f"expect {c['output']} = {c['expected']!r} ({c['source']}): {state}{z}"


def _digits(se: float) -> int:
    if not (se > 0 and math.isfinite(se)):
        return 6
    return max(0, min(12, 1 - math.floor(math.log10(se))))
