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

import json
import statistics
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from companions.services.erase import user_data_erase
from eros.llm.providers import get_embedder
from memory.management.progress import Progress
from memory.models import LAYER_PROFILE, LAYER_RELATIONSHIP, CompanionMemory
from memory.selectors import memory_recall


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
        parser.add_argument("file", type=Path)
        parser.add_argument("--k", type=int, default=10, help="memories retrieved per question")
        parser.add_argument(
            "--layer", choices=[LAYER_RELATIONSHIP, LAYER_PROFILE], default=LAYER_RELATIONSHIP
        )
        parser.add_argument(
            "--hybrid",
            action="store_true",
            default=None,
            help="fuse full-text rank with vector rank (default: HYBRID_RECALL)",
        )
        parser.add_argument("--no-hybrid", dest="hybrid", action="store_false")
        parser.add_argument("--batch", type=int, default=128, help="turns per embedding call")
        parser.add_argument("--keep", action="store_true", help="keep the stored memories")
        parser.add_argument(
            "--json", dest="json_path", type=Path, help="also write the metrics to this file"
        )

    def handle(self, *args, file, k, layer, hybrid, batch, keep, json_path, **options):
        if k < 1 or batch < 1:
            raise CommandError("--k and --batch must be at least 1")
        data = self._load(file)
        hybrid = settings.HYBRID_RECALL if hybrid is None else hybrid
        embedder = get_embedder()
        users: list[uuid.UUID] = []
        try:
            stored = self._store(data, layer=layer, batch=batch, embedder=embedder, users=users)
            metrics = self._ask(data, stored, k=k, layer=layer, hybrid=hybrid, embedder=embedder)
        finally:
            if not keep:
                for user_id in users:
                    user_data_erase(user_id=user_id)
        metrics.update(
            {
                "file": str(file),
                "layer": layer,
                "k": k,
                "hybrid": hybrid,
                "embedder": getattr(embedder, "name", type(embedder).__name__),
                "conversations": len(data.conversations),
                "turns": sum(len(c.turns) for c in data.conversations),
            }
        )
        self._print(metrics)
        if json_path is not None:
            json_path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")

    def _load(self, file: Path) -> EvalFile:
        try:
            return EvalFile.model_validate_json(file.read_bytes())
        except FileNotFoundError:
            raise CommandError(f"{file}: no such file") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise CommandError(f"{file}: {where}: {first['msg']}") from None

    def _store(self, data: EvalFile, *, layer, batch, embedder, users) -> dict:
        """Write every turn as a memory; returns {conversation id: (user, instance, ids)}."""
        from companions.models import ChatSession

        stored = {}
        total = sum(len(c.turns) for c in data.conversations)
        with Progress("storing turns  ", total, stream=self.stderr) as bar:
            for conv in data.conversations:
                user_id, instance_id = uuid.uuid4(), uuid.uuid4()
                users.append(user_id)
                session = ChatSession.objects.create(user_id=user_id, instance_id=instance_id)
                turn_ids = {t.id: uuid.uuid4() for t in conv.turns}
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
                            )
                            for turn, text, vector in zip(chunk, texts, vectors, strict=True)
                        ]
                    )
                    bar.advance(len(chunk))
                stored[conv.id] = (user_id, instance_id, turn_ids)
        return stored

    def _ask(self, data: EvalFile, stored: dict, *, k, layer, hybrid, embedder) -> dict:
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
                for q in conv.questions:
                    started = time.perf_counter()
                    vector = embedder.embed_query(q.question)
                    embedded = time.perf_counter()
                    result = memory_recall(
                        user_id=user_id,
                        instance_id=instance_id,
                        query_vector=vector,
                        query_text=q.question,
                        now=now,
                        profile=layer == LAYER_PROFILE,
                        relationship=layer == LAYER_RELATIONSHIP,
                        hybrid=hybrid,
                        k_per_category=k,
                        k_raw=k,
                        k_relationship=k,
                    )
                    finished = time.perf_counter()
                    full_ms.append((finished - started) * 1000)
                    query_ms.append((finished - embedded) * 1000)
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
        out(
            f"layer {m['layer']}, k {m['k']}, hybrid {'on' if m['hybrid'] else 'off'}, "
            f"embedder {m['embedder']}"
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
