import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from montecarlo.core.seeding import BIT_GENERATORS, block_rng, block_seed, root_entropy
from montecarlo.errors import ValidationError


def test_block_seed_is_the_spawned_child():
    # Block b is SeedSequence(entropy).spawn(b + 1)[b], reachable in O(1).
    children = np.random.SeedSequence(2**32).spawn(7)
    for b, child in enumerate(children):
        mine = block_seed(2**32, b)
        assert mine.spawn_key == child.spawn_key
        assert np.array_equal(mine.generate_state(4), child.generate_state(4))


def test_block_seed_extends_a_spawn_key_prefix():
    parent = np.random.SeedSequence(5, spawn_key=(3,))
    child = parent.spawn(2)[1]
    assert np.array_equal(block_seed(5, 1, (3,)).generate_state(4), child.generate_state(4))


@pytest.mark.parametrize("name", sorted(BIT_GENERATORS))
def test_block_rng_uses_the_named_bit_generator(name):
    rng = block_rng(1, 0, name)
    assert isinstance(rng.bit_generator, BIT_GENERATORS[name])


def test_golden_block_streams():
    # Pins the stream of block 5 of entropy 0 for the default bit generator:
    # a change here changes every published number.
    assert block_rng(0, 5).random(3).tolist() == [0.9043413557391109, 0.9220665195275108, 0.8274536665113307]


def test_root_entropy_forms():
    assert root_entropy(7) == (7, ())
    assert root_entropy(np.int64(7)) == (7, ())
    ss = np.random.SeedSequence(11, spawn_key=(2, 3))
    assert root_entropy(ss) == (11, (2, 3))
    e1, _ = root_entropy(np.random.default_rng(3))
    e2, _ = root_entropy(np.random.default_rng(3))
    assert e1 == e2 and e1 > 0
    fresh = {root_entropy(None)[0] for _ in range(3)}
    assert len(fresh) == 3 and all(0 <= e < 2**128 for e in fresh)


@pytest.mark.parametrize(
    "bad, match",
    [
        (-1, r"`rng` = -1 is negative; accepted: an integer >= 0, a numpy SeedSequence"),
        (1.5, r"`rng` = 1\.5 is not accepted; accepted: an integer >= 0"),
        ("3", r"`rng` = '3' is not accepted; accepted: an integer >= 0"),
        (True, r"`rng` = True is not accepted; accepted: an integer >= 0"),
    ],
)
def test_root_entropy_rejects(bad, match):
    with pytest.raises(ValidationError, match=match) as err:
        root_entropy(bad)
    assert err.value.argument == "rng" and err.value.value is bad


# Far-out blocks: a stream that wrapped or collided at some index (say
# ``index % 1000``, or at 2**32) would pass every test that looks at the
# first few blocks only. numpy counts spawned children in 32 bits (and its
# spawn of child 2**32 - 1 never returns), so the equality with spawning is
# checked below that; past it (a run of 1e15 one-sample blocks gets there)
# the streams must still be distinct.
SPAWNABLE = st.one_of(st.integers(0, 10**7), st.integers(2**32 - 8, 2**32 - 2))
FAR = st.one_of(SPAWNABLE, st.integers(2**32, 2**64))


@settings(max_examples=50, deadline=None)
@example(entropy=0, index=10**6)
@example(entropy=2**127 + 3, index=2**32 - 2)
@given(entropy=st.integers(0, 2**128 - 1), index=SPAWNABLE)
def test_a_far_block_is_the_child_that_spawning_gives(entropy, index):
    # SeedSequence(entropy).spawn(index + 1)[index], without spawning index children first.
    child = np.random.SeedSequence(entropy, n_children_spawned=index).spawn(1)[0]
    mine = block_seed(entropy, index)
    assert mine.spawn_key == child.spawn_key == (index,)
    assert np.array_equal(mine.generate_state(8), child.generate_state(8))
    stream = np.random.Generator(np.random.SFC64(child)).random(4)
    assert np.array_equal(block_rng(entropy, index).random(4), stream)  # the generator a worker uses


@settings(max_examples=50, deadline=None)
@example(entropy=0, a=10**6, b=10**6 % 1000)
@example(entropy=0, a=2**32, b=0)
@example(entropy=1, a=2**32 + 7, b=7)
@example(entropy=1, a=10**6, b=10**6 + 1)
@given(entropy=st.integers(0, 2**128 - 1), a=FAR, b=FAR)
def test_far_blocks_have_streams_of_their_own(entropy, a, b):
    assume(a != b)
    assert not np.array_equal(block_rng(entropy, a).random(4), block_rng(entropy, b).random(4))
