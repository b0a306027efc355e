"""Root entropy and per-block random generators.

Randomness belongs to blocks of samples, never to workers: block ``b`` of a run
draws from ``SeedSequence(entropy, spawn_key=prefix + (b,))``, which is the
same child that ``SeedSequence(entropy).spawn(b + 1)[b]`` returns, but is
reachable in O(1) by any process on any machine.
"""

from __future__ import annotations

import secrets
from typing import Any

import numpy as np

from montecarlo.core.sampling import DEFAULT_BIT_GENERATOR
from montecarlo.errors import ValidationError

RNG_ACCEPTED = "an integer >= 0, a numpy SeedSequence, a numpy Generator or None"
#: Bit generator classes by the name a RunSpec records (`montecarlo.core.sampling.BIT_GENERATORS`).
BIT_GENERATORS: dict[str, type[np.random.BitGenerator]] = {
    "sfc64": np.random.SFC64,
    "pcg64": np.random.PCG64,
    "pcg64dxsm": np.random.PCG64DXSM,
    "philox": np.random.Philox,
}

ENTROPY_BITS = 128


def fresh_entropy() -> int:
    """128 bits of entropy from the operating system."""
    return secrets.randbits(ENTROPY_BITS)


def root_entropy(rng: Any) -> tuple[int, tuple[int, ...]]:
    """Normalise the ``rng`` argument (SPEC 7) to ``(entropy, spawn_key)``.

    Parameters
    ----------
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        ``None`` draws fresh entropy from the OS (it is recorded in the result,
        so the run can be repeated). An int is used as the entropy itself. A
        SeedSequence contributes its entropy and spawn key, so blocks become its
        descendants. A Generator is advanced to draw 128 bits of entropy, which
        makes the run a deterministic function of the Generator's state.

    Returns
    -------
    entropy : int
    spawn_key : tuple of int
    """
    if rng is None:
        return fresh_entropy(), ()
    if isinstance(rng, (bool, np.bool_)):
        raise ValidationError("rng", rng, RNG_ACCEPTED)
    if isinstance(rng, (int, np.integer)):
        if rng < 0:
            raise ValidationError("rng", rng, RNG_ACCEPTED, "is negative")
        return int(rng), ()
    if isinstance(rng, np.random.SeedSequence):
        entropy = rng.entropy
        if entropy is None:  # pragma: no cover - SeedSequence always fills it
            raise ValueError("`rng` SeedSequence has no entropy.")
        if not isinstance(entropy, int):  # entropy given as a sequence of ints
            entropy = _int_from_words(entropy)
        return int(entropy), tuple(int(k) for k in rng.spawn_key)
    if isinstance(rng, np.random.Generator):
        words = rng.integers(0, 2**32, size=ENTROPY_BITS // 32, dtype=np.uint64)
        return _int_from_words(words), ()
    raise ValidationError("rng", rng, RNG_ACCEPTED)


def _int_from_words(words: Any) -> int:
    """Little-endian 32-bit words to one integer (SeedSequence's own convention)."""
    value = 0
    for i, w in enumerate(np.asarray(words, dtype=np.uint64).ravel().tolist()):
        value |= (int(w) & 0xFFFFFFFF) << (32 * i)
    return value


def block_seed(entropy: int, index: int, spawn_key: tuple[int, ...] = ()) -> np.random.SeedSequence:
    """The SeedSequence that owns block ``index``."""
    return np.random.SeedSequence(entropy, spawn_key=(*spawn_key, index))


def block_rng(
    entropy: int,
    index: int,
    bit_generator: str = DEFAULT_BIT_GENERATOR,
    spawn_key: tuple[int, ...] = (),
) -> np.random.Generator:
    """The Generator of block ``index``: ``Generator(BitGen(SeedSequence(entropy, spawn_key=(*spawn_key, index))))``."""
    return np.random.Generator(BIT_GENERATORS[bit_generator](block_seed(entropy, index, spawn_key)))
