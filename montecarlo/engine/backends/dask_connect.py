"""Connecting to a Dask scheduler by address: bounded in time, and every failure one line.

Whatever answers at the address -- nothing, a server that accepts the
connection and stays silent, one that speaks another protocol -- the run
either gets a client or a `ConnectionError` naming the address, within
`CONNECT_SECONDS` plus `HANDSHAKE_SECONDS`. Dask's own client waits for the
scheduler's greeting without a limit, so the client is made on a helper
thread that is abandoned when the deadline passes (it holds only a socket
to the silent server).
"""

from __future__ import annotations

import threading
from typing import Any

from montecarlo.errors import one_line

#: Seconds Dask may take to open the connection (retries included).
CONNECT_SECONDS = 10.0
#: Further seconds a scheduler may take to answer once connected.
HANDSHAKE_SECONDS = 10.0

ACCEPTED = "accepted: the address a running `dask scheduler` prints, such as tcp://HOST:8786."


def connect(distributed: Any, address: str) -> Any:
    """A ``distributed.Client`` of the scheduler at ``address``.

    Raises
    ------
    ConnectionError
        When nothing answers, the answer is not a Dask scheduler's, or no
        answer comes in time.
    """
    outcome: dict[str, Any] = {}

    def make() -> None:
        try:
            outcome["client"] = distributed.Client(address, timeout=f"{CONNECT_SECONDS}s")
        except BaseException as exc:  # reported by the caller's thread
            outcome["error"] = exc

    helper = threading.Thread(target=make, name="montecarlo-dask-connect", daemon=True)
    helper.start()
    helper.join(CONNECT_SECONDS + HANDSHAKE_SECONDS)
    if helper.is_alive():
        raise ConnectionError(
            f"`scheduler` = {address!r}: the connection was accepted but no Dask scheduler answered within "
            f"{CONNECT_SECONDS + HANDSHAKE_SECONDS:g} s; {ACCEPTED}"
        )
    error = outcome.get("error")
    if isinstance(error, (KeyboardInterrupt, SystemExit)):
        raise error
    if error is not None:
        what = "no Dask scheduler answered" if isinstance(error, OSError) else "what answered is not a Dask scheduler"
        said = one_line(error) or type(error).__name__
        raise ConnectionError(f"`scheduler` = {address!r}: {what} ({said}); {ACCEPTED}") from None
    return outcome["client"]
