"""The webhook bench row's verdict: our p99 against the empty function's p99 of the same run."""

from __future__ import annotations

import pytest

from tests.bench.stack_figures import WEBHOOK_RATIO_TARGET, webhook_verdict


def answers(p99_ms: float, status: str = "200") -> list[tuple[float, str]]:
    """100 answers whose p99 (nearest rank) is `p99_ms`."""
    return [(0.001, status)] * 98 + [(p99_ms / 1000, status)] * 2


@pytest.mark.parametrize(
    ("ours_ms", "empty_ms", "ok"),
    [
        (100, 100, True),
        (119, 100, True),
        (120, 100, True),
        (121, 100, False),
        (40, 20, False),
        (20, 40, True),
    ],
)
def test_the_verdict_is_the_ratio_of_the_p99s(ours_ms: float, empty_ms: float, ok: bool) -> None:
    ratio, verdict = webhook_verdict(answers(ours_ms), answers(empty_ms))
    assert ratio == pytest.approx(ours_ms / empty_ms)
    assert verdict is ok
    assert WEBHOOK_RATIO_TARGET == 1.2


def test_an_error_answer_on_either_side_is_a_miss() -> None:
    assert webhook_verdict(answers(50, "503"), answers(100))[1] is False
    assert webhook_verdict(answers(50), answers(100, "502"))[1] is False
