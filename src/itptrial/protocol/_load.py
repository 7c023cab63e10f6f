"""Loading protocols: presets, TOML files, ``extends``, and writing them back as TOML.

A file may start with ``extends = "<preset or path>"`` and give only what it changes.
Tables are merged key by key; arrays (``[[arms]]``, ``[[endpoints.landmark]]``, lists of
days) replace the parent's. ``replace = ["regimens"]`` takes the listed tables from this
file alone, and ``remove = ["rescue", "regimens.tacrolimus"]`` drops inherited ones, so
that a trial with other arms need not copy its parent's regimens (docs/protocol.md).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import ValidationError

from itptrial._errors import InputError, Problem, validation_problems
from itptrial._files import read_text_file, read_toml
from itptrial.protocol._model import Protocol

PRESETS = ("target020", "iwg2009")
INHERITANCE_KEYS = ("extends", "replace", "remove")


def _preset_path(name: str) -> Any:
    return resources.files("itptrial.protocol").joinpath(f"presets/{name}.toml")


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _has(tree: dict[str, Any], dotted: str) -> bool:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _without(tree: dict[str, Any], dotted: str) -> dict[str, Any]:
    """A copy of ``tree`` without the key at ``dotted`` (which exists)."""
    head, _, rest = dotted.partition(".")
    copy = dict(tree)
    if rest:
        copy[head] = _without(copy[head], rest)
    else:
        del copy[head]
    return copy


def _dotted_list(raw: dict[str, Any], key: str, source: str) -> list[str]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InputError([Problem(source, None, key, "must be a list of dotted key names")])
    return list(value)


def _inherit(base: dict[str, Any], raw: dict[str, Any], source: str) -> dict[str, Any]:
    """``raw`` merged onto its parent ``base``, after its ``replace`` and ``remove``."""
    replace = _dotted_list(raw, "replace", source)
    remove = _dotted_list(raw, "remove", source)
    problems = []
    for key, listed in (("replace", replace), ("remove", remove)):
        for dotted in listed:
            if not _has(base, dotted):
                problems.append(Problem(source, None, key, f"{dotted!r} is not in the parent"))
            elif key == "replace" and not _has(raw, dotted):
                message = f"{dotted!r} is replaced but this file does not give it (use remove)"
                problems.append(Problem(source, None, key, message))
            elif key == "remove" and _has(raw, dotted):
                message = f"{dotted!r} is removed but this file also gives it (use replace)"
                problems.append(Problem(source, None, key, message))
    if problems:
        raise InputError(problems)
    for dotted in (*replace, *remove):
        base = _without(base, dotted)
    own = {k: v for k, v in raw.items() if k not in INHERITANCE_KEYS}
    return _deep_merge(base, own)


def _raw_protocol(spec: str, seen: tuple[str, ...] = ()) -> tuple[dict[str, Any], str]:
    """The merged key/value tree of a preset name or TOML path, following ``extends``."""
    if spec in seen:
        raise InputError([Problem(spec, None, "extends", "circular 'extends' chain")])
    if spec in PRESETS:
        text, source = _preset_path(spec).read_text(encoding="utf-8"), f"preset {spec}"
    else:
        path = Path(spec)
        if not path.exists():
            known = ", ".join(PRESETS)
            message = f"no such protocol file, and not a preset ({known})"
            raise InputError([Problem(spec, None, None, message)])
        source = str(path)
        text = read_text_file(path, "protocol file")
    raw = read_toml(text, source)
    parent = raw.get("extends")
    if parent is None:
        stray = [key for key in ("replace", "remove") if key in raw]
        if stray:
            message = "only a protocol that extends another can replace or remove keys"
            raise InputError([Problem(source, None, key, message) for key in stray])
        return raw, source
    if not isinstance(parent, str):
        raise InputError([Problem(source, None, "extends", "must be a preset name or path")])
    if parent not in PRESETS and spec not in PRESETS:
        parent = str(Path(spec).parent / parent)  # relative to the extending file
    base, _ = _raw_protocol(parent, (*seen, spec))
    return _inherit(base, raw, source), source


def load_protocol(spec: str = "target020") -> Protocol:
    """Load a built-in preset (``target020``, ``iwg2009``) or a protocol TOML file.

    Raises :class:`InputError` naming the file and the dotted key of every problem
    (unknown keys, out-of-range values, inconsistent settings).
    """
    raw, source = _raw_protocol(spec)
    try:
        return Protocol.model_validate(raw).with_source(source)
    except ValidationError as exc:
        raise InputError(validation_problems(exc, source)) from None


def preset_text(name: str) -> str:
    """The readable TOML text of a built-in preset (with its comments)."""
    if name not in PRESETS:
        raise KeyError(name)
    text: str = _preset_path(name).read_text(encoding="utf-8")
    return text


def protocol_toml(protocol: Protocol) -> str:
    """The fully resolved protocol as TOML that loads back as the same protocol
    (``extends`` resolved, defaults written out, unset optional keys left out)."""
    data = protocol.model_dump(mode="json", exclude_none=True)
    return tomli_w.dumps(data)
