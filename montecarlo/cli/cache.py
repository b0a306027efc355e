"""``mc cache info`` and ``mc cache clear``: the cache of finished runs (`montecarlo.records.cache`)."""

from __future__ import annotations

import click


@click.group("cache")
def cache_group() -> None:
    """The cache of finished runs that experiments (and --cache) reuse."""


@cache_group.command("info")
def info_cmd() -> None:
    """Where the cache is, how many runs it holds and their size."""
    from montecarlo.records.cache import Cache

    info = Cache().info()
    click.echo(f"{info.folder}: {info.entries} run(s), {info.bytes / 2**20:.1f} MB")


@cache_group.command("clear")
def clear_cmd() -> None:
    """Remove every stored run."""
    from montecarlo.records.cache import Cache

    cache = Cache()
    click.echo(f"{cache.folder}: removed {cache.clear()} run(s)")
