"""Per-run metadata: enough to tell later which code, versions, device and budget produced a number."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import datetime
from importlib import metadata as importlib_metadata
from typing import Dict, Optional

PACKAGES = ("torch", "nnunetv2", "nnunetv2_pscm")


def package_versions() -> Dict[str, Optional[str]]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(folder: Optional[str] = None) -> Dict[str, object]:
    """Commit and dirtiness of the repository holding our package (None when it is not a git checkout)."""
    if folder is None:
        import nnunetv2_pscm

        folder = os.path.dirname(os.path.dirname(os.path.abspath(nnunetv2_pscm.__file__)))

    def git(*args) -> Optional[str]:
        try:
            out = subprocess.run(["git", "-C", folder, *args], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"git_commit": commit, "git_dirty": None if status is None else bool(status)}


def environment() -> Dict[str, object]:
    """What does not change between the runs of one benchmark invocation (computed once)."""
    return {"versions": package_versions(), **git_state(), "python": sys.version.split()[0],
            "platform": platform.platform(), "hostname": platform.node(),
            "benchmark_command": [os.path.basename(sys.argv[0])] + sys.argv[1:]}


def now() -> str:
    return datetime.now().isoformat(timespec="seconds")


def load_metadata(path: str) -> dict:
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def save_metadata(path: str, data: dict) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)
