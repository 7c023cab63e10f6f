"""Reading the text files a user names (protocols, parameter files, targets)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from itptrial._errors import InputError, Problem


def read_toml(text: str, source: str) -> dict[str, Any]:
    """Parse TOML text; a syntax error is a problem naming ``source`` (and the line)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        message = getattr(exc, "msg", str(exc))
        raise InputError([Problem(source, line, None, f"invalid TOML: {message}")]) from None


def read_text_file(path: Path, what: str) -> str:
    """A UTF-8 text file, or :class:`InputError` saying in one line why it cannot be."""
    source = str(path)
    if path.is_dir():
        raise InputError([Problem(source, None, None, f"is a folder, not a {what}")])
    if os.path.lexists(path) and not path.is_file():  # a FIFO would block, a loop fails
        kind = "a broken or looping symbolic link" if path.is_symlink() else "not a regular file"
        raise InputError([Problem(source, None, None, f"is {kind}, not a {what}")])
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError([Problem(source, None, None, f"no such {what}")]) from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise InputError([Problem(source, line, None, "not valid UTF-8")]) from None
    except OSError as exc:
        message = f"cannot read: {exc.strerror or exc}"
        raise InputError([Problem(source, None, None, message)]) from None
