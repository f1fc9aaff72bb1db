from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _sh_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def test_readme_shows_one_start_command_and_one_test_command() -> None:
    blocks = _sh_blocks((ROOT / "README.md").read_text())
    starts = [b.strip() for b in blocks if "obliviate serve" in b and b.strip().count("\n") == 0]
    tests = [b.strip() for b in blocks if "pytest" in b]
    assert len(starts) == 1
    assert len(tests) == 1
    assert tests[0].count("\n") == 0


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    test_command = next(b.strip() for b in _sh_blocks(readme) if "pytest" in b)
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci.splitlines()
