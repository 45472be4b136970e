"""Character Card V2/V3 import: PNG and JSON cards through `seed_personas` and admin upload."""

from __future__ import annotations

import base64
import json
import shutil
import struct
import zlib
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from personas.cards import DEFAULT_SYSTEM_PROMPT, fill_placeholders, parse_card
from personas.loader import PersonaFileError
from personas.models import PersonaGenome

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "personas"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

V2_CARD = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {
        "name": "Mira",
        "description": "{{char}} keeps the lighthouse on a windy island.",
        "personality": "wry, patient, hums sea shanties",
        "scenario": "{{user}} rows over with the weekly supplies.",
        "first_mes": "*{{char}} leans on the railing.* There you are, {{user}}.",
        "mes_example": "<START>\n{{user}}: Is it lonely?\n{{char}}: Only on Tuesdays.",
        "creator_notes": "Best for slow chats.",
        "system_prompt": "",
        "post_history_instructions": "",
        "alternate_greetings": ["Ahoy, {{user}}."],
        "tags": ["slice of life", "sea"],
        "creator": "anna",
        "character_version": "1.2",
        "extensions": {"depth_prompt": {"depth": 4, "prompt": "unused"}},
        "character_book": None,
    },
}

V3_CARD = {
    "spec": "chara_card_v3",
    "spec_version": "3.0",
    "data": {
        "name": "Captain Oyelaran",
        "nickname": "Cap",
        "description": "A retired ferry captain who tells tall tales.",
        "personality": "booming, generous",
        "scenario": "",
        "first_mes": "Welcome aboard!",
        "mes_example": "",
        "creator_notes": None,
        "system_prompt": "{{original}} Speak like an old sailor.",
        "post_history_instructions": "",
        "alternate_greetings": [],
        "group_only_greetings": [],
        "tags": ["sailing"],
        "creator": "",
        "character_version": "3",
        "extensions": {},
        "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
        "creation_date": 1700000000,
    },
}


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_card(**chunks: dict) -> bytes:
    """A 1×1 PNG carrying each card as base64 JSON in a ``tEXt`` chunk named by its keyword."""
    out = PNG_SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    out += _chunk(b"IDAT", zlib.compress(b"\x00\x20\x40\x60"))
    for keyword, card in chunks.items():
        text = base64.b64encode(json.dumps(card).encode("utf-8"))
        out += _chunk(b"tEXt", keyword.encode("latin-1") + b"\0" + text)
    return out + _chunk(b"IEND", b"")


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_personas", *args, stdout=out)
    return out.getvalue()


# --- reading cards (no database) -------------------------------------------------------------


def test_a_v2_png_card_maps_onto_a_persona_spec():
    spec = parse_card(png_card(chara=V2_CARD), "mira.png")

    assert spec.name == "Mira"
    assert spec.greeting == "*{{char}} leans on the railing.* There you are, {{user}}."
    assert spec.system_prompt == DEFAULT_SYSTEM_PROMPT
    assert (spec.tip_personality, spec.avatar_url) == (None, None)
    assert spec.art_metadata == {
        "card_spec": "chara_card_v2",
        "description": "{{char}} keeps the lighthouse on a windy island.",
        "personality": "wry, patient, hums sea shanties",
        "scenario": "{{user}} rows over with the weekly supplies.",
        "example_dialogue": "<START>\n{{user}}: Is it lonely?\n{{char}}: Only on Tuesdays.",
        "creator_notes": "Best for slow chats.",
        "alternate_greetings": ["Ahoy, {{user}}."],
        "tags": ["slice of life", "sea"],
        "creator": "anna",
        "character_version": "1.2",
    }


def test_the_ccv3_chunk_wins_over_the_chara_chunk_of_the_same_png():
    spec = parse_card(png_card(chara=V2_CARD, ccv3=V3_CARD), "both.png")

    assert spec.name == "Captain Oyelaran"
    assert spec.art_metadata["card_spec"] == "chara_card_v3"


def test_a_compressed_itxt_chunk_is_read_too():
    text = base64.b64encode(json.dumps(V2_CARD).encode())
    itxt = b"chara\0\x01\x00\0\0" + zlib.compress(text)
    data = png_card()[:-12] + _chunk(b"iTXt", itxt) + _chunk(b"IEND", b"")

    assert parse_card(data, "itxt.png").name == "Mira"


def test_a_flat_v1_card_is_read():
    v1 = {k: V2_CARD["data"][k] for k in ("name", "description", "first_mes", "mes_example")}

    spec = parse_card(json.dumps(v1).encode(), "old.json")

    assert (spec.name, spec.art_metadata["card_spec"]) == ("Mira", "chara_card_v1")


def _without_name(card):
    card["data"].pop("name")


def _blank_name(card):
    card["data"]["name"] = "  "


def _number_tag(card):
    card["data"]["tags"] = ["sea", 7]


def _unknown_spec(card):
    card["spec"] = "chara_card_v9"


def _object_description(card):
    card["data"]["description"] = {"text": "hi"}


@pytest.mark.parametrize(
    ("break_card", "field", "reason"),
    [
        (_without_name, "data.name", "missing"),
        (_blank_name, "data.name", "must not be blank"),
        (_number_tag, "data.tags[1]", "input should be a valid string"),
        (_unknown_spec, "spec", "input should be 'chara_card_v2' or 'chara_card_v3'"),
        (_object_description, "data.description", "input should be a valid string"),
    ],
)
def test_a_bad_card_names_the_field(break_card, field, reason):
    card = json.loads(json.dumps(V2_CARD))
    break_card(card)

    with pytest.raises(PersonaFileError) as caught:
        parse_card(png_card(chara=card), "bad.png")

    assert (caught.value.field, caught.value.reason) == (field, reason)
    assert str(caught.value) == f"bad.png: {field}: {reason}"


@pytest.mark.parametrize(
    ("data", "field", "reason_start"),
    [
        (png_card(), "png", "no 'chara' or 'ccv3' text chunk"),
        (png_card()[:-12] + _chunk(b"tEXt", b"chara\0not*base64!"), "chara", "not valid base64"),
        (png_card(chara=V2_CARD)[:-5], "png", "truncated"),
        (PNG_SIGNATURE + b"\x00\x00\x00\x00IEND\x00\x00\x00\x00", "png", "IEND chunk fails"),
        (b'{"spec": "chara_card_v2", "data": ', None, "invalid JSON"),
        (b"[1, 2]", None, "a card must be a JSON object"),
    ],
    ids=["no-card-chunk", "bad-base64", "truncated", "bad-crc", "not-json", "not-an-object"],
)
def test_a_broken_file_says_what_is_wrong(data, field, reason_start):
    with pytest.raises(PersonaFileError) as caught:
        parse_card(data, "broken.png")

    assert caught.value.field == field
    assert caught.value.reason.startswith(reason_start), caught.value.reason


def test_placeholders_are_filled_in_every_spelling():
    text = "{{char}} & {{ CHAR }} meet {{user}}, {{User}} and <USER>; <BOT> waves."

    assert fill_placeholders(text, char="Mira", user="Sam") == (
        "Mira & Mira meet Sam, Sam and Sam; Mira waves."
    )


# --- seed_personas ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_personas_imports_a_v2_png_card_given_with_card(tmp_path):
    card = tmp_path / "mira.png"
    card.write_bytes(png_card(chara=V2_CARD))

    output = seed("--card", str(card))

    assert "inserted  Mira" in output and "1 inserted" in output
    genome = PersonaGenome.objects.get()  # --card alone reads no directory
    assert genome.name == "Mira" and genome.is_active
    assert genome.greeting == "*{{char}} leans on the railing.* There you are, {{user}}."
    assert genome.system_prompt == DEFAULT_SYSTEM_PROMPT
    assert genome.art_metadata["example_dialogue"].endswith("{{char}}: Only on Tuesdays.")
    assert genome.art_metadata["tags"] == ["slice of life", "sea"]

    assert "1 unchanged" in seed("--card", str(card))  # idempotent, upserted by name


@pytest.mark.django_db
def test_seed_personas_reads_json_cards_beside_the_toml_files(tmp_path):
    shutil.copy(FIXTURES / "juno.toml", tmp_path / "juno.toml")
    (tmp_path / "oyelaran.json").write_text(json.dumps(V3_CARD), encoding="utf-8")

    output = seed(str(tmp_path))

    assert "2 inserted" in output
    genome = PersonaGenome.objects.get(name="Captain Oyelaran")
    assert genome.greeting == "Welcome aboard!"
    assert genome.system_prompt == f"{DEFAULT_SYSTEM_PROMPT} Speak like an old sailor."
    assert genome.art_metadata == {
        "card_spec": "chara_card_v3",
        "description": "A retired ferry captain who tells tall tales.",
        "personality": "booming, generous",
        "character_version": "3",
        "nickname": "Cap",
        "tags": ["sailing"],
    }
    assert PersonaGenome.objects.get(name="Juno").greeting.startswith("Oi, {{user}}.")


@pytest.mark.django_db
def test_a_bad_card_stops_seeding_before_anything_is_written(tmp_path):
    shutil.copy(FIXTURES / "juno.toml", tmp_path / "juno.toml")
    card = json.loads(json.dumps(V3_CARD))
    del card["data"]["name"]
    bad = tmp_path / "nameless.json"
    bad.write_text(json.dumps(card), encoding="utf-8")

    with pytest.raises(CommandError) as caught:
        seed(str(tmp_path))

    assert str(caught.value) == f"nothing was written: {bad}: data.name: missing"
    assert not PersonaGenome.objects.exists()


# --- the card reaches the prompt and the greeting ------------------------------------------


@pytest.mark.django_db
def test_an_imported_card_speaks_through_the_prompt_and_greets_by_name(
    tmp_path, client_for, alice, settings
):
    from eros.llm.base import TASK_CHAT
    from eros.llm.fakes import FakeChatModel
    from insights.services import insight_merge

    card = tmp_path / "mira.png"
    card.write_bytes(png_card(chara=V2_CARD))
    seed("--card", str(card))
    insight_merge(user_id=alice, facts={"preferred_name": "Sam"})
    model = FakeChatModel(["Only on Tuesdays."])
    settings.EROS_CHAT_MODEL = model
    client = client_for(alice)
    genome = PersonaGenome.objects.get(name="Mira")

    session_id = client.post(
        "/comp/chat/start", {"genome_id": str(genome.id)}, format="json"
    ).json()["session_id"]
    client.post(f"/comp/chat/{session_id}/message", {"message": "Lonely here?"}, format="json")

    history = client.get(f"/comp/chat/{session_id}/history").json()["messages"]
    assert history[0]["content"] == "*Mira leans on the railing.* There you are, Sam."
    (chat,) = [r for r in model.requests if r.task == TASK_CHAT]
    system = chat.messages[0].content
    assert system.startswith("You are Mira. Stay in character as Mira;")
    assert "Description: Mira keeps the lighthouse on a windy island." in system
    assert "Personality: wry, patient, hums sea shanties" in system
    assert "Scenario: Sam rows over with the weekly supplies." in system
    assert "Sam: Is it lonely?\nMira: Only on Tuesdays." in system
    assert "<START>" not in system and "{{" not in system
    assert "Best for slow chats" not in system  # creator notes are for people, not the model


# --- admin upload ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_genome_list_links_to_the_card_import(admin_client):
    response = admin_client.get("/admin/personas/personagenome/")

    assert response.status_code == 200
    assert b"/admin/personas/personagenome/import-card/" in response.content


@pytest.mark.django_db
def test_an_admin_upload_imports_a_card_and_opens_the_new_genome(admin_client):
    page = admin_client.get("/admin/personas/personagenome/import-card/")
    assert page.status_code == 200 and b'type="file"' in page.content

    upload = SimpleUploadedFile("mira.png", png_card(chara=V2_CARD), content_type="image/png")
    response = admin_client.post("/admin/personas/personagenome/import-card/", {"card": upload})

    genome = PersonaGenome.objects.get(name="Mira")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/personas/personagenome/{genome.id}/change/"
    assert genome.greeting.startswith("*{{char}} leans on the railing.*")
    follow = admin_client.get(response["Location"])
    assert b"Mira: inserted from mira.png." in follow.content


@pytest.mark.django_db
def test_an_admin_upload_of_a_bad_card_shows_the_field_and_writes_nothing(admin_client):
    card = json.loads(json.dumps(V3_CARD))
    card["data"]["tags"] = "sailing"
    upload = SimpleUploadedFile("cap.json", json.dumps(card).encode(), "application/json")

    response = admin_client.post("/admin/personas/personagenome/import-card/", {"card": upload})

    assert response.status_code == 200
    assert b"data.tags: input should be a valid list" in response.content
    assert not PersonaGenome.objects.exists()


@pytest.mark.django_db
def test_the_card_import_needs_the_right_to_add_genomes(client, django_user_model):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_personagenome"))
    client.force_login(viewer)
    upload = SimpleUploadedFile("mira.png", png_card(chara=V2_CARD), content_type="image/png")

    response = client.post("/admin/personas/personagenome/import-card/", {"card": upload})

    assert response.status_code == 403
    assert not PersonaGenome.objects.exists()
