"""Safe outputs: every command writes all its files or none, never deletes or overwrites
a file it did not write, and never writes into its input (docs/interface.md, "Outputs
are safe").

Files are written into a staging folder first and moved into place only when all of
them are complete. Each output folder keeps a manifest (``.itptrial-manifest.json``) of
the files itptrial wrote there, with their SHA-256: a later run may replace exactly
those files, and only while they are unchanged. Anything else already at a name to be
written is a conflict (exit 2), found before any work by :func:`check_output` and again,
to be sure, just before the move. An interrupted command (Ctrl-C, SIGTERM) leaves no
staging folder behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from itptrial._errors import InputError, Problem

MANIFEST = ".itptrial-manifest.json"
# What signal.getsignal returns: a Python handler, SIG_DFL / SIG_IGN, or None.
Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None
STAGING_PREFIX = ".itptrial-staging-"


def _problem(path: Path, option: str, message: str) -> InputError:
    return InputError([Problem(str(path), None, option, message)])


def _existing_ancestor(path: Path) -> Path:
    for ancestor in path.absolute().parents:
        if ancestor.exists():
            return ancestor
    return Path("/")  # pragma: no cover - the root exists


def _writable_place(path: Path, option: str) -> None:
    ancestor = _existing_ancestor(path)
    if not ancestor.is_dir():
        raise _problem(path, option, f"{ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise _problem(path, option, f"cannot write in {ancestor}")


def _inside(path: Path, inputs: Iterable[Path]) -> Path | None:
    """The input that ``path`` is, or lies inside (the input itself for a file)."""
    target = path.absolute().resolve()
    for source in inputs:
        resolved = Path(source).absolute().resolve()
        if target == resolved or resolved in target.parents:
            return Path(source)
    return None


def check_output_file(path: Path, option: str = "--out", inputs: Sequence[Path] = ()) -> None:
    """``path`` can be written as a file: not a folder, not in an input, no conflict."""
    if path.is_dir():
        raise _problem(path, option, "is a folder; give a file name")
    source = _inside(path, inputs)
    if source is not None:
        raise _problem(path, option, f"is inside the input {source}; write somewhere else")
    _writable_place(path, option)
    check_output(path.parent, [path.name], option=option)


def check_output_folder(
    path: Path, option: str = "--out", inputs: Sequence[Path] = (), names: Sequence[str] = ()
) -> None:
    """``path`` can be (or already is) a folder to write ``names`` into."""
    if path.exists() and not path.is_dir():
        raise _problem(path, option, "is a file; give a folder")
    if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
        raise _problem(path, option, "cannot write in this folder")
    if not path.is_dir():
        _writable_place(path, option)
    check_output(path, names, option=option, inputs=inputs)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: Path) -> dict[str, dict[str, str]]:
    """relative path -> {"sha256", "command"} of the files itptrial wrote in ``folder``
    (empty when there is no manifest, or it cannot be read: nothing is then replaced)."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = data["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return files if isinstance(files, dict) else {}


def _ours(folder: Path, name: str, manifest: dict[str, dict[str, str]]) -> bool:
    """The file at ``name`` was written by itptrial and is unchanged since."""
    path = folder / name
    entry = manifest.get(name)
    return path.is_file() and entry is not None and entry.get("sha256") == sha256(path)


def conflicts(folder: Path, names: Iterable[str]) -> list[str]:
    """The names that exist in ``folder`` but may not be replaced (not written by
    itptrial, or changed since it wrote them)."""
    if not folder.is_dir():
        return []
    manifest = read_manifest(folder)
    return [
        name
        for name in names
        if os.path.lexists(folder / name) and not _ours(folder, name, manifest)
    ]


def _conflict_error(folder: Path, names: Sequence[str], option: str) -> InputError:
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    message = (
        f"would replace {shown}, which itptrial did not write (or which changed since): "
        "move it away or choose another output"
    )
    return _problem(folder, option, message)


def check_output(
    folder: Path, names: Sequence[str], option: str = "--out", inputs: Sequence[Path] = ()
) -> None:
    """Before any work: ``folder`` is not in an input, and writing ``names`` there would
    replace only files itptrial wrote."""
    source = _inside(folder, inputs)
    if source is not None:
        raise _problem(folder, option, f"is inside the input {source}; write somewhere else")
    found = conflicts(folder, names)
    if found:
        raise _conflict_error(folder, found, option)


def _files_below(root: Path) -> list[str]:
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())


def _public(path: Path) -> None:
    """mkdtemp makes a folder private; an output folder is as the umask says."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o777 & ~umask)


def _write_manifest(folder: Path, manifest: dict[str, dict[str, str]]) -> None:
    text = json.dumps({"written_by": "itptrial", "files": manifest}, indent=1, sort_keys=True)
    temporary = folder / f"{MANIFEST}.tmp"
    temporary.write_text(text + "\n", encoding="utf-8")
    temporary.replace(folder / MANIFEST)


def _commit(staging: Path, folder: Path, command: str, replaces: Sequence[str]) -> None:
    """Move the staged files into ``folder`` (re-checking for conflicts first), remove the
    stale files of earlier runs of ``command`` and update the manifest."""
    written = _files_below(staging)
    manifest = read_manifest(folder) if folder.is_dir() else {}
    found = conflicts(folder, [*written, *(n for n in replaces if n not in written)])
    if found:
        raise _conflict_error(folder, found, "--out")
    hashes = {name: sha256(staging / name) for name in written}
    stale = [
        name
        for name, entry in manifest.items()
        if entry.get("command") == command and name not in written and _ours(folder, name, manifest)
    ]
    if not folder.exists():  # a new folder: it appears whole, in one rename
        for name in written:
            manifest[name] = {"sha256": hashes[name], "command": command}
        _write_manifest(staging, manifest)
        _public(staging)
        staging.replace(folder)
        return
    for name in written:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        (staging / name).replace(target)
        manifest[name] = {"sha256": hashes[name], "command": command}
    for name in [*stale, *(n for n in replaces if n not in written)]:
        if os.path.lexists(folder / name):
            (folder / name).unlink()
        manifest.pop(name, None)
    _write_manifest(folder, manifest)


@contextmanager
def staged_output(folder: str | Path, command: str, replaces: Sequence[str] = ()) -> Iterator[Path]:
    """A staging folder to write every output into; on success the files move into
    ``folder`` together (``replaces``: other files of ours this write makes obsolete);
    on any error or interruption nothing changes and the staging folder is removed."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    base = folder if folder.is_dir() else folder.parent
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=base))
    try:
        yield staging
        with _signals_held():
            _commit(staging, folder, command, replaces)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def staged_file(path: str | Path, command: str) -> Iterator[Path]:
    """One output file (``--out FILE``): the staging path to write it to, moved into
    place on success. Each file is its own output: writing ``b.html`` never removes the
    ``a.html`` an earlier run of the command wrote beside it (as a folder output's
    stale files are removed)."""
    path = Path(path)
    with staged_output(path.parent, f"{command} > {path.name}") as staging:
        yield staging / path.name


@contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait while the files move into place (a fraction of a second),
    so an interruption never leaves half of them moved.

    The signals are recorded by a Python handler and acted on right after, with the
    handler that was there before. (Blocking them with ``pthread_sigmask`` lost them:
    the kernel may hand a blocked signal to another thread, such as a progress bar's.)
    Handlers can only be set in the main thread; elsewhere nothing is held.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = (signal.SIGINT, signal.SIGTERM)
    received: list[int] = []
    previous: dict[int, Handler] = {int(s): signal.getsignal(s) for s in held}
    for sig in held:
        signal.signal(sig, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if received:
            _act_on(received[0], previous[received[0]])


def _act_on(signum: int, handler: Handler) -> None:
    """What the signal would have done, had it not waited."""
    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL:
        signal.raise_signal(signum)
