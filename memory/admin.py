"""Memory admin: filter a user's memories, read where each came from, find its neighbours.

Facts that change (DESIGN §7): the list says whether each memory is current or since when it
is superseded (and filters on it); a memory's page shows its slot and its chain, the older
values it replaced and the newer ones that replaced it, each linked, with when it stopped
being true.

The 512-number embedding is never loaded (``defer``) nor shown. Soft delete and restore are
admin actions that call :mod:`memory.services` one memory at a time, so the same rules apply
as for the API (a deleted memory is never recalled again). "Find similar" ranks the same user's
memories by cosine similarity to the chosen one (pgvector ``<=>``), exactly, over that user's
rows only: ordering by similarity rather than by distance keeps the planner off the HNSW index,
whose filtered scans can return short results for one user (memory/selectors.py).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import F, FloatField, Func, IntegerField, QuerySet, Subquery, Value
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from pgvector.django import CosineDistance

from companions.admin import InstanceFilter, PersonaFilter
from companions.models import ChatMessage, ChatSession
from eros.admin import (
    EngineAdmin,
    SessionFilter,
    UserFilter,
    change_url,
    first_rows,
    id_link,
    short_id,
    user_link,
)
from memory.models import CATEGORIES, CompanionMemory
from memory.services import memory_restore, memory_soft_delete
from personas.admin import persona_name

#: Neighbours shown per memory by "find similar" and on the memory's page.
SIMILAR_LIMIT = 10
#: Memories one "find similar" run looks at (each is one exact per-user query).
SIMILAR_MAX_SELECTED = 10
#: Older values shown on a memory's page (one query), and newer ones followed (one query each).
CHAIN_LIMIT = 10


def memory_similar(*, memory: CompanionMemory, limit: int = SIMILAR_LIMIT) -> list[CompanionMemory]:
    """The ``limit`` memories of the same user nearest to ``memory`` (deleted ones included).

    Each result has ``similarity`` = 1 − cosine distance, in [-1, 1], highest first, and
    ``persona_name``. One query; the vectors stay in the database.
    """
    target = CompanionMemory.objects.filter(pk=memory.pk).values("embedding")
    return list(
        CompanionMemory.objects.filter(user_id=memory.user_id)
        .exclude(pk=memory.pk)
        .defer("embedding")
        .annotate(
            similarity=Value(1.0, output_field=FloatField())
            - CosineDistance("embedding", Subquery(target)),
            persona_name=persona_name("instance_id"),
        )
        .order_by("-similarity", "id")[:limit]
    )


class LayerFilter(admin.SimpleListFilter):
    title = "layer"
    parameter_name = "layer"

    def lookups(self, request, model_admin):
        return [("profile", "profile (about the user)"), ("relationship", "relationship")]

    def queryset(self, request, queryset):
        if self.value() == "profile":
            return queryset.filter(instance_id__isnull=True)
        if self.value() == "relationship":
            return queryset.filter(instance_id__isnull=False)
        return queryset


class CategoryFilter(admin.SimpleListFilter):
    title = "category"
    parameter_name = "category"

    def lookups(self, request, model_admin):
        return [(c, c) for c in CATEGORIES] + [("raw", "raw (uncategorised)")]

    def queryset(self, request, queryset):
        if self.value() == "raw":
            return queryset.filter(category__isnull=True)
        if self.value():
            return queryset.filter(category=self.value())
        return queryset


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", "live"), ("yes", "soft-deleted")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


class SupersededFilter(admin.SimpleListFilter):
    title = "current or superseded"
    parameter_name = "superseded"

    def lookups(self, request, model_admin):
        return [("no", "current"), ("yes", "superseded")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(valid_to__isnull=True)
        if self.value() == "yes":
            return queryset.filter(valid_to__isnull=False)
        return queryset


def _when(value) -> str:
    return f"{value:%Y-%m-%d %H:%M}"


def _memory_link(memory: CompanionMemory):
    """The memory's text (120 characters) linking to its page; struck through if deleted."""
    text = memory.content[:120] + ("…" if len(memory.content) > 120 else "")
    if memory.deleted_at is not None:
        text = format_html("<s>{}</s> (soft-deleted)", text)
    return format_html('<a href="{}">{}</a>', change_url(CompanionMemory, memory.id), text)


class Cardinality(Func):
    function = "cardinality"
    output_field = IntegerField()


@admin.register(CompanionMemory)
class CompanionMemoryAdmin(EngineAdmin):
    list_display = [
        "excerpt",
        "layer",
        "category",
        "user",
        "persona",
        "occurred_at",
        "importance",
        "source_count",
        "pinned",
        "status",
        "is_live",
        "session_link",
    ]
    list_filter = [
        UserFilter,
        LayerFilter,
        CategoryFilter,
        PersonaFilter,
        InstanceFilter,
        SupersededFilter,
        DeletedFilter,
        SessionFilter,
    ]
    search_fields = ["content"]
    ordering = ["-occurred_at"]
    actions = ["find_similar", "soft_delete", "restore"]
    fieldsets = [
        (
            None,
            {"fields": ["id", "content", "layer", "category", "importance", "pinned", "is_live"]},
        ),
        (
            "Whose",
            {"fields": ["user", "persona", "instance_id", "session_link"]},
        ),
        (
            "Facts that change",
            {"fields": ["slot", "status", "replaced", "replaced_by"]},
        ),
        ("Sources", {"fields": ["sources"]}),
        ("Time", {"fields": ["occurred_at", "created_at", "updated_at", "deleted_at"]}),
        ("Similar memories of this user", {"fields": ["similar"]}),
    ]
    readonly_fields = [f for _, spec in fieldsets for f in spec["fields"]]

    def get_queryset(self, request) -> QuerySet[CompanionMemory]:
        return (
            super()
            .get_queryset(request)
            .defer("embedding")
            .annotate(
                persona_name=persona_name("instance_id"),
                source_count=Cardinality(F("source_message_ids")),
            )
        )

    def has_soft_delete_permission(self, request) -> bool:
        return request.user.has_perm("memory.change_companionmemory")

    # --- columns -------------------------------------------------------------------------

    @admin.display(description="content")
    def excerpt(self, obj: CompanionMemory) -> str:
        return obj.content[:140] + ("…" if len(obj.content) > 140 else "")

    @admin.display(description="layer", ordering="instance_id")
    def layer(self, obj: CompanionMemory) -> str:
        return obj.layer

    @admin.display(description="user", ordering="user_id")
    def user(self, obj: CompanionMemory):
        return user_link(CompanionMemory, obj.user_id)

    @admin.display(description="persona", ordering="persona_name")
    def persona(self, obj: CompanionMemory) -> str:
        if obj.instance_id is None:
            return "— (profile)"
        return getattr(obj, "persona_name", None) or short_id(obj.instance_id)

    @admin.display(description="sources", ordering="source_count")
    def source_count(self, obj: CompanionMemory) -> int:
        return getattr(obj, "source_count", None) or 0

    @admin.display(description="current / superseded", ordering="valid_to")
    def status(self, obj: CompanionMemory) -> str:
        if obj.valid_to is None:
            return "current"
        return f"superseded ({obj.valid_to:%Y-%m-%d})"

    @admin.display(description="live", boolean=True, ordering="deleted_at")
    def is_live(self, obj: CompanionMemory) -> bool:
        return obj.deleted_at is None

    @admin.display(description="session", ordering="session_id")
    def session_link(self, obj: CompanionMemory):
        if obj.session_id is None:
            return "written by the user"
        return id_link(change_url(ChatSession, obj.session_id), obj.session_id)

    # --- detail --------------------------------------------------------------------------

    @admin.display(description="source messages")
    def sources(self, obj: CompanionMemory):
        ids = list(obj.source_message_ids or [])
        if not ids:
            return "— (no source recorded)"
        found = {m.id: m for m in ChatMessage.objects.filter(id__in=ids)}
        items = []
        for message_id in ids:
            message = found.get(message_id)
            if message is None:
                items.append(format_html("<li>{} (message no longer exists)</li>", message_id))
                continue
            items.append(
                format_html(
                    '<li><a href="{}">{} · {}</a> {}</li>',
                    change_url(ChatMessage, message.id),
                    message.role,
                    f"{message.sent_at:%Y-%m-%d %H:%M}",
                    message.content[:200],
                )
            )
        return format_html('<ul class="eros-sources">{}</ul>', mark_safe("".join(items)))  # noqa: S308

    @admin.display(description="replaced (older values)")
    def replaced(self, obj: CompanionMemory):
        """The memories this one superseded, newest first, each with when it stopped."""
        rows, more = first_rows(
            CompanionMemory.objects.filter(superseded_by_id=obj.id)
            .only("id", "content", "valid_to", "deleted_at")
            .order_by("-valid_to", "id"),
            CHAIN_LIMIT,
        )
        if not rows:
            return "— (it replaced no memory)"
        items = [
            format_html("<li>{} · true until {}</li>", _memory_link(row), _when(row.valid_to))
            for row in rows
        ]
        if more:
            items.append(format_html("<li>… and more (first {} shown)</li>", CHAIN_LIMIT))
        return format_html('<ul class="eros-chain">{}</ul>', mark_safe("".join(items)))  # noqa: S308

    @admin.display(description="replaced by (newer values)")
    def replaced_by(self, obj: CompanionMemory):
        """The chain of successors up to the current value (at most :data:`CHAIN_LIMIT`)."""
        if obj.valid_to is None:
            return "— (current: nothing replaced it)"
        items = []
        memory, seen = obj, {obj.id}
        for _ in range(CHAIN_LIMIT):
            if memory.valid_to is None:
                break
            if memory.superseded_by_id is None:
                # Its successor was forgotten by the user, or it was retired to agree with
                # the insight profile: still not true, just with no row to point at.
                items.append(
                    format_html(
                        "<li>true until {} · the memory that replaced it is gone, or none "
                        "did (retired to agree with the profile)</li>",
                        _when(memory.valid_to),
                    )
                )
                break
            successor = (
                CompanionMemory.objects.filter(id=memory.superseded_by_id)
                .only("id", "content", "valid_to", "superseded_by_id", "deleted_at")
                .first()
            )
            if successor is None or successor.id in seen:
                break
            seen.add(successor.id)
            items.append(
                format_html(
                    "<li>true until {}, then {}{}</li>",
                    _when(memory.valid_to),
                    _memory_link(successor),
                    " (current)" if successor.valid_to is None else "",
                )
            )
            memory = successor
        return format_html('<ul class="eros-chain">{}</ul>', mark_safe("".join(items)))  # noqa: S308

    @admin.display(description="nearest")
    def similar(self, obj: CompanionMemory):
        return similar_table(memory_similar(memory=obj))

    # --- actions -------------------------------------------------------------------------

    @admin.action(description="Find similar memories of the same user", permissions=["view"])
    def find_similar(self, request, queryset):
        chosen = list(queryset.defer("embedding").order_by("-occurred_at")[:SIMILAR_MAX_SELECTED])
        groups = [(memory, similar_table(memory_similar(memory=memory))) for memory in chosen]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Similar memories",
            "groups": groups,
            "capped": SIMILAR_MAX_SELECTED,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/memory/companionmemory/similar.html", context)

    @admin.action(description="Soft delete (never recalled again)", permissions=["soft_delete"])
    def soft_delete(self, request, queryset):
        ids = list(queryset.values_list("id", flat=True))
        done = sum(memory_soft_delete(memory_id=memory_id) for memory_id in ids)
        self.message_user(request, f"{done} memories soft-deleted.", messages.SUCCESS)

    @admin.action(description="Restore soft-deleted memories", permissions=["soft_delete"])
    def restore(self, request, queryset):
        ids = list(queryset.values_list("id", flat=True))
        done = sum(memory_restore(memory_id=memory_id) for memory_id in ids)
        skipped = len(ids) - done
        note = f" ({skipped} were not deleted)" if skipped else ""
        self.message_user(request, f"{done} memories restored{note}.", messages.SUCCESS)


def similar_table(rows: list[CompanionMemory]) -> Any:
    """Neighbours as an HTML table: similarity, content (linked), layer, category, status."""
    if not rows:
        return "— (no other memories of this user)"
    body = "".join(
        str(
            format_html(
                '<tr><td class="eros-num">{}</td><td><a href="{}">{}</a></td>'
                "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                f"{row.similarity:.3f}",
                change_url(CompanionMemory, row.id),
                row.content[:160],
                row.layer
                if row.instance_id is None
                else f"relationship ({row.persona_name or '?'})",
                row.category or "raw",
                f"{row.occurred_at:%Y-%m-%d}",
                "deleted" if row.deleted_at else "live",
            )
        )
        for row in rows
    )
    return format_html(
        '<table class="eros-similar"><thead><tr><th>similarity</th><th>content</th><th>layer</th>'
        "<th>category</th><th>occurred</th><th>status</th></tr></thead><tbody>{}</tbody></table>",
        mark_safe(body),  # noqa: S308 - rows built with format_html
    )
