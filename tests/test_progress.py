import io

import pytest

from montecarlo.engine.progress import ProgressBar


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


def test_a_run_with_a_target_tells_the_bar_its_precision():
    import montecarlo

    out = Tty()
    bar = ProgressBar(out, delay=0.0, open_ended=True)
    sampling = montecarlo.Sampling(block_size=10_000)
    montecarlo.run(
        "pi", 10**6, rng=1, tolerance=0.002, sampling=sampling, execution=montecarlo.Execution("serial", progress=bar)
    )
    bar.close()
    text = out.getvalue()
    assert "half-width" in text and "(target 0.002)" in text


def test_progress_settings_resolve_to_bars(monkeypatch):
    import montecarlo
    from montecarlo.engine import progress

    def mine(done, total):
        pass

    with progress.progress_for(mine, open_ended=False) as bar:
        assert bar is mine
    for setting in (None, False):
        with progress.progress_for(setting, open_ended=False) as bar:
            assert bar is None  # not in a notebook: silent by default
    with progress.progress_for(True, open_ended=False) as bar:
        assert isinstance(bar, ProgressBar)
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    with progress.progress_for(None, open_ended=False) as bar:
        assert isinstance(bar, progress.NotebookBar)
        bar(500, 1000)
        bar.note("half-width 0.1 (target 0.01)")
        assert (bar.bar.n, bar.bar.total) == (500, 1000)
    with pytest.raises(montecarlo.ValidationError, match="progress"):
        montecarlo.Execution(progress="yes")


@pytest.mark.slow
def test_a_notebook_shows_tqdms_bar(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    code = (
        "import time, montecarlo\n"
        "def slow(rng, n):\n"
        "    time.sleep(0.2)\n"
        "    return rng.random(n)\n"
        "r = montecarlo.run(slow, 20 * 100, rng=1, sampling=montecarlo.Sampling(block_size=100), executor='serial')\n"
        "print(r.samples)"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    assert not [o for o in outputs if o.output_type == "error"], outputs
    widgets = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widgets, outputs  # tqdm's bar, as a widget
    assert "2000" in "".join(o.get("text", "") for o in outputs)
