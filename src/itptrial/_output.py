"""Checking where a command will write, before it does any work.

An output path that cannot work (an existing file where a folder is needed, a folder
where a file is needed, a path below a file, a place that cannot be written) is an
input error naming the option, so the command exits 2 at once instead of failing with
an internal error after its work (docs/interface.md, "Outputs are safe").
"""

from __future__ import annotations

import os
from pathlib import Path

from itptrial._errors import InputError, Problem


def _existing_ancestor(path: Path) -> Path:
    for ancestor in path.absolute().parents:
        if ancestor.exists():
            return ancestor
    return Path("/")  # pragma: no cover - the root exists


def _problem(path: Path, option: str, message: str) -> InputError:
    return InputError([Problem(str(path), None, option, message)])


def _writable_place(path: Path, option: str) -> None:
    ancestor = _existing_ancestor(path)
    if not ancestor.is_dir():
        raise _problem(path, option, f"{ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise _problem(path, option, f"cannot write in {ancestor}")


def check_output_file(path: Path, option: str = "--out") -> None:
    """``path`` can be written as a file."""
    if path.is_dir():
        raise _problem(path, option, "is a folder; give a file name")
    _writable_place(path, option)


def check_output_folder(path: Path, option: str = "--out") -> None:
    """``path`` can be (or already is) a folder to write into."""
    if path.exists() and not path.is_dir():
        raise _problem(path, option, "is a file; give a folder")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise _problem(path, option, "cannot write in this folder")
        return
    _writable_place(path, option)
