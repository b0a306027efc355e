"""The ``mc`` command's entry point (also ``montecarlo`` and ``python -m montecarlo``).

Its first line makes Ctrl-C and SIGTERM end the command cleanly, before
click or any command module loads: exit status 130 or 143 and one line on
stderr, no traceback. Until the command installs its own handlers (which stop
workers and say where a checkpoint is; `montecarlo.cli`), and again once it
has returned, a signal ends the process at once: nothing is running that
needs stopping. Only the standard library loads here, so ``mc --help`` stays
quick; importing this module changes nothing, calling `main` does.
"""

import os
import signal

EXIT_SIGINT = 130
EXIT_SIGTERM = 143


def main() -> None:
    """Console entry point of ``mc``: signals handled from the first line, then the CLI."""
    _stop_on_signals()
    from montecarlo.cli import main as cli_main

    cli_main()


def _stop_on_signals() -> None:
    """SIGINT (unless the process was started with it ignored, as a background job is) and SIGTERM end it at once."""
    try:
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)  # last: a caught SIGTERM shows that both are in place
    except ValueError:  # not the main thread (called from a program's own thread): its signals are its own
        pass


def _stop(signum: int, frame: object) -> None:
    """End the process with the signal's exit status and one line on stderr."""
    terminated = signum == signal.SIGTERM
    word = "Terminated." if terminated else "Interrupted."
    if not terminated and _on_terminal():
        word = "\n" + word  # after the ^C the terminal echoed
    try:
        os.write(2, (word + "\n").encode())
    except OSError:  # no stderr: the exit status says it
        pass
    os._exit(EXIT_SIGTERM if terminated else EXIT_SIGINT)


def _on_terminal() -> bool:
    try:
        return os.isatty(2)
    except OSError:
        return False


if __name__ == "__main__":
    main()
