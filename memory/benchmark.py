"""Recall latency at scale: ``python manage.py benchmark recall [--memories N] [--users U]``.

Builds (or reuses) a synthetic memory table in a separate database on the same server
(default ``eros_bench``), so the benchmark never touches real data and can drop and rebuild
indexes freely, then times a chat turn's full recall — the query embedding plus
:func:`memory.selectors.memory_recall` over both layers, exactly as
``companions.services.chat_pipeline._recall`` does — for many turns.

The data is shaped like a live deployment's: memories per user follow a log-normal law (a few
heavy users hold many memories), 60 % are relationship moments spread over 1–3 persona
instances and 40 % profile memories across the five categories; contents are short English sentences
embedded by the ``local`` embedder, stemmed as English, with importance from the offline cues
(``memory.importance``); rows are inserted in random user order, so one user's rows
are scattered over the heap as they are after months of interleaved writes. Turns pick users
in proportion to their memories (heavy users talk more).
"""

from __future__ import annotations

import random
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.management import call_command
from django.db import connection, connections

from eros.llm.cleaning import format_vector
from eros.llm.embeddings_local import LocalEmbedder
from memory.importance import importance_from_cues
from memory.management.progress import Progress

SEED = 20240519
CATEGORIES = ("fact", "preference", "event", "emotion", "relation")

CITIES = "Lisbon Porto Madrid Berlin Oslo Vienna Quito Lima Accra Kyoto Osaka Seoul Hanoi Lagos Cairo Dublin Glasgow Leeds Lyon Milan Naples Krakow Tallinn Riga Prague Zagreb Athens Izmir Tunis Dakar Nairobi Durban Perth Hobart Auckland Denver Austin Boston Toronto Montreal Havana Bogota Santiago Recife Manaus".split()  # noqa: E501
HOBBIES = "bouldering hiking sourdough baking chess pottery birdwatching salsa dancing jazz piano cello knitting surfing sailing running cycling yoga climbing painting photography gardening fishing skateboarding karaoke crosswords podcasts woodworking calligraphy origami swimming rowing archery fencing tango beekeeping astronomy".split()  # noqa: E501
FOODS = "ramen tacos sushi dumplings pho paella risotto curry falafel shakshuka pierogi croissants kimchi laksa empanadas ceviche gnocchi bibimbap churros baklava".split()  # noqa: E501
PEOPLE = "sister brother mum dad grandmother grandfather cousin best friend flatmate boss colleague neighbour aunt uncle niece nephew".split()  # noqa: E501
NAMES = "Ana Bea Carlos Dara Eli Femi Gus Hana Ines Jon Kai Lea Malik Nina Omar Pia Quinn Rosa Sami Tomas Uma Vera Wen Yara Zoe".split()  # noqa: E501
PETS = "dog cat rabbit parrot hamster tortoise greyhound beagle tabby".split()
JOBS = "nurse teacher chef engineer barista architect pharmacist lawyer plumber designer translator paramedic librarian accountant electrician".split()  # noqa: E501
EVENTS = "exam interview wedding concert marathon trip move surgery promotion breakup audition graduation".split()  # noqa: E501
FEELINGS = "anxious proud lonely excited tired hopeful restless calm overwhelmed grateful".split()
PERSONAS = ("Juno", "Noor", "Idris")


def _profile_line(rng: random.Random) -> tuple[str, str]:
    kind = rng.randrange(6)
    if kind == 0:
        return f"Lives in {rng.choice(CITIES)}", "fact"
    if kind == 1:
        return f"Works as a {rng.choice(JOBS)} in {rng.choice(CITIES)}", "fact"
    if kind == 2:
        return f"Loves {rng.choice(HOBBIES)} and {rng.choice(FOODS)}", "preference"
    if kind == 3:
        return f"Has a {rng.choice(EVENTS)} coming up in {rng.choice(CITIES)}", "event"
    if kind == 4:
        return f"Feels {rng.choice(FEELINGS)} about the {rng.choice(EVENTS)}", "emotion"
    return f"Their {rng.choice(PEOPLE)} {rng.choice(NAMES)} lives in {rng.choice(CITIES)}", (
        "relation"
    )


def _user_line(rng: random.Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return f"I went {rng.choice(HOBBIES)} with my {rng.choice(PEOPLE)} today"
    if kind == 1:
        return f"my {rng.choice(PETS)} {rng.choice(NAMES)} ate my {rng.choice(FOODS)} again"
    if kind == 2:
        return f"I'm so {rng.choice(FEELINGS)} about the {rng.choice(EVENTS)} next week"
    if kind == 3:
        return f"we had {rng.choice(FOODS)} in {rng.choice(CITIES)}, it was amazing"
    return f"my {rng.choice(PEOPLE)} {rng.choice(NAMES)} is visiting from {rng.choice(CITIES)}"


def _reply_line(rng: random.Random) -> str:
    return rng.choice(
        [
            "That sounds lovely, tell me more.",
            "Oh no, how are you holding up?",
            "I love that for you.",
            "Wait, really? What happened next?",
            f"{rng.choice(FOODS).capitalize()} is the right answer, always.",
            f"You and your {rng.choice(HOBBIES)}, honestly.",
        ]
    )


def _query_line(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return f"do you remember my {rng.choice(PEOPLE)} from {rng.choice(CITIES)}?"
    if kind == 1:
        return f"I feel {rng.choice(FEELINGS)} today, the {rng.choice(EVENTS)} is tomorrow"
    if kind == 2:
        return f"should I try {rng.choice(HOBBIES)} this weekend?"
    return f"what should I cook, maybe {rng.choice(FOODS)}?"


@dataclass(frozen=True)
class RecallBenchmark:
    memories: int
    users: int
    queries: int = 2000
    warmup: int = 200
    database: str = "eros_bench"
    fresh: bool = False
    drop: bool = False
    hnsw: bool = True


def run_recall_benchmark(spec: RecallBenchmark, *, out: Callable[[str], None], err) -> dict:
    """Build or reuse the data set, time full per-turn recall, print and return the numbers."""
    conn = connections["default"]
    original = conn.settings_dict["NAME"]
    _create_database(spec.database)
    # A pool keeps the database name it was built with: rebuild it on each switch.
    conn.close()
    conn.close_pool()
    conn.settings_dict["NAME"] = spec.database
    try:
        call_command("migrate", interactive=False, verbosity=0)
        users = _ensure_data(spec, out=out, err=err)
        results = _measure(spec, users, out=out, err=err)
    finally:
        conn.close()
        conn.close_pool()
        conn.settings_dict["NAME"] = original
    if spec.drop:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{spec.database}" WITH (FORCE)')
        out(f"dropped database {spec.database}")
    return results


def _create_database(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')


def _ensure_data(spec: RecallBenchmark, *, out, err) -> list[tuple[uuid.UUID, list, int]]:
    """The users as (user id, instance ids, memory count); builds the data when needed."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT user_id) FROM companion_memories")
        count, users = cursor.fetchone()
    if spec.fresh or (count, users) != (spec.memories, spec.users):
        _build(spec, out=out, err=err)
    else:
        out(f"reusing {count:,} memories of {users:,} users in database {spec.database}")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT user_id, array_agg(DISTINCT instance_id) FILTER (WHERE instance_id IS NOT NULL),
                   count(*)
            FROM companion_memories GROUP BY user_id ORDER BY user_id
            """
        )
        return [(u, list(instances or []), n) for u, instances, n in cursor.fetchall()]


def _build(spec: RecallBenchmark, *, out, err) -> None:
    rng = random.Random(SEED)
    started = time.monotonic()
    embedder = LocalEmbedder()
    vectors: dict[str, str] = {}

    def vector(text: str) -> str:
        cached = vectors.get(text)
        if cached is None:
            cached = vectors[text] = format_vector(embedder.embed(text))
        return cached

    # Memories per user: log-normal (sigma 1), scaled to the total, at least 1 each.
    weights = [rng.lognormvariate(0, 1.0) for _ in range(spec.users)]
    scale = spec.memories / sum(weights)
    counts = [max(1, int(w * scale)) for w in weights]
    while sum(counts) < spec.memories:  # rounding: top up at random, trim the largest
        counts[rng.randrange(spec.users)] += 1
    while sum(counts) > spec.memories:
        counts[counts.index(max(counts))] -= 1
    now = datetime.now(UTC)
    plan = []  # (user index) per memory, shuffled: writes interleave across users
    for index, n in enumerate(counts):
        plan.extend([index] * n)
    rng.shuffle(plan)
    users = [uuid.uuid4() for _ in range(spec.users)]
    instances = [[uuid.uuid4() for _ in range(rng.randint(1, 3))] for _ in range(spec.users)]

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE chat_sessions CASCADE")
        for name in ("idx_memories_embedding", "idx_memories_content_tsv"):
            cursor.execute(f"DROP INDEX IF EXISTS {name}")
        sessions: dict[tuple[int, uuid.UUID | None], uuid.UUID] = {}
        with cursor.copy(
            "COPY chat_sessions (id, user_id, instance_id, last_active_at, created_at, metadata,"
            " lead_score, is_converted, classification_attempts) FROM STDIN"
        ) as copy:
            for index, user in enumerate(users):
                for instance in instances[index]:
                    session = uuid.uuid4()
                    sessions[(index, instance)] = session
                    copy.write_row((session, user, instance, now, now, "{}", 0.0, False, 0))
        columns = (
            "id, session_id, user_id, instance_id, content, embedding, category,"
            " source_message_ids, occurred_at, created_at, updated_at, importance, ts_config"
        )
        with (
            Progress("inserting memories", len(plan), stream=err) as bar,
            cursor.copy(f"COPY companion_memories ({columns}) FROM STDIN") as copy,
        ):
            for done, index in enumerate(plan, 1):
                roll = rng.random()
                instance = rng.choice(instances[index])
                # Every row is a memory (recall skips raw lines): moments shared with a persona,
                # and profile rows in every category.
                if roll < 0.60:
                    persona = PERSONAS[instances[index].index(instance)]
                    content = f"Shared with {persona}: {_user_line(rng)} ({_reply_line(rng)})"
                    category = rng.choice(("event", "emotion"))
                elif roll < 0.85:
                    content, instance = _user_line(rng), None
                    category = rng.choice(("fact", "preference", "event", "emotion", "relation"))
                else:
                    (content, category), instance = _profile_line(rng), None
                when = now - timedelta(seconds=rng.randrange(365 * 86400))
                copy.write_row(
                    (
                        uuid.uuid4(),
                        sessions[(index, instance or instances[index][0])],
                        users[index],
                        instance,
                        content,
                        vector(content),
                        category,
                        "{" + str(uuid.uuid4()) + "}",
                        when,
                        when,
                        when,
                        importance_from_cues(content, category),
                        # What a write detects for these English lines (memory.language).
                        "english",
                    )
                )
                if done % 5000 == 0:
                    bar.advance(5000)
            bar.advance(len(plan) % 5000)
        loaded = time.monotonic()
        out(
            f"inserted {len(plan):,} memories of {spec.users:,} users in {loaded - started:.0f} s"
            f" ({len(vectors):,} distinct texts)"
        )
        # The HNSW graph must fit in maintenance_work_mem or the build slows down many times.
        megabytes = min(8192, max(1024, spec.memories * 3 // 1024))
        cursor.execute(f"SET maintenance_work_mem = '{megabytes}MB'")
        cursor.execute("SET max_parallel_maintenance_workers = 2")
        cursor.execute(
            "CREATE INDEX idx_memories_content_tsv ON companion_memories USING gin (content_tsv)"
        )
        if spec.hnsw:
            err.write("building the HNSW index (minutes for large tables)…")
            cursor.execute(
                "CREATE INDEX idx_memories_embedding ON companion_memories USING hnsw"
                " (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
            )
        cursor.execute("VACUUM ANALYZE companion_memories")
        cursor.execute("VACUUM ANALYZE chat_sessions")
    indexed = time.monotonic()
    out(
        f"indexes built in {indexed - loaded:.0f} s"
        + ("" if spec.hnsw else " (HNSW skipped: cross-user search not measured)")
    )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))]


def _measure(spec: RecallBenchmark, users, *, out, err) -> dict:
    from memory.selectors import memory_recall, memory_search

    rng = random.Random(SEED + 1)
    embedder = LocalEmbedder()
    weights = [n for _, _, n in users]
    counts = sorted(weights)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('companion_memories'))")
        size = cursor.fetchone()[0]
    out(
        f"data: {sum(counts):,} memories, {len(users):,} users; memories per user: min "
        f"{counts[0]}, median {statistics.median(counts):.0f}, p95 {_percentile(counts, 0.95)},"
        f" max {counts[-1]}; table with indexes {size}"
    )
    results: dict = {"memories": sum(counts), "users": len(users)}
    for hybrid in (True, False):
        full: list[float] = []
        query: list[float] = []
        picks = rng.choices(users, weights=weights, k=spec.warmup + spec.queries)
        label = f"recall, hybrid {'on ' if hybrid else 'off'}"
        with Progress(label, len(picks), stream=err) as bar:
            for i, (user_id, instances, _) in enumerate(picks):
                text = _query_line(rng)
                instance = rng.choice(instances) if instances else None
                started = time.perf_counter()
                vector = embedder.embed_query(text)
                embedded = time.perf_counter()
                memory_recall(
                    user_id=user_id,
                    instance_id=instance,
                    query_vector=vector,
                    query_text=text,
                    now=datetime.now(UTC),
                    hybrid=hybrid,
                )
                finished = time.perf_counter()
                if i >= spec.warmup:
                    full.append((finished - started) * 1000)
                    query.append((finished - embedded) * 1000)
                bar.advance()
        key = "hybrid" if hybrid else "vector_only"
        results[key] = {
            "p50": statistics.median(full),
            "p95": _percentile(full, 0.95),
            "p99": _percentile(full, 0.99),
            "max": max(full),
            "query_p50": statistics.median(query),
            "query_p95": _percentile(query, 0.95),
        }
        r = results[key]
        out(
            f"full per-turn recall ({'hybrid' if hybrid else 'vector only'}), {spec.queries} "
            f"turns: p50 {r['p50']:.2f} ms  p95 {r['p95']:.2f} ms  p99 {r['p99']:.2f} ms  "
            f"max {r['max']:.2f} ms (SQL alone p50 {r['query_p50']:.2f}, p95 {r['query_p95']:.2f})"
        )
    if spec.hnsw:
        times = []
        for _ in range(200):
            vector = embedder.embed_query(_query_line(rng))
            started = time.perf_counter()
            memory_search(query_vector=vector, k=10)
            times.append((time.perf_counter() - started) * 1000)
        results["cross_user_search"] = {
            "p50": statistics.median(times),
            "p95": _percentile(times, 0.95),
        }
        out(
            f"cross-user similar search (HNSW, k=10), 200 queries: p50 "
            f"{statistics.median(times):.2f} ms  p95 {_percentile(times, 0.95):.2f} ms"
        )
    out(f"targets: p50 <= 5 ms, p95 <= 15 ms; largest user holds {counts[-1]} memories")
    return results
