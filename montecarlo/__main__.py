"""``python -m montecarlo`` is the ``mc`` command."""

from montecarlo.cli import main

if __name__ == "__main__":
    main()
