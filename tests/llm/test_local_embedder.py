"""The ``local`` embedder: shape, normalisation, determinism and lexical similarity."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eros.llm.base import Embedder
from eros.llm.embeddings_local import LocalEmbedder

ROOT = Path(__file__).resolve().parents[2]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))  # both are unit vectors


@pytest.fixture
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


def test_local_embedder_satisfies_the_embedder_protocol(embedder):
    assert isinstance(embedder, Embedder)
    assert (embedder.name, embedder.dim) == ("local", 512)


def test_vectors_have_dim_floats_and_unit_norm(embedder):
    vector = embedder.embed_query("I adopted a dog called Biscuit last spring.")
    assert len(vector) == 512
    assert all(isinstance(x, float) for x in vector)
    assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-12)


def test_custom_dim_is_honoured():
    vector = LocalEmbedder(dim=64).embed_query("hello there")
    assert len(vector) == 64
    assert math.isclose(sum(x * x for x in vector), 1.0, rel_tol=1e-12)


@pytest.mark.parametrize("dim", [0, -1, 2.5, True])
def test_invalid_dim_is_rejected(dim):
    with pytest.raises(ValueError):
        LocalEmbedder(dim=dim)


def test_documents_and_queries_share_features(embedder):
    texts = ["Lives in Lisbon", "Loves hiking"]
    assert embedder.embed_documents(texts) == [embedder.embed_query(t) for t in texts]


def test_embed_documents_keeps_order_and_handles_empty_batch(embedder):
    assert embedder.embed_documents([]) == []
    first, second = embedder.embed_documents(["cats", "dogs"])
    assert first == embedder.embed_query("cats")
    assert second == embedder.embed_query("dogs")


def test_same_text_gives_the_same_vector_across_instances(embedder):
    assert LocalEmbedder().embed_query("Strong tea, rainy commutes") == embedder.embed_query(
        "Strong tea, rainy commutes"
    )


def test_vectors_do_not_depend_on_python_hash_randomisation(embedder):
    code = (
        "import json; from eros.llm.embeddings_local import LocalEmbedder; "
        "print(json.dumps(LocalEmbedder().embed_query('night owl who loves jazz')))"
    )
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, check=True
        )
        outputs.append(json.loads(done.stdout))
    assert outputs[0] == outputs[1] == embedder.embed_query("night owl who loves jazz")


def test_case_and_punctuation_do_not_matter(embedder):
    assert embedder.embed_query("I LOVE hiking!!") == embedder.embed_query("i love hiking")


def test_related_texts_are_closer_than_unrelated_ones(embedder):
    query = embedder.embed_query("where do I live?")
    related = embedder.embed_query("Lives in Lisbon")
    unrelated = embedder.embed_query("Has a dog called Biscuit")
    assert cosine(query, related) > cosine(query, unrelated)


def test_word_fragments_match_across_inflections(embedder):
    hiking = embedder.embed_query("Loves hiking in the mountains")
    hike = embedder.embed_query("we should hike together")
    tea = embedder.embed_query("Prefers green tea")
    assert cosine(hiking, hike) > 0.05  # shares "<hi", "hik"
    assert cosine(hiking, hike) > cosine(hiking, tea)


def test_stopwords_alone_do_not_make_texts_similar(embedder):
    a = embedder.embed_query("I went to the market with my sister")
    b = embedder.embed_query("I went to the dentist with my boss")
    c = embedder.embed_query("the market was busy")
    assert cosine(a, c) > cosine(b, c)


def test_text_of_only_stopwords_still_gets_features(embedder):
    vector = embedder.embed_query("what is it")
    assert vector != embedder.embed_query("")
    assert math.isclose(sum(x * x for x in vector), 1.0, rel_tol=1e-12)


@pytest.mark.parametrize("blank", ["", "   ", "\n\t", "?!…", "🙂"])
def test_text_without_words_gets_a_fixed_unit_vector_not_zeros(embedder, blank):
    vector = embedder.embed_query(blank)
    assert vector[0] == 1.0
    assert sum(abs(x) for x in vector) == 1.0


def test_cjk_text_embeds_and_overlapping_text_is_closer(embedder):
    shanghai = embedder.embed_query("我住在上海")
    also_shanghai = embedder.embed_query("他也住在上海吗")
    coffee = embedder.embed_query("喜欢喝咖啡")
    assert math.isclose(sum(x * x for x in shanghai), 1.0, rel_tol=1e-12)
    assert cosine(shanghai, also_shanghai) > cosine(shanghai, coffee)


def test_japanese_and_full_width_text_embed(embedder):
    assert embedder.embed_query("ＨＥＬＬＯ") == embedder.embed_query("hello")  # NFKC
    vector = embedder.embed_query("東京に住んでいます")
    assert math.isclose(sum(x * x for x in vector), 1.0, rel_tol=1e-12)
