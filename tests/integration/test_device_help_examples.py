"""``farmtrace device run --help``: its examples must work as printed against a gateway.

A simulated device's clock starts at the real time and runs ``--speed`` times
fast, so with a speed above 1 its readings are dated in the future; past the
gateway's ``--max-future-ms`` they are refused as ``clock_skew`` and stay in
the outbox. The help once suggested ``--speed 60`` (issue 11 item 10).
"""

from __future__ import annotations

import re

import pytest

from farmtrace.cli import main


def test_no_example_runs_the_clock_ahead_and_the_option_says_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["device", "run", "--help"])
    text = capsys.readouterr().out
    examples = text.split("examples:", 1)[1]
    assert "farmtrace device run" in examples
    speeds = [float(s) for s in re.findall(r"--speed[ =](\S+)", examples)]
    assert all(speed <= 1 for speed in speeds), speeds
    assert "clock_skew" in " ".join(text.split())  # the option's help warns
