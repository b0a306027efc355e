"""``mc cache info`` and ``mc cache clear``: the cache of finished runs (`montecarlo.records.cache`).

Both touch only the cache's own entries (files named ``ab/<64 hex digits>.json``
in a folder montecarlo marked as its cache with ``CACHEDIR.TAG``); a folder
that is not a cache, or a bad ``$MONTECARLO_CACHE_MB``, is a usage error (exit 2).
"""

from __future__ import annotations

import click

from montecarlo.cli.common import UsageFailure


@click.group("cache")
def cache_group() -> None:
    """The cache of finished runs that --cache (and `cache = true` in experiment files) reuses."""


@cache_group.command("info")
def info_cmd() -> None:
    """Where the cache is, how many runs it holds and their size."""
    from montecarlo.errors import ValidationError
    from montecarlo.records.cache import Cache

    try:
        info = Cache().info()
    except ValidationError as exc:
        raise UsageFailure(str(exc)) from None
    click.echo(f"{info.folder}: {info.entries} run(s), {info.bytes / 2**20:.1f} MB")


@cache_group.command("clear")
def clear_cmd() -> None:
    """Remove every stored run (and nothing else)."""
    from montecarlo.errors import ValidationError
    from montecarlo.records.cache import Cache

    try:
        cache = Cache()
        removed = cache.clear()
    except ValidationError as exc:
        raise UsageFailure(str(exc)) from None
    click.echo(f"{cache.folder}: removed {removed} run(s)")
