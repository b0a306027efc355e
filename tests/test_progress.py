import io

from montecarlo.reports.progress import ProgressBar


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_bar_draws_on_a_terminal_after_the_delay():
    out = Tty()
    bar = ProgressBar(out, delay=0.0)
    bar(250_000_000, 1_000_000_000)
    bar.close()
    text = out.getvalue()
    assert "25.0%" in text and "250M/1G samples" in text and "ETA" in text and text.endswith("\n")


def test_bar_is_silent_off_a_terminal_and_during_the_delay():
    out = io.StringIO()
    bar = ProgressBar(out, delay=0.0)
    bar(5, 10)
    bar.close()
    assert out.getvalue() == ""
    tty = Tty()
    quiet = ProgressBar(tty, delay=60.0)
    quiet(5, 10)
    quiet.close()
    assert tty.getvalue() == ""


def test_open_ended_runs_show_samples_against_the_cap_without_a_percentage():
    out = Tty()
    bar = ProgressBar(out, delay=0.0, open_ended=True)
    bar(3_000_000, 10_000_000_000)
    assert "3M samples (cap 10G)" in out.getvalue() and "%" not in out.getvalue()
