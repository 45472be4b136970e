"""Operator admin for sessions, messages, affinity and the affinity events log (DESIGN §8).

All read-only: the vector only moves through ``companions.services.affinity`` (EMA, clamps,
label, event row), so no admin form may write it. Lists annotate what they show (persona name,
message count, label) so a page of 100 rows costs a fixed number of queries, and no list
counts its table. Detail pages answer "why did she ghost him?": the session shows its
transcript with each turn's plan, signals, ghost rule and recalled memories; the affinity row
shows its vector and each axis's history replayed from the events log.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, F, IntegerField, OuterRef, Subquery, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.safestring import mark_safe

from companions.admin_charts import (
    SOURCE_COLOURS,
    affinity_replay,
    event_source,
    history_svg,
    vector_bars_svg,
)
from companions.domain.types import AXES, RelationshipLabel
from companions.models import ChatMessage, ChatSession, CompanionAffinity, CompanionAffinityEvent
from companions.services.dreaming import dreaming_distil_session
from eros.admin import (
    EngineAdmin,
    SessionFilter,
    UserFilter,
    UuidInputFilter,
    change_url,
    changelist_url,
    first_rows,
    id_link,
    link,
    pretty_json,
    short_id,
    user_link,
)
from eros.errors import AppError
from personas.admin import persona_name
from personas.models import PersonaGenome, PersonaInstance

#: Newest messages shown inline on a session page; the messages list pages through the rest.
TRANSCRIPT_LIMIT = 200
#: Newest events listed on an affinity page (the chart replays all of them).
EVENTS_LIMIT = 100


class InstanceFilter(UuidInputFilter):
    title = "persona instance"
    parameter_name = "instance"
    field = "instance_id"


class PersonaFilter(admin.SimpleListFilter):
    """Rows whose persona instance comes from one genome (genomes are few; instances many)."""

    title = "persona"
    parameter_name = "persona"

    def lookups(self, request, model_admin):
        return [(str(g.id), g.name) for g in PersonaGenome.objects.order_by("name")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            genome_id = uuid.UUID(self.value())
        except ValueError:
            return queryset.none()
        instances = PersonaInstance.objects.filter(genome_id=genome_id).values("id")
        return queryset.filter(instance_id__in=instances)


class LabelFilter(admin.SimpleListFilter):
    title = "relationship label"
    parameter_name = "label"
    field = "relationship_label"

    def lookups(self, request, model_admin):
        return [(label.value, label.value) for label in RelationshipLabel] + [("none", "none")]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(**{f"{self.field}__isnull": True})
        if self.value():
            return queryset.filter(**{self.field: self.value()})
        return queryset


class SessionLabelFilter(LabelFilter):
    field = "affinity__relationship_label"


def _message_count():
    counts = (
        ChatMessage.objects.filter(session_id=OuterRef("pk"))
        .order_by()
        .values("session_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), Value(0))


def _user_links(user_id) -> Any:
    from insights.models import CompanionInsights
    from memory.models import CompanionMemory

    return mark_safe(  # noqa: S308 - each part is built with format_html
        " · ".join(
            [
                link(changelist_url(ChatSession, user=user_id), "sessions"),
                link(changelist_url(CompanionMemory, user=user_id), "memories"),
                link(change_url(CompanionInsights, user_id), "insights"),
            ]
        )
    )


# --- sessions ----------------------------------------------------------------------------------


#: Sessions the "Dream now" action distils per click (each is a model call, run in the request).
DREAM_NOW_MAX = 10


@admin.register(ChatSession)
class ChatSessionAdmin(EngineAdmin):
    list_display = [
        "short",
        "user",
        "persona",
        "label",
        "last_active_at",
        "lead_score",
        "message_count",
        "is_converted",
    ]
    list_display_links = ["short"]
    list_filter = [UserFilter, PersonaFilter, InstanceFilter, SessionLabelFilter, "is_converted"]
    ordering = ["-last_active_at"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "id",
                    "user",
                    "persona",
                    "instance_id",
                    "lead_score",
                    "is_converted",
                    "last_active_at",
                    "created_at",
                    "related",
                ]
            },
        ),
        (
            "Dreaming",
            {
                "classes": ["collapse"],
                "fields": [
                    "classified_at",
                    "classification_claimed_at",
                    "classification_attempts",
                    "next_classification_at",
                    "metadata_json",
                ],
            },
        ),
    ]
    readonly_fields = [f for _, spec in fieldsets for f in spec["fields"]]
    actions = ["dream_now"]

    def has_dream_permission(self, request) -> bool:
        return request.user.has_perm("companions.change_chatsession")

    @admin.action(description="Dream now (distil into memories)", permissions=["dream"])
    def dream_now(self, request, queryset):
        """Distil each chosen session now, idle or not; one model call each, so at most
        :data:`DREAM_NOW_MAX` per click."""
        chosen = queryset.order_by("-last_active_at").values_list("id", flat=True)
        ids = list(chosen[:DREAM_NOW_MAX])
        for session_id in ids:
            try:
                outcome = dreaming_distil_session(session_id=session_id)
            except AppError as exc:
                note = f"{short_id(session_id)}: {exc.message}"
                self.message_user(request, note, messages.WARNING)
                continue
            self.message_user(
                request,
                f"{short_id(session_id)}: {outcome.status}, {outcome.messages} message(s) -> "
                f"{outcome.created} new, {outcome.merged} merged memories",
                messages.SUCCESS if outcome.status in ("distilled", "empty") else messages.WARNING,
            )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                persona_name=persona_name("instance_id"),
                message_count=_message_count(),
                label=F("affinity__relationship_label"),
            )
        )

    @admin.display(description="session", ordering="id")
    def short(self, obj: ChatSession) -> str:
        return short_id(obj.id)

    @admin.display(description="user", ordering="user_id")
    def user(self, obj: ChatSession):
        return user_link(ChatSession, obj.user_id)

    @admin.display(description="persona", ordering="persona_name")
    def persona(self, obj: ChatSession) -> str:
        return obj.persona_name or "—"

    @admin.display(description="label", ordering="label")
    def label(self, obj: ChatSession) -> str:
        return obj.label or "—"

    @admin.display(description="messages", ordering="message_count")
    def message_count(self, obj: ChatSession) -> int:
        return obj.message_count

    @admin.display(description="metadata")
    def metadata_json(self, obj: ChatSession):
        return pretty_json(obj.metadata, summary="metadata", open_=True)

    @admin.display(description="see also")
    def related(self, obj: ChatSession):
        from memory.models import CompanionMemory

        parts = []
        affinity_id = CompanionAffinity.objects.filter(session_id=obj.id).values_list(
            "id", flat=True
        )
        affinity_id = next(iter(affinity_id), None)
        if affinity_id:
            parts.append(link(change_url(CompanionAffinity, affinity_id), "affinity"))
        parts += [
            link(changelist_url(CompanionMemory, session=obj.id), "memories from this session"),
            link(
                changelist_url(CompanionMemory, user=obj.user_id, instance=obj.instance_id),
                "relationship memories",
            )
            if obj.instance_id
            else "",
            link(changelist_url(ChatMessage, session=obj.id), "all messages"),
            link(changelist_url(CompanionAffinityEvent, session=obj.id), "affinity events"),
            _user_links(obj.user_id),
        ]
        return mark_safe(" · ".join(str(p) for p in parts if p))  # noqa: S308

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["transcript"] = transcript(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)


def transcript(session: ChatSession) -> dict[str, Any]:
    """The newest ``TRANSCRIPT_LIMIT`` messages, oldest first, prepared for the template.

    Each assistant (or ghosted user) row carries its plan, signals, model and the memories the
    turn recalled, with their text (one query for all of them).
    """
    from memory.models import CompanionMemory

    newest, more = first_rows(
        ChatMessage.objects.filter(session=session).order_by("-sent_at", "-id"), TRANSCRIPT_LIMIT
    )
    contexts = [m.context if isinstance(m.context, dict) else {} for m in newest]
    recalls = [_recall_ids(c) for c in contexts]
    wanted = {memory_id for ids in recalls for _, memory_id in ids}
    memories = {
        m.id: m
        for m in CompanionMemory.objects.filter(id__in=wanted).only("id", "content", "deleted_at")
    }
    rows = []
    for message, context, ids in reversed(list(zip(newest, contexts, recalls, strict=True))):
        plan = context.get("plan") if isinstance(context.get("plan"), dict) else {}
        signals = context.get("signals") if isinstance(context.get("signals"), dict) else {}
        recalled = []
        for layer, memory_id in ids:
            memory = memories.get(memory_id)
            recalled.append(
                {
                    "layer": layer,
                    "url": change_url(CompanionMemory, memory_id),
                    "text": memory.content[:140] if memory else f"{memory_id} (gone)",
                    "deleted": bool(memory and memory.deleted_at),
                }
            )
        rows.append(
            {
                "message": message,
                "url": change_url(ChatMessage, message.id),
                "short": short_id(message.id),
                "plan": plan,
                "signals": signals,
                "model": context.get("model"),
                "latency_ms": context.get("latency_ms"),
                "recalled": recalled,
                "context": pretty_json(context, summary="context") if context else "",
            }
        )
    return {
        "rows": rows,
        "more": more,
        "limit": TRANSCRIPT_LIMIT,
        "all_url": changelist_url(ChatMessage, session=session.id),
    }


def _recall_ids(context: dict) -> list[tuple[str, uuid.UUID]]:
    """``(layer, memory id)`` pairs from a turn's ``context.recall``; malformed ids skipped."""
    recall = context.get("recall") if isinstance(context.get("recall"), dict) else {}
    pairs = []
    for layer in ("profile", "relationship"):
        for value in recall.get(layer) or []:
            try:
                pairs.append((layer, uuid.UUID(str(value))))
            except ValueError:
                continue
    return pairs


# --- messages ----------------------------------------------------------------------------------


@admin.register(ChatMessage)
class ChatMessageAdmin(EngineAdmin):
    list_display = ["sent_at", "role", "turn_status", "excerpt", "session_link"]
    list_filter = [SessionFilter, "role", "turn_status"]
    ordering = ["-sent_at"]
    fields = [
        "id",
        "session_link",
        "role",
        "turn_status",
        "sent_at",
        "reply_to",
        "content",
        "context_json",
        "extracted_facts",
    ]
    readonly_fields = fields

    @admin.display(description="content")
    def excerpt(self, obj: ChatMessage) -> str:
        return obj.content[:120] + ("…" if len(obj.content) > 120 else "")

    @admin.display(description="session", ordering="session_id")
    def session_link(self, obj: ChatMessage):
        return id_link(change_url(ChatSession, obj.session_id), obj.session_id)

    @admin.display(description="in reply to")
    def reply_to(self, obj: ChatMessage):
        if not obj.reply_to_id:
            return "—"
        return link(change_url(ChatMessage, obj.reply_to_id), short_id(obj.reply_to_id))

    @admin.display(description="context")
    def context_json(self, obj: ChatMessage):
        return pretty_json(obj.context, summary="plan, signals, recall", open_=True)


# --- affinity ----------------------------------------------------------------------------------


def _axis_column(axis: str):
    @admin.display(description=axis, ordering=axis)
    def column(self, obj: CompanionAffinity) -> str:
        return f"{getattr(obj, axis):.3f}"

    column.__name__ = axis
    return column


@admin.register(CompanionAffinity)
class CompanionAffinityAdmin(EngineAdmin):
    """Read-only: axes change only through the affinity service (EMA step, clamps, label)."""

    list_display = [
        "short",
        "user",
        "persona",
        *[f"axis_{a}" for a in AXES],
        "label",
        "ghost_streak",
        "total_ghosts",
        "last_ghost_at",
        "updated_at",
        "transcript_link",
    ]
    list_filter = [LabelFilter, UserFilter, InstanceFilter]
    ordering = ["-updated_at"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "session_link",
                    "user",
                    "persona",
                    "instance_id",
                    "relationship_label",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
        ("Axes (as stored, before decay since updated_at)", {"fields": list(AXES)}),
        ("Ghosts", {"fields": ["ghost_streak", "total_ghosts", "last_ghost_at"]}),
    ]
    readonly_fields = [f for _, spec in fieldsets for f in spec["fields"]]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(persona_name=persona_name("instance_id"))

    @admin.display(description="affinity of session", ordering="session_id")
    def short(self, obj: CompanionAffinity) -> str:
        return short_id(obj.session_id)

    @admin.display(description="label", ordering="relationship_label")
    def label(self, obj: CompanionAffinity) -> str:
        return obj.relationship_label or "—"

    @admin.display(description="session")
    def transcript_link(self, obj: CompanionAffinity):
        return link(change_url(ChatSession, obj.session_id), "transcript")

    @admin.display(description="session", ordering="session_id")
    def session_link(self, obj: CompanionAffinity):
        return id_link(change_url(ChatSession, obj.session_id), obj.session_id)

    @admin.display(description="user", ordering="user_id")
    def user(self, obj: CompanionAffinity):
        return user_link(CompanionAffinity, obj.user_id)

    @admin.display(description="persona", ordering="persona_name")
    def persona(self, obj: CompanionAffinity) -> str:
        return obj.persona_name or "—"

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["affinity_panel"] = affinity_panel(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)


for _axis in AXES:
    setattr(CompanionAffinityAdmin, f"axis_{_axis}", _axis_column(_axis))


def affinity_panel(row: CompanionAffinity) -> dict[str, Any]:
    """The vector and history pictures and the newest events, for the affinity page."""
    now = timezone.now()
    events = list(row.events.order_by("created_at", "id"))
    replay = affinity_replay(row=row, events=events, default_inertia=settings.EMA_INERTIA, now=now)
    current = replay.points[-1].vector
    newest = []
    for event in reversed(events[-EVENTS_LIMIT:]):
        context = event.context if isinstance(event.context, dict) else {}
        deltas = event.deltas if isinstance(event.deltas, dict) else {}
        message_id = context.get("user_message_id")
        newest.append(
            {
                "event": event,
                "source": event_source(event),
                "colour": SOURCE_COLOURS.get(event_source(event), "#adb5bd"),
                "deltas": [_delta_cell(deltas.get(axis)) for axis in AXES],
                "reason": context.get("reason")
                or context.get("fallback_reason")
                or context.get("label")
                or (f"ghost rule: {context['ghost_rule']}" if context.get("ghost_rule") else ""),
                "message_url": change_url(ChatMessage, message_id) if message_id else None,
                "decay_minutes": (context.get("decay") or {}).get("minutes")
                if isinstance(context.get("decay"), dict)
                else None,
                "inertia": context.get("inertia"),
                "context": pretty_json(context, summary="context"),
            }
        )
    return {
        "vector_svg": mark_safe(
            vector_bars_svg(
                current, title=f"Affinity vector now: {row.relationship_label or 'no label'}"
            )
        ),  # noqa: S308
        "history_svg": mark_safe(history_svg(replay.points)),  # noqa: S308
        "drift": replay.drift if replay.drift > 1e-6 else None,
        "events": newest,
        "event_total": len(events),
        "events_limit": EVENTS_LIMIT,
        "events_url": changelist_url(CompanionAffinityEvent, session=row.session_id),
        "axes": AXES,
        "sources": SOURCE_COLOURS,
    }


def _delta_cell(value: Any) -> tuple[str, str]:
    """``(css class, text)`` of one raw delta: ``up``/``down``/``zero`` and a signed value."""
    number = _as_float(value)
    if number > 0:
        return "eros-up", f"{number:+.3f}"
    if number < 0:
        return "eros-down", f"{number:+.3f}"
    return "eros-zero", "·"


def _as_float(value: Any) -> float:
    try:
        return float(value or 0.0)
    except (TypeError, ValueError):
        return 0.0


# --- affinity events ---------------------------------------------------------------------------


class EventSessionFilter(UuidInputFilter):
    title = "session"
    parameter_name = "session"
    field = "affinity__session_id"


class SourceFilter(admin.SimpleListFilter):
    title = "source"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return [(s, s) for s in SOURCE_COLOURS]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(context__source=self.value())
        return queryset


@admin.register(CompanionAffinityEvent)
class CompanionAffinityEventAdmin(EngineAdmin):
    list_display = ["created_at", "event_type", "source", "deltas_short", "reason", "session_link"]
    list_filter = [EventSessionFilter, "event_type", SourceFilter]
    list_select_related = ["affinity"]
    ordering = ["-created_at"]
    fields = ["id", "session_link", "event_type", "source", "created_at", "deltas", "context_json"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(source_text=KT("context__source"))

    @admin.display(description="source", ordering="source_text")
    def source(self, obj: CompanionAffinityEvent) -> str:
        return event_source(obj)

    @admin.display(description="deltas")
    def deltas_short(self, obj: CompanionAffinityEvent) -> str:
        deltas = obj.deltas if isinstance(obj.deltas, dict) else {}
        return (
            " ".join(
                f"{axis} {_as_float(deltas.get(axis)):+.2f}"
                for axis in AXES
                if _as_float(deltas.get(axis))
            )
            or "0"
        )

    @admin.display(description="reason")
    def reason(self, obj: CompanionAffinityEvent) -> str:
        context = obj.context if isinstance(obj.context, dict) else {}
        return str(context.get("reason") or context.get("fallback_reason") or "")[:120]

    @admin.display(description="session")
    def session_link(self, obj: CompanionAffinityEvent):
        return link(
            change_url(CompanionAffinity, obj.affinity_id), short_id(obj.affinity.session_id)
        )

    @admin.display(description="context")
    def context_json(self, obj: CompanionAffinityEvent):
        return pretty_json(obj.context, summary="context", open_=True)
