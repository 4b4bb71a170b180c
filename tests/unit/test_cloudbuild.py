"""cloudbuild.yaml runs only what the repository has, and deploys only after the tests passed."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CLOUDBUILD = ROOT / "cloudbuild.yaml"
MAKEFILE = ROOT / "Makefile"

# The Makefile's documented targets, assumed only while no Makefile exists yet.
DEFAULT_MAKE_TARGETS = {"install", "lint", "test", "run", "bench", "soak"}
JUNIT_REPORT = "reports/junit.xml"
# Paths the build itself creates, so they need not exist in the repository.
BUILD_OUTPUTS = ("reports/", "infra/.build/", "infra/tfplan", "tfplan")

# A repository-relative path: at least one slash, not part of an absolute path, a URL or a substitution.
_RELATIVE_PATH = re.compile(r"(?<![\w/.:$={-])(\.{0,2}/?[\w.-]+(?:/[\w.-]+)+/?)")
_URL = re.compile(r"\w+://\S+")
_ABSOLUTE = re.compile(r"(?<![\w.])/[\w./-]+")


@cache
def build() -> dict[str, Any]:
    loaded = yaml.safe_load(CLOUDBUILD.read_text())
    assert isinstance(loaded, dict), "cloudbuild.yaml is not a mapping"
    return loaded


def steps() -> list[dict[str, Any]]:
    return build()["steps"]


def step_text(step: dict[str, Any]) -> str:
    """What a step runs: its entrypoint and arguments, as one text."""
    args = step.get("args", [])
    return " ".join([str(step.get("entrypoint", "")), *(str(arg) for arg in args)])


def make_targets() -> set[str]:
    """Targets defined in the Makefile (`name:` at the start of a line, not `NAME :=` assignments)."""
    if not MAKEFILE.exists():
        return DEFAULT_MAKE_TARGETS
    targets: set[str] = set()
    for match in re.finditer(
        r"^([A-Za-z0-9_.%/$()-]+(?:[ \t]+[A-Za-z0-9_.%/$()-]+)*)[ \t]*:(?!=)", MAKEFILE.read_text(), re.M
    ):
        targets.update(name for name in match.group(1).split() if not name.startswith("."))
    return targets


def invoked_make_targets(step: dict[str, Any]) -> list[str]:
    """The make targets a step asks for, whether make is its entrypoint or a line of its script."""
    if step.get("entrypoint") == "make":
        return [arg for arg in map(str, step.get("args", [])) if not arg.startswith("-") and "=" not in arg]
    targets: list[str] = []
    for args in re.findall(r"(?:^|[\s;&|(])make((?:[ \t]+[\w.=-]+)+)", step_text(step)):
        targets += [arg for arg in args.split() if not arg.startswith("-") and "=" not in arg]
    return targets


def referenced_paths(step: dict[str, Any]) -> list[str]:
    """Repository paths a step relies on: its `dir`, `-chdir=` folders and relative paths in its commands."""
    text = _ABSOLUTE.sub(" ", _URL.sub(" ", step_text(step)))
    paths = list(_RELATIVE_PATH.findall(text))
    paths += re.findall(r"-chdir=([\w./-]+)", step_text(step))
    if "dir" in step:
        paths.append(str(step["dir"]))
    return [path for path in paths if not path.startswith(BUILD_OUTPUTS)]


def dependencies() -> dict[str, set[str]]:
    """Each step's id -> every step it (transitively) waits for, with Cloud Build's rules: no waitFor means
    all the steps before it; waitFor ['-'] means none."""
    direct: dict[str, set[str]] = {}
    earlier: list[str] = []
    for index, step in enumerate(steps()):
        step_id = str(step.get("id", f"#{index}"))
        wait_for = step.get("waitFor")
        direct[step_id] = set(earlier) if wait_for is None else {str(w) for w in wait_for if w != "-"}
        earlier.append(step_id)
    closure: dict[str, set[str]] = {}
    for step_id in direct:
        pending, seen = list(direct[step_id]), set()
        while pending:
            current = pending.pop()
            if current not in seen:
                seen.add(current)
                pending += direct.get(current, set())
        closure[step_id] = seen
    return closure


def ids_where(predicate: Any) -> list[str]:
    return [str(step.get("id", f"#{i}")) for i, step in enumerate(steps()) if predicate(step)]


def test_cloudbuild_is_valid_yaml_with_named_steps() -> None:
    assert steps(), "cloudbuild.yaml has no steps"
    ids = [step.get("id") for step in steps()]
    assert all(ids), "every step needs an id (waitFor refers to them)"
    assert len(set(ids)) == len(ids), f"duplicate step ids: {ids}"
    for step in steps():
        assert step.get("name"), f"step {step.get('id')} names no image"
        for wait in step.get("waitFor", []):
            assert wait == "-" or wait in ids, f"step {step['id']} waits for unknown step {wait!r}"


def test_make_targets_exist_in_the_makefile() -> None:
    defined = make_targets()
    asked = {target for step in steps() for target in invoked_make_targets(step)}
    assert asked, "no step runs make"
    missing = asked - defined
    assert not missing, f"cloudbuild.yaml runs make targets the Makefile does not define: {sorted(missing)}"


def test_referenced_files_exist() -> None:
    for step in steps():
        for path in referenced_paths(step):
            assert (ROOT / path).exists(), f"step {step['id']} uses {path}, which is not in the repository"


def test_the_test_suite_runs_with_its_report() -> None:
    testing = ids_where(lambda step: "test" in invoked_make_targets(step))
    assert testing, "no step runs `make test`"
    if MAKEFILE.exists():
        assert JUNIT_REPORT in MAKEFILE.read_text(), f"`make test` does not write {JUNIT_REPORT}"
    assert JUNIT_REPORT in build().get("artifacts", {}).get("objects", {}).get("paths", []), (
        f"{JUNIT_REPORT} is not kept as a build artifact"
    )
    assert "firestore-emulator" in " ".join(step_text(step) for step in steps() if step["id"] in testing), (
        "the test step must provide the Firestore emulator"
    )


def test_deploy_happens_only_after_the_tests_pass() -> None:
    testing = set(ids_where(lambda step: "test" in invoked_make_targets(step)))
    applying = ids_where(lambda step: re.search(r"\bapply\b", step_text(step)) is not None)
    assert applying, "no step applies the Terraform"
    closure = dependencies()
    for step_id in applying:
        assert testing & closure[step_id], f"step {step_id} may deploy before `make test` passed"


def test_terraform_runs_in_the_terraform_image_on_infra() -> None:
    terraform_steps = [
        step for step in steps() if "terraform" in step_text(step) or "-chdir=" in step_text(step)
    ]
    assert terraform_steps, "no Terraform step"
    for step in terraform_steps:
        assert str(step["name"]).startswith("hashicorp/terraform"), (
            f"step {step['id']} runs Terraform elsewhere"
        )
        assert "-chdir=infra" in step_text(step), f"step {step['id']} does not run on infra/"
    planning = ids_where(lambda step: re.search(r"\bplan\b.*-out=tfplan", step_text(step)) is not None)
    applying = ids_where(lambda step: re.search(r"\bapply\b.*\btfplan\b", step_text(step)) is not None)
    assert planning and applying, "deploy should apply the plan saved by the bundle step"
    assert set(planning) <= dependencies()[applying[0]], "the plan must be made before it is applied"
