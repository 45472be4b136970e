"""Character cards (the persona files that chat communities share) read into `PersonaSpec`s.

Formats: Character Card V2 (`spec = "chara_card_v2"`) and V3 (`"chara_card_v3"`) as JSON
files, or as PNG images carrying the card as base64 JSON in a `tEXt` (or `zTXt`/`iTXt`)
chunk named `chara` (V2) or `ccv3` (V3; preferred when both are present). A flat V1 card (the
fields at the top level, no `spec`) is read too. Specifications:
github.com/malfoyslastname/character-card-spec-v2 and github.com/kwaroran/character-card-spec-v3.

Mapping onto a genome: `name` → name; `first_mes` → greeting; `system_prompt` → system
prompt (its `{{original}}` and an empty one become :data:`DEFAULT_SYSTEM_PROMPT`);
`description`, `personality`, `scenario`, `mes_example` (as `example_dialogue`),
`creator_notes`, `tags`, `alternate_greetings`, `post_history_instructions`, `creator`,
`character_version` and V3's `nickname` → `art_metadata` (blank values left out), plus
`card_spec`. Lorebooks (`character_book`), `extensions` and V3 assets are not imported.

Pure: stdlib and pydantic, no Django. Errors are :class:`~personas.loader.PersonaFileError`s
whose field is the card's dotted path (e.g. `data.name: missing`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictStr, ValidationError

from personas.loader import PersonaFileError, PersonaSpec, load_persona_file

__all__ = [
    "CARD_SUFFIXES",
    "DEFAULT_SYSTEM_PROMPT",
    "MAX_CARD_BYTES",
    "fill_placeholders",
    "load_card_file",
    "load_persona_sources",
    "parse_card",
]

#: Largest card file read, in bytes: PNG cards carry a full-size portrait.
MAX_CARD_BYTES = 20 * 1024 * 1024
#: File name endings read as character cards beside the `.toml` persona files.
CARD_SUFFIXES = (".json", ".png")
#: The system prompt of a card without one (and the value of its `{{original}}`).
DEFAULT_SYSTEM_PROMPT = (
    "You are {{char}}. Stay in character as {{char}}; if someone sincerely asks whether you "
    "are an AI, answer honestly, then carry on."
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CARD_CHUNKS = ("ccv3", "chara")  # preference order
_TEXT_CHUNK_TYPES = (b"tEXt", b"zTXt", b"iTXt")

# {{user}} / {{char}} in any case and spacing; <USER> / <BOT> are the older TavernAI spelling.
_PLACEHOLDER = re.compile(r"\{\{\s*(user|char)\s*\}\}|<(USER|BOT)>", re.IGNORECASE)


def fill_placeholders(text: str, *, char: str, user: str) -> str:
    """``text`` with ``{{char}}``/``<BOT>`` replaced by ``char`` and ``{{user}}``/``<USER>`` by
    ``user`` (case-insensitive, as character cards write them)."""

    def swap(match: re.Match[str]) -> str:
        which = (match.group(1) or match.group(2)).lower()
        return user if which == "user" else char

    return _PLACEHOLDER.sub(swap, text)


# --- the card schema ------------------------------------------------------------------------


def _none_as_empty_text(value: Any) -> Any:
    # Cards written by some editors carry null for fields they leave empty.
    return "" if value is None else value


def _none_as_empty_list(value: Any) -> Any:
    return [] if value is None else value


CardText = Annotated[StrictStr, BeforeValidator(_none_as_empty_text)]
CardList = Annotated[list[StrictStr], BeforeValidator(_none_as_empty_list)]


class CardData(BaseModel):
    """The fields of a card that eros maps (others are ignored). Strings must be strings."""

    model_config = ConfigDict(extra="ignore")

    name: StrictStr
    description: CardText = ""
    personality: CardText = ""
    scenario: CardText = ""
    first_mes: CardText = ""
    mes_example: CardText = ""
    creator_notes: CardText = ""
    system_prompt: CardText = ""
    post_history_instructions: CardText = ""
    alternate_greetings: CardList = []
    tags: CardList = []
    creator: CardText = ""
    character_version: CardText = ""
    nickname: CardText = ""


class Card(BaseModel):
    """A V2 or V3 card: ``spec`` names the version, ``data`` holds the character."""

    model_config = ConfigDict(extra="ignore")

    spec: Literal["chara_card_v2", "chara_card_v3"]
    data: CardData


def _where(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _first_error(exc: ValidationError, path: Path) -> PersonaFileError:
    error = exc.errors()[0]
    message = error["msg"]
    reason = "missing" if error["type"] == "missing" else message[:1].lower() + message[1:]
    return PersonaFileError(path, _where(error["loc"]) or None, reason)


# --- PNG text chunks ------------------------------------------------------------------------


def _inflate(data: bytes, path: Path, keyword: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_CARD_BYTES)
    except zlib.error as exc:
        raise PersonaFileError(path, keyword, f"compressed text does not inflate: {exc}") from exc
    if inflater.unconsumed_tail:  # a decompression bomb, or simply too big
        raise PersonaFileError(path, keyword, f"text is over {MAX_CARD_BYTES} bytes")
    return out


def png_text_chunks(data: bytes, path: Path) -> dict[str, str]:
    """The ``chara`` and ``ccv3`` text chunks of a PNG file, by lower-case keyword.

    Walks the chunks with ``struct`` and checks each CRC; reads ``tEXt`` (Latin-1), ``zTXt``
    and ``iTXt`` (compressed or not). Raises PersonaFileError (field ``png``) for a file that
    is not a PNG, is truncated or has a corrupt chunk.
    """
    if not data.startswith(PNG_SIGNATURE):
        raise PersonaFileError(path, "png", "not a PNG file (bad signature)")
    found: dict[str, str] = {}
    pos = len(PNG_SIGNATURE)
    while pos < len(data):
        if pos + 12 > len(data):
            raise PersonaFileError(path, "png", f"truncated chunk at byte {pos}")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 8 + length
        if end + 4 > len(data):
            raise PersonaFileError(path, "png", f"truncated {kind!r} chunk at byte {pos}")
        body = data[pos + 8 : end]
        (crc,) = struct.unpack(">I", data[end : end + 4])
        if zlib.crc32(kind + body) != crc:
            raise PersonaFileError(path, "png", f"{kind.decode('latin-1')} chunk fails its CRC")
        if kind in _TEXT_CHUNK_TYPES:
            keyword_bytes, _, rest = body.partition(b"\0")
            keyword = keyword_bytes.decode("latin-1").lower()
            if keyword in _CARD_CHUNKS:
                found[keyword] = _chunk_text(kind, rest, path, keyword)
        if kind == b"IEND":
            break
        pos = end + 4
    return found


def _chunk_text(kind: bytes, rest: bytes, path: Path, keyword: str) -> str:
    if kind == b"tEXt":
        return rest.decode("latin-1")
    if kind == b"zTXt":  # compression method byte, then zlib data
        return _inflate(rest[1:], path, keyword).decode("latin-1")
    # iTXt: compression flag, method, language tag\0, translated keyword\0, UTF-8 text
    flag = rest[:1] == b"\x01"
    _, _, after_language = rest[2:].partition(b"\0")
    _, _, text = after_language.partition(b"\0")
    raw = _inflate(text, path, keyword) if flag else text
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PersonaFileError(path, keyword, "iTXt text is not valid UTF-8") from exc


# --- reading cards --------------------------------------------------------------------------


def _card_json_from_png(data: bytes, path: Path) -> tuple[str, Any]:
    chunks = png_text_chunks(data, path)
    keyword = next((k for k in _CARD_CHUNKS if k in chunks), None)
    if keyword is None:
        raise PersonaFileError(path, "png", "no 'chara' or 'ccv3' text chunk: not a character card")
    try:
        decoded = base64.b64decode("".join(chunks[keyword].split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PersonaFileError(path, keyword, "not valid base64") from exc
    return keyword, _json(decoded, path, keyword)


def _json(raw: bytes, path: Path, where: str | None) -> Any:
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise PersonaFileError(path, where, f"not valid UTF-8 (byte offset {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise PersonaFileError(path, where, f"invalid JSON: {exc}") from exc


def parse_card(data: bytes, path: Path | str) -> PersonaSpec:
    """Read a card from the bytes of a PNG or JSON file (``path`` names it in errors).

    A PNG (by its signature) must carry a ``ccv3`` or ``chara`` chunk; anything else is read
    as JSON. Raises PersonaFileError naming the field: ``spec`` for an unknown version,
    ``data.name: missing``, ``data.tags[1]: input should be a valid string``, ``png`` or the
    chunk name for a broken image.
    """
    path = Path(path)
    if len(data) > MAX_CARD_BYTES:
        raise PersonaFileError(path, None, f"file is over {MAX_CARD_BYTES} bytes")
    if data.startswith(PNG_SIGNATURE):
        _, raw = _card_json_from_png(data, path)
    else:
        raw = _json(data, path, None)
    return card_to_spec(raw, path)


def card_to_spec(raw: Any, path: Path) -> PersonaSpec:
    """Validate a decoded card (V3, V2 or flat V1) and map it onto a PersonaSpec."""
    if not isinstance(raw, dict):
        raise PersonaFileError(path, None, "a card must be a JSON object")
    try:
        if "spec" not in raw and "data" not in raw:  # V1: the fields at the top level
            spec_name, data = "chara_card_v1", CardData.model_validate(raw)
        else:
            card = Card.model_validate(raw)
            spec_name, data = card.spec, card.data
    except ValidationError as exc:
        raise _first_error(exc, path) from exc
    prefix = "" if spec_name == "chara_card_v1" else "data."

    name = data.name.strip()
    if not name:
        raise PersonaFileError(path, f"{prefix}name", "must not be blank")
    system_prompt = data.system_prompt.strip().replace("{{original}}", DEFAULT_SYSTEM_PROMPT)
    art_metadata: dict[str, Any] = {"card_spec": spec_name}
    for key, value in (
        ("description", data.description),
        ("personality", data.personality),
        ("scenario", data.scenario),
        ("example_dialogue", data.mes_example),
        ("creator_notes", data.creator_notes),
        ("post_history_instructions", data.post_history_instructions),
        ("creator", data.creator),
        ("character_version", data.character_version),
        ("nickname", data.nickname),
    ):
        if value.strip():
            art_metadata[key] = value.strip()
    for key, items in (("tags", data.tags), ("alternate_greetings", data.alternate_greetings)):
        kept = [item.strip() for item in items if item.strip()]
        if kept:
            art_metadata[key] = kept
    # Only strings and lists of strings go in, so validate_art_metadata holds by construction.
    return PersonaSpec(
        name=name,
        system_prompt=system_prompt or DEFAULT_SYSTEM_PROMPT,
        tip_personality=None,
        avatar_url=None,
        art_metadata=art_metadata,
        path=path,
        greeting=data.first_mes.strip() or None,
    )


def load_card_file(path: Path | str) -> PersonaSpec:
    """Read one card file (``.png`` or ``.json``); raises PersonaFileError like parse_card."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_CARD_BYTES:
            raise PersonaFileError(path, None, f"file is over {MAX_CARD_BYTES} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise PersonaFileError(path, None, f"cannot read file: {exc.strerror or exc}") from exc
    return parse_card(data, path)


def load_persona_sources(
    directory: Path | str | None = None, cards: Iterable[Path | str] = ()
) -> list[PersonaSpec]:
    """Every persona of ``directory`` (``*.toml`` files and ``*.json``/``*.png`` cards, in
    filename order) and of the ``cards`` files, all or nothing.

    Raises PersonaFileError for the first bad file, for a name already used by an earlier file
    (the reason names it), or with field None when the directory is missing, is not a
    directory, or holds no persona file while no ``cards`` are given.
    """
    files: list[Path] = []
    if directory is not None:
        directory = Path(directory)
        if not directory.exists():
            raise PersonaFileError(directory, None, "directory does not exist")
        if not directory.is_dir():
            raise PersonaFileError(directory, None, "not a directory")
        files = sorted(
            (
                entry
                for entry in directory.iterdir()
                if entry.is_file() and entry.suffix in (".toml", *CARD_SUFFIXES)
            ),
            key=lambda entry: entry.name,
        )
        if not files and not cards:
            raise PersonaFileError(
                directory, None, "holds no persona files (.toml, or .json/.png cards)"
            )
    files += [Path(card) for card in cards]

    specs: list[PersonaSpec] = []
    seen: dict[str, Path] = {}
    for file in files:
        spec = load_persona_file(file) if file.suffix == ".toml" else load_card_file(file)
        # Seeding upserts by name: a second file with the same name would overwrite the first.
        if spec.name in seen:
            raise PersonaFileError(
                file, "name", f"duplicate name {spec.name!r}, also used in {seen[spec.name]}"
            )
        seen[spec.name] = file
        specs.append(spec)
    return specs
