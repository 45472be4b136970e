"""Persona files: parse and validate `fixtures/personas/*.toml` into `PersonaSpec` values.

Pure: stdlib only, no Django, no database. `seed_personas` writes what this module returns,
and admin reuses `validate_art_metadata` for edits. File format: reference
eros-engine-core.md §3; directory rules: reference eros-engine-server.md §3.1, tightened so a
bad file aborts the run before anything is written.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

__all__ = [
    "ArtMetadataError",
    "PersonaFileError",
    "PersonaSpec",
    "load_persona_dir",
    "load_persona_file",
    "validate_art_metadata",
]

# `age` is an i32 in the reference; a negative age is never meaningful, so the floor is 0.
AGE_MIN = 0
AGE_MAX = 2**31 - 1

# Rust `str::trim()` strips exactly the Unicode White_Space set; Python's `str.strip()` also
# strips U+001C..U+001F. Reference eros-engine-core.md §0.
_RUST_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)

_STRING_KEYS = (
    "gender",
    "mbti",
    "backstory",
    "speech_style",
    # Character-card fields (personas.cards); the prompt renders the first four.
    "description",
    "personality",
    "scenario",
    "example_dialogue",
    "creator_notes",
)
_STRING_ARRAY_KEYS = ("quirks", "topics", "tags", "alternate_greetings")


@dataclass(frozen=True)
class PersonaSpec:
    """One persona genome as read from a file, ready to upsert by `name`.

    `name` and `system_prompt` are trimmed and non-blank; `tip_personality`, `avatar_url`
    and `greeting` are trimmed strings or None (absent or blank); `art_metadata` is a
    JSON-compatible dict, `{}` when the file has no `[art_metadata]` table.
    """

    name: str
    system_prompt: str
    tip_personality: str | None
    avatar_url: str | None
    art_metadata: dict[str, Any]
    path: Path
    greeting: str | None = None


class ArtMetadataError(ValueError):
    """An `art_metadata` value has the wrong type or range.

    `field` is the dotted key relative to art_metadata (e.g. "age", "extra.when"), or None
    when the value itself is not an object; `reason` says what was expected.
    """

    def __init__(self, field: str | None, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}" if field else reason)


class PersonaFileError(Exception):
    """A persona file or directory cannot be used; nothing from the run should be written.

    `path` is the offending file or directory; `field` is the dotted key
    (e.g. "art_metadata.age"), or None for whole-file problems such as TOML syntax;
    `reason` says what is wrong. str() reads "<path>: <field>: <reason>".
    """

    def __init__(self, path: Path | str, field: str | None, reason: str) -> None:
        self.path = Path(path)
        self.field = field
        self.reason = reason
        where = f"{path}: {field}" if field else f"{path}"
        super().__init__(f"{where}: {reason}")


def _trim(value: str) -> str:
    return value.strip(_RUST_WHITESPACE)


def _type_name(value: Any) -> str:
    # TOML vocabulary, because operators read these messages while editing TOML.
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime | date | time):
        return "a date/time"
    if value is None:
        return "null"
    return type(value).__name__


def _check_json_compatible(value: Any, field: str) -> None:
    # art_metadata lands in a JSONB column: TOML dates/times have no JSON form, and
    # Postgres rejects NaN and infinities inside JSON.
    if isinstance(value, dict):
        for key, item in value.items():
            _check_json_compatible(item, f"{field}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json_compatible(item, f"{field}[{index}]")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ArtMetadataError(field, "must be a finite number, not nan or inf")
    elif not (value is None or isinstance(value, str | int | float)):
        raise ArtMetadataError(field, f"must be JSON-compatible, got {_type_name(value)}")


def validate_art_metadata(data: Any) -> dict[str, Any]:
    """Check the conventional `art_metadata` keys and return the dict unchanged.

    Known keys: gender, mbti, backstory, speech_style, description, personality, scenario,
    example_dialogue, creator_notes -> string; model -> non-blank string (an OpenRouter-style
    slug); age -> integer in [0, 2147483647], not a boolean; quirks, topics, tags,
    alternate_greetings -> array of strings. Other keys pass through but must be
    JSON-compatible (no dates, NaN or inf). Raises ArtMetadataError(field, reason) on the
    first problem; reference eros-engine-core.md §3.
    """
    if not isinstance(data, dict):
        raise ArtMetadataError(None, f"must be a table, got {_type_name(data)}")
    for key in _STRING_KEYS:
        if key in data and not isinstance(data[key], str):
            raise ArtMetadataError(key, f"must be a string, got {_type_name(data[key])}")
    if "model" in data:
        model = data["model"]
        # The reference silently ignores a non-string override; eros refuses it instead,
        # and a blank slug would only fail later at the provider.
        if not isinstance(model, str) or not _trim(model):
            raise ArtMetadataError("model", "must be a non-blank string (a model slug)")
    if "age" in data:
        age = data["age"]
        if isinstance(age, bool) or not isinstance(age, int) or not AGE_MIN <= age <= AGE_MAX:
            raise ArtMetadataError("age", f"must be an integer between {AGE_MIN} and {AGE_MAX}")
    for key in _STRING_ARRAY_KEYS:
        if key not in data:
            continue
        items = data[key]
        if not isinstance(items, list):
            raise ArtMetadataError(key, f"must be an array of strings, got {_type_name(items)}")
        for index, item in enumerate(items):
            if not isinstance(item, str):
                raise ArtMetadataError(
                    key,
                    f"must be an array of strings (item {index} is {_type_name(item)})",
                )
    for key, value in data.items():
        _check_json_compatible(value, key)
    return data


def _required_text(raw: dict[str, Any], key: str, path: Path) -> str:
    if key not in raw:
        raise PersonaFileError(path, key, "is required")
    value = raw[key]
    if not isinstance(value, str):
        raise PersonaFileError(path, key, f"must be a string, got {_type_name(value)}")
    text = _trim(value)
    if not text:
        raise PersonaFileError(path, key, "must not be blank")
    return text


def _optional_text(raw: dict[str, Any], key: str, path: Path) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PersonaFileError(path, key, f"must be a string, got {_type_name(value)}")
    return _trim(value) or None


def load_persona_file(path: Path | str) -> PersonaSpec:
    """Parse one persona TOML file into a PersonaSpec.

    Keys: `name` and `system_prompt` (required non-blank strings, trimmed),
    `tip_personality`, `avatar_url` and `greeting` (optional strings; blank counts as
    absent; the greeting may use the `{{user}}` and `{{char}}` placeholders),
    `[art_metadata]` (optional table, checked by validate_art_metadata). Unknown top-level
    keys are ignored, as in the reference. Raises PersonaFileError: field None for an
    unreadable file, invalid UTF-8 or a TOML syntax error (whose reason names the line).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PersonaFileError(path, None, f"cannot read file: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PersonaFileError(path, None, f"not valid UTF-8 (byte offset {exc.start})") from exc
    try:
        # tomllib's message ends with "(at line N, column M)".
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PersonaFileError(path, None, f"invalid TOML: {exc}") from exc

    name = _required_text(raw, "name", path)
    system_prompt = _required_text(raw, "system_prompt", path)
    tip_personality = _optional_text(raw, "tip_personality", path)
    avatar_url = _optional_text(raw, "avatar_url", path)
    greeting = _optional_text(raw, "greeting", path)

    # The reference stores JSON null when the table is absent; eros stores {} so that
    # every reader can treat art_metadata as an object without a None check.
    art_metadata = raw.get("art_metadata", {})
    try:
        validate_art_metadata(art_metadata)
    except ArtMetadataError as exc:
        field = f"art_metadata.{exc.field}" if exc.field else "art_metadata"
        raise PersonaFileError(path, field, exc.reason) from exc

    return PersonaSpec(
        name=name,
        system_prompt=system_prompt,
        tip_personality=tip_personality,
        avatar_url=avatar_url,
        art_metadata=art_metadata,
        path=path,
        greeting=greeting,
    )


def load_persona_dir(directory: Path | str) -> list[PersonaSpec]:
    """Load every `*.toml` file in a directory, all or nothing.

    Files are read in filename order (not recursive; other files are skipped). Every file
    is parsed before the list is returned, so a caller that writes only afterwards writes
    nothing when any file is bad. Raises PersonaFileError for the first bad file, for a
    `name` already used by an earlier file (the reason names that file), or with field
    None when the directory is missing, is not a directory or holds no .toml file.
    """
    directory = Path(directory)
    if not directory.exists():
        raise PersonaFileError(directory, None, "directory does not exist")
    if not directory.is_dir():
        raise PersonaFileError(directory, None, "not a directory")
    # Extension must be exactly ".toml", as in the reference.
    files = sorted(
        (entry for entry in directory.iterdir() if entry.suffix == ".toml" and entry.is_file()),
        key=lambda entry: entry.name,
    )
    if not files:
        raise PersonaFileError(directory, None, "holds no .toml persona files")

    specs: list[PersonaSpec] = []
    seen: dict[str, Path] = {}
    for file in files:
        spec = load_persona_file(file)
        # Seeding upserts by name, so a second file with the same name would silently
        # overwrite the first.
        if spec.name in seen:
            raise PersonaFileError(
                file, "name", f"duplicate name {spec.name!r}, also used in {seen[spec.name]}"
            )
        seen[spec.name] = file
        specs.append(spec)
    return specs
