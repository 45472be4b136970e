"""``python manage.py memory_eval FILE [--k 10] [--layer relationship]``: measure recall.

Loads a conversation file, stores every turn as a memory of one fresh user × persona instance
per conversation (content ``"<speaker>: <text>"``, event time = the turn's time, source = the
turn), asks every question through :func:`memory.selectors.memory_recall` (the chat turn's
recall: one query embedding, the same SQL, hybrid or not), and prints evidence recall@k — the
share of a question's evidence turns found among the sources of the retrieved memories,
averaged over questions — overall and per category, with recall latency p50/p95. The stored
rows are erased afterwards unless ``--keep``.

File format (JSON)::

    {"conversations": [{"id": "c1", "speakers": ["Ann", "Bo"],
       "turns": [{"id": "t1", "speaker": "Ann", "text": "...", "time": "2024-05-08T13:56:00Z"}],
       "questions": [{"question": "...", "evidence": ["t1"], "category": "single-hop"}]}]}

Turn ids are unique within a conversation; questions without evidence are counted but not
scored. Turns are embedded in batches (``--batch``) and inserted in bulk.
"""

from __future__ import annotations

import itertools
import json
import statistics
import time
import uuid
from collections import defaultdict
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from companions.services.erase import user_data_erase
from eros.llm.providers import get_embedder
from memory.importance import importance_from_cues
from memory.language import text_search_config
from memory.management.progress import Progress
from memory.models import LAYER_PROFILE, LAYER_RELATIONSHIP, CompanionMemory
from memory.selectors import (
    FUSION_RRF,
    FUSIONS,
    MODE_FUSED,
    MODE_TEXT,
    MODE_VECTOR,
    MODES,
    Ranking,
    memory_recall,
)


class Turn(BaseModel):
    id: str
    speaker: str = ""
    text: str
    time: datetime

    @field_validator("time")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class Question(BaseModel):
    question: str
    evidence: list[str] = Field(default_factory=list)
    category: str = "uncategorised"


class Conversation(BaseModel):
    id: str
    speakers: list[str] = Field(default_factory=list)
    turns: list[Turn]
    questions: list[Question] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ids(self) -> Conversation:
        ids = [t.id for t in self.turns]
        if len(set(ids)) != len(ids):
            raise ValueError(f"conversation {self.id}: turn ids repeat")
        known = set(ids)
        for q in self.questions:
            missing = [e for e in q.evidence if e not in known]
            if missing:
                raise ValueError(
                    f"conversation {self.id}: question {q.question!r} cites unknown turns {missing}"
                )
        return self


class EvalFile(BaseModel):
    conversations: list[Conversation]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (``q`` in [0, 1]); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))]


class Command(BaseCommand):
    help = "Evidence recall@k and latency of memory recall over a conversation file."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, nargs="?", help="a conversation file")
        parser.add_argument(
            "--replay",
            type=Path,
            metavar="FILE",
            help="instead, replay the scripted conversations of FILE through the chat pipeline, "
            "post-process and dreaming, then score its questions against the turn's recall",
        )
        parser.add_argument(
            "--k",
            type=int,
            default=None,
            help="memories retrieved per question (default 10; with --replay, per recalled "
            "list, default the turn's PROFILE_K_PER_CATEGORY, PROFILE_RAW_K, RELATIONSHIP_K)",
        )
        parser.add_argument(
            "--memory-scope",
            default=None,
            help="with --replay: the memory_scope questions are recalled with (default: the "
            "turn's default, neutral_and_relationship)",
        )
        parser.add_argument(
            "--layer", choices=[LAYER_RELATIONSHIP, LAYER_PROFILE], default=LAYER_RELATIONSHIP
        )
        parser.add_argument(
            "--mode",
            choices=MODES,
            default=None,
            help="fused (both halves), text (BM25 alone) or vector (alone); default: HYBRID_RECALL",
        )
        parser.add_argument(
            "--hybrid", dest="mode", action="store_const", const=MODE_FUSED, help="= --mode fused"
        )
        parser.add_argument(
            "--no-hybrid",
            dest="mode",
            action="store_const",
            const=MODE_VECTOR,
            help="= --mode vector",
        )
        ranking = parser.add_argument_group("ranking (defaults: the settings)")
        for name, kind, setting in RANKING_OPTIONS:
            ranking.add_argument(
                f"--{name.replace('_', '-')}", dest=name, type=kind, default=None, help=setting
            )
        parser.add_argument(
            "--sweep",
            action="append",
            default=[],
            metavar="NAME=V1,V2,…",
            help="also run every combination of these ranking values (repeatable; NAME is "
            "mode or a ranking option, e.g. text_weight=0.5,1,2) and print one line each",
        )
        parser.add_argument(
            "--importance",
            choices=["cues", "none"],
            default="cues",
            help="importance of the stored turns: the offline cue scorer (as writes do) or none",
        )
        parser.add_argument("--batch", type=int, default=128, help="turns per embedding call")
        parser.add_argument("--keep", action="store_true", help="keep the stored memories")
        parser.add_argument(
            "--json", dest="json_path", type=Path, help="also write the metrics to this file"
        )

    def handle(
        self,
        *args,
        file,
        replay,
        k,
        layer,
        mode,
        batch,
        keep,
        json_path,
        sweep,
        importance,
        memory_scope,
        **options,
    ):
        if (file is None) == (replay is None):
            raise CommandError("give a conversation FILE or --replay FILE (one of them)")
        if (k is not None and k < 1) or batch < 1:
            raise CommandError("--k and --batch must be at least 1")
        overrides = {name: options[name] for name, _, _ in RANKING_OPTIONS}
        overrides = {name: value for name, value in overrides.items() if value is not None}
        if mode is not None:
            overrides["mode"] = mode
        ranking = self._ranking(overrides)
        grid = [ranking]
        if sweep:
            axes = [self._axis(spec) for spec in sweep]
            grid = [
                self._ranking({**overrides, **dict(combo)}) for combo in itertools.product(*axes)
            ]
        if replay is not None:
            from memory.management.commands._replay import run_replay

            run_replay(
                self,
                path=replay,
                grid=grid,
                sweep=bool(sweep),
                k=k,
                memory_scope=memory_scope,
                keep=keep,
                json_path=json_path,
                verbosity=options.get("verbosity", 1),
            )
            return
        if memory_scope is not None:
            raise CommandError("--memory-scope goes with --replay")
        k = k or 10
        data = self._load(file)
        embedder = get_embedder()
        users: list[uuid.UUID] = []
        runs = []
        try:
            stored = self._store(
                data,
                layer=layer,
                batch=batch,
                embedder=embedder,
                users=users,
                importance=importance,
            )
            vectors = self._embed_questions(data, embedder=embedder)
            for each in grid:
                runs.append(
                    (each, self._ask(data, stored, vectors, k=k, layer=layer, ranking=each))
                )
        finally:
            if not keep:
                for user_id in users:
                    user_data_erase(user_id=user_id)
        common = {
            "file": str(file),
            "layer": layer,
            "k": k,
            "importance": importance,
            "embedder": getattr(embedder, "name", type(embedder).__name__),
            "conversations": len(data.conversations),
            "turns": sum(len(c.turns) for c in data.conversations),
        }
        if sweep:
            results = [{**common, **metrics, "ranking": asdict(r)} for r, metrics in runs]
            self._print_sweep(results)
            payload: object = results
        else:
            ((ranking, metrics),) = runs
            payload = {
                **common,
                **metrics,
                "mode": ranking.mode,
                "hybrid": ranking.mode != MODE_VECTOR,
                "ranking": asdict(ranking),
            }
            self._print(payload)
        if json_path is not None:
            json_path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")

    @staticmethod
    def _ranking(values: dict) -> Ranking:
        try:
            ranking = Ranking.from_settings(**values)
        except TypeError as exc:
            raise CommandError(str(exc)) from None
        if ranking.mode not in MODES or ranking.fusion not in FUSIONS:
            raise CommandError(f"mode must be one of {MODES}, fusion one of {FUSIONS}")
        return ranking

    @staticmethod
    def _axis(spec: str) -> list[tuple[str, object]]:
        """``name=v1,v2`` → [(name, v1), (name, v2)], values typed like the option."""
        name, _, values = spec.partition("=")
        name = name.strip().replace("-", "_")
        kinds = {n: kind for n, kind, _ in RANKING_OPTIONS} | {"mode": str}
        if name not in kinds or not values:
            raise CommandError(
                f"--sweep {spec!r}: expected NAME=V1,V2 with NAME one of {sorted(kinds)}"
            )
        try:
            return [(name, kinds[name](v.strip())) for v in values.split(",")]
        except ValueError:
            raise CommandError(
                f"--sweep {spec!r}: a value is not a {kinds[name].__name__}"
            ) from None

    def _load(self, file: Path) -> EvalFile:
        try:
            return EvalFile.model_validate_json(file.read_bytes())
        except FileNotFoundError:
            raise CommandError(f"{file}: no such file") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise CommandError(f"{file}: {where}: {first['msg']}") from None

    def _store(self, data: EvalFile, *, layer, batch, embedder, users, importance) -> dict:
        """Write every turn as a memory; returns {conversation id: (user, instance, ids)}.

        Each conversation is one user writing in one language, detected from all its turns
        (as a write knows the user's language); importance comes from the offline cue scorer
        unless ``importance`` is ``none``.
        """
        from companions.models import ChatSession

        stored = {}
        total = sum(len(c.turns) for c in data.conversations)
        with Progress("storing turns  ", total, stream=self.stderr) as bar:
            for conv in data.conversations:
                user_id, instance_id = uuid.uuid4(), uuid.uuid4()
                users.append(user_id)
                session = ChatSession.objects.create(user_id=user_id, instance_id=instance_id)
                turn_ids = {t.id: uuid.uuid4() for t in conv.turns}
                ts_config = text_search_config(t.text for t in conv.turns)
                for start in range(0, len(conv.turns), batch):
                    chunk = conv.turns[start : start + batch]
                    texts = [f"{t.speaker}: {t.text}" if t.speaker else t.text for t in chunk]
                    vectors = embedder.embed_documents(texts)
                    CompanionMemory.objects.bulk_create(
                        [
                            CompanionMemory(
                                session=session,
                                user_id=user_id,
                                instance_id=instance_id if layer == LAYER_RELATIONSHIP else None,
                                content=text,
                                embedding=vector,
                                occurred_at=turn.time,
                                source_message_ids=[turn_ids[turn.id]],
                                ts_config=ts_config,
                                importance=(
                                    importance_from_cues(turn.text)
                                    if importance == "cues"
                                    else None
                                ),
                            )
                            for turn, text, vector in zip(chunk, texts, vectors, strict=True)
                        ]
                    )
                    bar.advance(len(chunk))
                stored[conv.id] = (user_id, instance_id, turn_ids)
        return stored

    def _embed_questions(self, data: EvalFile, *, embedder) -> dict:
        """{(conversation id, question index): (query vector, embedding ms)}."""
        vectors = {}
        for conv in data.conversations:
            for index, q in enumerate(conv.questions):
                started = time.perf_counter()
                vector = embedder.embed_query(q.question)
                vectors[conv.id, index] = (vector, (time.perf_counter() - started) * 1000)
        return vectors

    def _ask(self, data: EvalFile, stored: dict, vectors: dict, *, k, layer, ranking) -> dict:
        scores: dict[str, list[float]] = defaultdict(list)
        full_ms: list[float] = []
        query_ms: list[float] = []
        unscored = 0
        total = sum(len(c.questions) for c in data.conversations)
        with Progress("asking questions", total, stream=self.stderr) as bar:
            for conv in data.conversations:
                user_id, instance_id, turn_ids = stored[conv.id]
                # Questions are asked just after the conversation ends (for the recency term).
                now = max((t.time for t in conv.turns), default=datetime.now(UTC))
                now += timedelta(minutes=1)
                for index, q in enumerate(conv.questions):
                    vector, embed_ms = vectors[conv.id, index]
                    started = time.perf_counter()
                    result = memory_recall(
                        user_id=user_id,
                        instance_id=instance_id,
                        query_vector=vector,
                        query_text=q.question,
                        now=now,
                        profile=layer == LAYER_PROFILE,
                        relationship=layer == LAYER_RELATIONSHIP,
                        ranking=ranking,
                        k_per_category=k,
                        k_raw=k,
                        k_relationship=k,
                        raw=True,
                    )
                    recall_ms = (time.perf_counter() - started) * 1000
                    full_ms.append(embed_ms + recall_ms)
                    query_ms.append(recall_ms)
                    bar.advance()
                    if not q.evidence:
                        unscored += 1
                        continue
                    found = {s for hit in result.all_hits for s in hit.source_message_ids}
                    wanted = {turn_ids[e] for e in q.evidence}
                    scores[q.category].append(len(wanted & found) / len(wanted))
        every = [s for values in scores.values() for s in values]
        return {
            "questions": total,
            "scored": len(every),
            "unscored": unscored,
            "recall_at_k": statistics.fmean(every) if every else 0.0,
            "per_category": {
                category: {"recall_at_k": statistics.fmean(values), "questions": len(values)}
                for category, values in sorted(scores.items())
            },
            "latency_ms": {
                "recall_p50": statistics.median(full_ms) if full_ms else 0.0,
                "recall_p95": percentile(full_ms, 0.95),
                "query_p50": statistics.median(query_ms) if query_ms else 0.0,
                "query_p95": percentile(query_ms, 0.95),
            },
        }

    def _print(self, m: dict) -> None:
        out = self.stdout.write
        out(
            f"memory_eval {m['file']}: {m['conversations']} conversation(s), {m['turns']} turns, "
            f"{m['questions']} questions ({m['unscored']} without evidence)"
        )
        r = m["ranking"]
        how = {
            MODE_VECTOR: "vector only",
            MODE_TEXT: f"text only (BM25 k1 {r['k1']:g}, b {r['b']:g})",
            MODE_FUSED: f"fused ({_describe(r)})",
        }[m["mode"]]
        out(
            f"layer {m['layer']}, k {m['k']}, mode {how}, embedder {m['embedder']}, "
            f"importance {m['importance']}"
        )
        out(
            f"vector score: recency weight {r['recency_weight']:g} ({r['recency_weight_now']:g}"
            f" asking about now; tau {r['recency_tau_days']:g} days), importance weight"
            f" {r['importance_weight']:g}"
        )
        out(f"evidence recall@{m['k']}: {m['recall_at_k']:.3f} over {m['scored']} questions")
        for category, row in m["per_category"].items():
            out(f"  {category:<16} {row['recall_at_k']:.3f}  ({row['questions']})")
        lat = m["latency_ms"]
        out(
            f"recall latency ms (query embedding + recall): p50 {lat['recall_p50']:.2f}  "
            f"p95 {lat['recall_p95']:.2f}; recall query alone: p50 {lat['query_p50']:.2f}  "
            f"p95 {lat['query_p95']:.2f}"
        )

    def _print_sweep(self, results: list[dict]) -> None:
        out = self.stdout.write
        first = results[0]
        out(
            f"memory_eval {first['file']}: {first['conversations']} conversation(s), "
            f"{first['turns']} turns, {first['scored']} scored questions, layer {first['layer']},"
            f" embedder {first['embedder']}, importance {first['importance']}"
        )
        out(f"{'recall@' + str(first['k']):>9}  ranking")
        for m in results:
            out(f"{m['recall_at_k']:9.3f}  {_describe(m['ranking'], full=True)}")


#: Ranking options of the command: (name, type, the setting it overrides).
RANKING_OPTIONS = (
    ("fusion", str, "HYBRID_FUSION: convex or rrf"),
    ("text_weight", float, "HYBRID_TEXT_WEIGHT"),
    ("rrf_k", int, "HYBRID_RRF_K"),
    ("k1", float, "BM25_K1"),
    ("b", float, "BM25_B"),
    ("recency_weight", float, "RECENCY_WEIGHT"),
    ("recency_weight_now", float, "RECENCY_WEIGHT_NOW"),
    ("recency_tau_days", float, "RECENCY_TAU_DAYS"),
    ("importance_weight", float, "IMPORTANCE_WEIGHT"),
)


def _describe(r: dict, *, full: bool = False) -> str:
    fusion = (
        f"rrf k {r['rrf_k']}, text weight {r['text_weight']:g}"
        if r["fusion"] == FUSION_RRF
        else f"convex, text weight {r['text_weight']:g}"
    )
    if not full:
        return fusion
    return (
        f"mode={r['mode']} fusion={r['fusion']} text_weight={r['text_weight']:g} "
        f"rrf_k={r['rrf_k']} k1={r['k1']:g} b={r['b']:g} recency_weight={r['recency_weight']:g}"
        f" recency_weight_now={r['recency_weight_now']:g}"
        f" recency_tau_days={r['recency_tau_days']:g} "
        f"importance_weight={r['importance_weight']:g}"
    )
