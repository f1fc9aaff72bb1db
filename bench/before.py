"""--before REV: a server running the code of another git revision, in the same run.

The revision is checked out with ``git worktree add --detach`` into a temporary directory
(removed at the end of the run, also on error). Its server is the same venv interpreter with
``PYTHONPATH=<worktree>/src`` first, so ``import obliviate`` finds the old source before the
editable install of the current tree; ``check_import`` proves that with the server's own
environment before the server starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from servers import BENCH_DIR

REPO = BENCH_DIR.parent
WHERE_IS_OBLIVIATE = "import obliviate; print(obliviate.__file__)"


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


@dataclass(frozen=True)
class Worktree:
    rev: str
    commit: str
    path: Path

    @property
    def src(self) -> Path:
        return self.path / "src"

    def remove(self) -> None:
        try:
            _git("worktree", "remove", "--force", str(self.path))
        except RuntimeError:
            shutil.rmtree(self.path, ignore_errors=True)
            subprocess.run(["git", "worktree", "prune"], cwd=REPO, check=False)


def add_worktree(rev: str) -> Worktree:
    """``rev`` checked out, detached, into a new temporary directory."""
    commit = _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    path = Path(tempfile.mkdtemp(prefix="obliviate-bench-before-"))
    try:
        _git("worktree", "add", "--detach", "--quiet", str(path), commit)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    tree = Worktree(rev, commit, path)
    if not (tree.src / "obliviate" / "__init__.py").is_file():
        tree.remove()
        raise RuntimeError(f"--before {rev}: {commit[:12]} has no src/obliviate package")
    return tree


def old_code_env(env: dict[str, str], tree: Worktree) -> dict[str, str]:
    """``env`` with the worktree's source first on the import path."""
    rest = env.get("PYTHONPATH")
    path = str(tree.src) if not rest else os.pathsep.join([str(tree.src), rest])
    return env | {"PYTHONPATH": path}


def check_import(env: dict[str, str], cwd: Path, tree: Worktree) -> Path:
    """Where ``import obliviate`` resolves for a process started with ``env`` in ``cwd``, as
    the server will be; raises unless it is the worktree's source."""
    done = subprocess.run(
        [sys.executable, "-c", WHERE_IS_OBLIVIATE],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"--before {tree.rev}: import obliviate failed: {done.stderr.strip()}")
    found = Path(done.stdout.strip()).resolve()
    if not found.is_relative_to(tree.src.resolve()):
        raise RuntimeError(
            f"--before {tree.rev}: with PYTHONPATH={env.get('PYTHONPATH')}, obliviate resolves "
            f"to {found}, not to the worktree's {tree.src}: the run would measure the current "
            "code twice"
        )
    return found
