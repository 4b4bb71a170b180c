"""Extra functions of the local stack: a function outside main.py served as one of main.py's is."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.local.functions_server import ExtraFunction, with_extras
from infra.local.terraform_grants import function_grants


def test_an_extra_function_reads_back_from_its_argument_even_with_a_colon_in_its_path() -> None:
    extra = ExtraFunction("empty", like="calendar_webhook", source=Path("/tmp/a:b/empty.py"))

    assert extra.argument() == "empty:calendar_webhook:/tmp/a:b/empty.py"
    assert ExtraFunction.parse(extra.argument()) == extra


@pytest.mark.parametrize(
    "argument", ["empty", "empty:calendar_webhook", "empty::x.py", ":calendar_webhook:x.py"]
)
def test_an_incomplete_argument_is_refused(argument: str) -> None:
    with pytest.raises(ValueError):
        ExtraFunction.parse(argument)


def test_an_extra_function_gets_the_grants_of_the_function_it_is_served_like() -> None:
    grants = function_grants("demo-clinic")
    extra = ExtraFunction("empty", like="calendar_webhook", source=Path("empty.py"))

    found = with_extras(grants, [extra])

    model = grants["calendar_webhook"]
    assert found["empty"].name == "empty"
    assert (found["empty"].invoker, found["empty"].callers) == (model.invoker, model.callers)
    assert (found["empty"].secrets, found["empty"].concurrency) == (model.secrets, model.concurrency)
    assert found["empty"].public
    # The others are untouched, and the cached grants are not changed.
    assert {name: found[name] for name in grants} == grants
    assert "empty" not in function_grants("demo-clinic")


def test_an_extra_function_takes_no_existing_name_and_copies_only_a_known_function() -> None:
    grants = function_grants("demo-clinic")

    with pytest.raises(ValueError, match="may not take the name"):
        with_extras(grants, [ExtraFunction("push_worker", like="calendar_webhook", source=Path("x.py"))])
    with pytest.raises(ValueError, match="no function 'nothing'"):
        with_extras(grants, [ExtraFunction("empty", like="nothing", source=Path("x.py"))])
