"""What is in a dataset folder: table files, near misses, and paths that cannot be read.

A near miss (``Rescue.CSV``, ``adverse-events.csv``) or a table path that exists but
cannot be read (a folder, a FIFO, a broken symbolic link, a loop) would otherwise count
as "no such records" and change results silently, so each is an error (data.md, "Near
misses"). Files that are no table at all are listed once, as a warning.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from itptrial._output import MANIFEST
from itptrial.data._schema import TABLES

FORMATS = (".csv", ".parquet")


def table_of(name: str) -> str | None:
    """The table a file or table name matches up to case, ``-``/``_`` and extension case
    (``Rescue.CSV`` -> ``rescue``), or None."""
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    if extension and f".{extension.lower()}" not in FORMATS:
        return None
    normal = stem.lower().replace("-", "_")
    return normal if normal in TABLES else None


def unreadable(path: Path) -> str | None:
    """Why an existing path cannot be read as a file, or None when it is a regular file."""
    try:
        info = os.stat(path)  # follows symbolic links
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link loop"
        if exc.errno == errno.ENOENT and path.is_symlink():
            return f"is a broken symbolic link (to {os.readlink(path)})"
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISDIR(info.st_mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file (a FIFO, socket or device)"
    if not os.access(path, os.R_OK):
        return "cannot be read (permission denied)"
    return None


@dataclass
class FolderContents:
    """A dataset folder sorted out: table files by table, and what is wrong or stray."""

    tables: dict[str, list[Path]] = field(default_factory=dict)
    unreadable: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # (file, why)
    near_misses: dict[str, list[str]] = field(default_factory=dict)
    strays: list[str] = field(default_factory=list)


def folder_contents(folder: Path) -> FolderContents:
    """Every entry of ``folder``, by what it is (raises OSError if it cannot be listed)."""
    contents = FolderContents()
    exact = {f"{table}{suffix}": table for table in TABLES for suffix in FORMATS}
    for name in sorted(os.listdir(folder)):
        path = folder / name
        if name in exact:
            why = unreadable(path)
            if why is None:
                contents.tables.setdefault(exact[name], []).append(path)
            else:
                contents.unreadable.setdefault(exact[name], []).append((name, why))
        elif (table := table_of(name)) is not None:
            contents.near_misses.setdefault(table, []).append(name)
        elif name != MANIFEST:
            contents.strays.append(name + ("/" if path.is_dir() else ""))
    return contents
