"""Replay evaluation of the product loop: scripted conversations through the real engine.

``python manage.py memory_eval --replay FILE`` drives this module. Each scenario gets a fresh
user; every session of it is opened as ``POST /comp/chat/start`` opens one
(:func:`~companions.services.sessions.session_start`), every turn runs as the synchronous
message route runs it (:func:`~companions.services.chat_pipeline.turn_begin` then
:func:`~companions.services.chat_pipeline.turn_run`) with its post-process (affinity, memory,
insight) run in this process, and each session is then distilled as if it had gone idle
(:func:`~companions.services.dreaming.dreaming_distil_session`). Afterwards each question is
asked through the turn's recall (:func:`memory.selectors.memory_recall` with the persona
instance's memory scope and the query embedded as a turn embeds it) and scored by
:func:`replay_score`. Only public service functions are used, so the replay measures
whatever the write path does today.

Time is simulated, never slept: a ``time_machine`` traveller moves the clock that every part
reads (``timezone.now()``, so ``sent_at``, affinity decay, memory event times, dreaming
stamps). A session is opened at its ``start``; its first turn is sent one minute later and each
next turn a minute after the previous one. It is distilled at ``DREAMING_IDLE_SECS`` after its
last turn (or one second before the next session, when that comes sooner). Questions are asked
at ``ask_at`` (default: one day after the last turn).

File format (JSON)::

    {"scenarios": [{"id": "s1", "persona": "Noor",
       "sessions": [{"start": "2025-01-03T19:00:00Z", "turns": ["I live in Lisbon.", "…"]},
                    {"start": "2025-02-10T20:00:00Z", "persona": "Juno", "turns": ["…"]}],
       "questions": [{"ask": "Where do I live?", "expect": ["Porto"], "stale": ["Lisbon"]},
                     {"ask": "What's my dog called?", "expect": ["Biscuit"], "persona": "Juno"}],
       "never": ["Where do I live"],
       "ask_at": "2025-03-01T09:00:00Z"}]}

``persona`` names a seeded persona (case-insensitive); a session or a question may name
another one than the scenario's. ``never`` (optional) lists strings no memory of the user may
contain once the replay is over (a question or an acknowledgement the user typed), reported as
leaks.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import time_machine
from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from companions.scopes import MemoryScope, resolve_affinity_scope, resolve_memory_scope
from companions.services.chat_pipeline import turn_begin, turn_run
from companions.services.dreaming import dreaming_distil_session
from companions.services.erase import user_data_erase
from companions.services.sessions import session_start
from companions.tasks import POST_PROCESS_PARTS
from eros.llm.base import ChatModel, Embedder
from eros.llm.offline.text import THIRD_PERSON, swap_person
from eros.llm.providers import get_embedder
from memory.selectors import MemoryHit, Ranking, memory_list, memory_recall
from personas.models import PersonaGenome

#: Gap between a session's opening and its first turn, and between two turns.
TURN_GAP = timedelta(minutes=1)
#: When questions are asked unless the scenario says: this long after its last turn.
DEFAULT_ASK_AFTER = timedelta(days=1)


# --- the file ---------------------------------------------------------------------------------


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _strings(values: list[str], what: str) -> list[str]:
    cleaned = [v.strip() for v in values]
    if any(not v for v in cleaned):
        raise ValueError(f"{what} holds a blank string")
    return cleaned


class ReplaySession(BaseModel):
    """One sitting: turns sent one minute apart from one minute after ``start``."""

    model_config = ConfigDict(extra="forbid")

    start: datetime
    persona: str | None = None
    turns: list[str] = Field(min_length=1)

    @field_validator("start")
    @classmethod
    def _start(cls, value: datetime) -> datetime:
        return _aware(value)

    @field_validator("turns")
    @classmethod
    def _turns(cls, value: list[str]) -> list[str]:
        if any(not t.strip() for t in value):
            raise ValueError("a turn is blank")
        return value

    @property
    def end(self) -> datetime:
        """When the last turn is sent."""
        return self.start + TURN_GAP * len(self.turns)


class ReplayQuestion(BaseModel):
    """A question, what a good recall holds (``expect``) and what is no longer true
    (``stale``); ``persona`` asks it of another persona than the scenario's."""

    model_config = ConfigDict(extra="forbid")

    ask: str = Field(min_length=1)
    expect: list[str] = Field(min_length=1)
    stale: list[str] = Field(default_factory=list)
    persona: str | None = None

    @field_validator("expect")
    @classmethod
    def _expect(cls, value: list[str]) -> list[str]:
        return _strings(value, "expect")

    @field_validator("stale")
    @classmethod
    def _stale(cls, value: list[str]) -> list[str]:
        return _strings(value, "stale")


class ReplayScenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    persona: str = Field(min_length=1)
    sessions: list[ReplaySession] = Field(min_length=1)
    questions: list[ReplayQuestion] = Field(default_factory=list)
    never: list[str] = Field(default_factory=list)
    ask_at: datetime | None = None

    @field_validator("ask_at")
    @classmethod
    def _ask_at(cls, value: datetime | None) -> datetime | None:
        return _aware(value) if value else None

    @field_validator("never")
    @classmethod
    def _never(cls, value: list[str]) -> list[str]:
        return _strings(value, "never")

    @model_validator(mode="after")
    def _chronological(self) -> ReplayScenario:
        for before, after in zip(self.sessions, self.sessions[1:], strict=False):
            if after.start <= before.end:
                raise ValueError(
                    f"scenario {self.id}: a session starts at {after.start.isoformat()}, before "
                    f"the previous one's last turn ({before.end.isoformat()}); sessions are "
                    "in time order"
                )
        if self.ask_at is not None and self.ask_at <= self.end:
            raise ValueError(f"scenario {self.id}: ask_at is not after the last turn")
        return self

    @property
    def end(self) -> datetime:
        return self.sessions[-1].end

    @property
    def asked_at(self) -> datetime:
        return self.ask_at or self.end + DEFAULT_ASK_AFTER

    def persona_names(self) -> set[str]:
        names = {self.persona}
        names.update(s.persona for s in self.sessions if s.persona)
        names.update(q.persona for q in self.questions if q.persona)
        return names


class ReplayFile(BaseModel):
    """The whole file; scenario ids are unique."""

    model_config = ConfigDict(extra="forbid")

    scenarios: list[ReplayScenario] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> ReplayFile:
        ids = [s.id for s in self.scenarios]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"scenario ids repeat: {', '.join(repeated)}")
        return self


class UnknownPersona(ValueError):
    """A persona named in the file is not an active seeded persona."""


def replay_personas(data: ReplayFile) -> dict[str, PersonaGenome]:
    """{name as written: active genome} for every persona the file names.

    Raises :class:`UnknownPersona` naming the first unknown one and listing the known ones.
    """
    active = {g.name.casefold(): g for g in PersonaGenome.objects.filter(is_active=True)}
    found = {}
    for scenario in data.scenarios:
        for name in sorted(scenario.persona_names()):
            genome = active.get(name.casefold())
            if genome is None:
                known = ", ".join(sorted(g.name for g in active.values())) or "none seeded"
                raise UnknownPersona(
                    f"scenario {scenario.id}: no active persona named {name!r} ({known})"
                )
            found[name] = genome
    return found


# --- scoring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """``hit``: one recalled memory holds every expected string; ``stale``: a stale string
    shows up in a memory ranked above the first hit (or anywhere, with no hit). Ranks are
    0-based positions in the recalled order, None when absent."""

    hit: bool
    stale: bool
    hit_rank: int | None
    stale_rank: int | None


def replay_score(*, recalled: Sequence[str], expect: Sequence[str], stale: Sequence[str]) -> Score:
    """Score one question against recalled memory contents, best first.

    Matching is case-insensitive substring matching. A memory that holds both the expected
    and a stale string (e.g. "moved from Lisbon to Porto") is the hit, not stale.
    """
    lowered = [text.casefold() for text in recalled]
    wanted = [e.casefold() for e in expect]
    gone = [s.casefold() for s in stale]
    hit_rank = next((i for i, m in enumerate(lowered) if all(w in m for w in wanted)), None)
    above = lowered if hit_rank is None else lowered[:hit_rank]
    stale_rank = next((i for i, m in enumerate(above) if any(g in m for g in gone)), None)
    return Score(hit_rank is not None, stale_rank is not None, hit_rank, stale_rank)


def recalled_order(hits: Sequence[MemoryHit]) -> list[MemoryHit]:
    """One order over the recalled memories of every list: pinned first, then by score.

    Recall ranks each list (a profile category, the raw rows, the relationship rows) on its
    own; merging them by score (convex scores share the scale [0, 1 + text weight]) gives
    "ranked above" a meaning across lists.
    """
    return sorted(hits, key=lambda h: (not h.pinned, -h.score, -h.similarity))


# --- the replay -------------------------------------------------------------------------------


@dataclass
class ReplayedScenario:
    """What the replay of one scenario left: its user, persona instances and counters."""

    scenario: ReplayScenario
    user_id: uuid.UUID
    instances: dict[str, uuid.UUID] = field(default_factory=dict)
    turns: int = 0
    ghosted: int = 0
    failed: int = 0
    distilled: int = 0
    dreamed_created: int = 0
    dreamed_merged: int = 0
    post_process_failures: int = 0
    leaks: list[str] = field(default_factory=list)
    message_ids: list[uuid.UUID] = field(default_factory=list)


@dataclass(frozen=True)
class QuestionResult:
    ask: str
    persona: str
    expect: list[str]
    stale_strings: list[str]
    score: Score
    recalled: list[str]


@dataclass(frozen=True)
class ScenarioResult:
    replayed: ReplayedScenario
    questions: list[QuestionResult]

    @property
    def hits(self) -> int:
        return sum(q.score.hit for q in self.questions)

    @property
    def stale(self) -> int:
        return sum(q.score.stale for q in self.questions)


def replay_scenario(
    *,
    scenario: ReplayScenario,
    genomes: dict[str, PersonaGenome],
    chat_model: ChatModel | None = None,
    embedder: Embedder | None = None,
    on_turn: Callable[[], None] | None = None,
) -> ReplayedScenario:
    """Replay one scenario for a fresh user; returns what it left (to ask, then erase).

    Runs django-q2 in synchronous mode meanwhile, so each replied turn's post-process runs
    in this process before the next turn. ``on_turn`` is called after every turn (progress).
    A turn that fails (provider error) is counted and the replay goes on, as a user would.
    """
    from django_q.conf import Conf
    from django_q.models import Task

    from eros.errors import AppError

    replayed = ReplayedScenario(scenario=scenario, user_id=uuid.uuid4())
    memory_scope = resolve_memory_scope(None)
    axes = resolve_affinity_scope(None)
    sync, Conf.SYNC = Conf.SYNC, True
    traveller = time_machine.travel(scenario.sessions[0].start, tick=True)
    clock = traveller.start()
    try:
        for index, sitting in enumerate(scenario.sessions):
            name = sitting.persona or scenario.persona
            clock.move_to(sitting.start)
            started = session_start(user_id=replayed.user_id, genome_id=genomes[name].id)
            replayed.instances[name] = started.instance.id
            session = started.session
            for number, text in enumerate(sitting.turns, start=1):
                clock.move_to(sitting.start + TURN_GAP * number)
                message = turn_begin(session=session, content=text)
                replayed.message_ids.append(message.id)
                try:
                    outcome = turn_run(
                        session=session,
                        user_message=message,
                        memory_scope=memory_scope,
                        affinity_axes=axes,
                        chat_model=chat_model,
                        embedder=embedder,
                    )
                except AppError:
                    replayed.failed += 1
                else:
                    replayed.ghosted += outcome.ghosted
                replayed.turns += 1
                if on_turn is not None:
                    on_turn()
            later = scenario.sessions[index + 1 :]
            following = later[0].start if later else None
            clock.move_to(_dream_at(sitting.end, following))
            dreamed = dreaming_distil_session(
                session_id=session.id, chat_model=chat_model, embedder=embedder
            )
            replayed.distilled += dreamed.status == "distilled"
            replayed.dreamed_created += dreamed.created
            replayed.dreamed_merged += dreamed.merged
        clock.move_to(scenario.asked_at)
        for question in scenario.questions:
            name = question.persona or scenario.persona
            if name not in replayed.instances:
                # A first meeting: the user opens a chat with this persona and asks.
                started = session_start(user_id=replayed.user_id, genome_id=genomes[name].id)
                replayed.instances[name] = started.instance.id
    finally:
        traveller.stop()
        Conf.SYNC = sync
    names = [f"post-process {m}" for m in replayed.message_ids] + [
        f"{part} {m}" for m in replayed.message_ids for part in POST_PROCESS_PARTS
    ]
    replayed.post_process_failures = Task.objects.filter(name__in=names, success=False).count()
    replayed.leaks = _leaks(replayed.user_id, scenario.never)
    return replayed


def _dream_at(end: datetime, following: datetime | None) -> datetime:
    """When a session that ended at ``end`` is distilled: once idle, before the next one."""
    at = end + timedelta(seconds=settings.DREAMING_IDLE_SECS)
    if following is not None:
        at = min(at, following - timedelta(seconds=1))
    return max(at, end + timedelta(seconds=1))


def _leaks(user_id: uuid.UUID, never: Sequence[str]) -> list[str]:
    """The user's live memories, superseded ones included (they keep their text), that
    contain one of ``never`` (case-insensitive), as typed or as memories word it: in the
    third person ("where do I live" → "where do they live")."""
    if not never:
        return []
    lowered = sorted(
        {form.casefold() for n in never for form in (n, swap_person(n, THIRD_PERSON))}
    )
    found, offset = [], 0
    while True:
        page = memory_list(user_id=user_id, limit=200, offset=offset, include_superseded=True)
        found += [
            item["content"]
            for item in page.items
            if any(n in (item["content"] or "").casefold() for n in lowered)
        ]
        if not page.has_more:
            return found
        offset += len(page.items)


def replay_ask(
    *,
    replayed: ReplayedScenario,
    ranking: Ranking,
    embedder: Embedder | None = None,
    memory_scope: MemoryScope | None = None,
    k: int | None = None,
    vectors: dict[str, list[float]] | None = None,
) -> ScenarioResult:
    """Ask a replayed scenario's questions through the turn's recall and score them.

    Recall is the chat turn's: the question embedded as a query, both layers per
    ``memory_scope`` (default: the turns' default scope) for the asked persona's instance,
    at the scenario's ``asked_at``, ranked by ``ranking``. ``k`` replaces the per-list sizes
    (``PROFILE_K_PER_CATEGORY``, ``PROFILE_RAW_K``, ``RELATIONSHIP_K``) when given.
    ``vectors`` caches query embeddings by question text across calls.
    """
    scenario = replayed.scenario
    embedder = embedder or get_embedder()
    scope = memory_scope or resolve_memory_scope(None)
    vectors = {} if vectors is None else vectors
    results = []
    for question in scenario.questions:
        name = question.persona or scenario.persona
        if question.ask not in vectors:
            vectors[question.ask] = embedder.embed_query(question.ask)
        recall = memory_recall(
            user_id=replayed.user_id,
            instance_id=replayed.instances[name],
            query_vector=vectors[question.ask],
            query_text=question.ask,
            now=scenario.asked_at,
            profile=scope.profile,
            relationship=scope.relationship,
            ranking=ranking,
            k_per_category=k,
            k_raw=k,
            k_relationship=k,
        )
        recalled = [h.content for h in recalled_order(recall.all_hits)]
        results.append(
            QuestionResult(
                ask=question.ask,
                persona=name,
                expect=question.expect,
                stale_strings=question.stale,
                score=replay_score(recalled=recalled, expect=question.expect, stale=question.stale),
                recalled=recalled,
            )
        )
    return ScenarioResult(replayed, results)


def replay_erase(*, replayed: ReplayedScenario) -> None:
    """Delete everything the replay of a scenario created: the user's data and the records
    of its post-process tasks."""
    from django_q.models import Task

    user_data_erase(user_id=replayed.user_id)
    ids = [str(m) for m in replayed.message_ids]
    names = [f"post-process {m}" for m in ids] + [
        f"{part} {m}" for m in ids for part in POST_PROCESS_PARTS
    ]
    for start in range(0, len(names), 1000):
        Task.objects.filter(name__in=names[start : start + 1000]).delete()
