"""Insights admin: what eros thinks a user is like, field by field, and how complete that is.

Read-only: the profile changes only through insight extraction (schema-checked merge). The
detail page renders the JSONB profile as a table of the schema's fields (insights/schema.py),
each populated or missing with its ``training_level`` weight (reference eros-engine-server.md
§2.5), plus any stored keys the schema does not know.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from eros.admin import EngineAdmin, UserFilter, changelist_url, link
from insights import schema
from insights.models import CompanionInsights


class TrainingLevelFilter(admin.SimpleListFilter):
    title = "training level"
    parameter_name = "level"
    BANDS = {
        "0": ("empty (0)", {"training_level__lte": 0}),
        "low": ("low (< 0.3)", {"training_level__gt": 0, "training_level__lt": 0.3}),
        "mid": ("medium (0.3–0.7)", {"training_level__gte": 0.3, "training_level__lt": 0.7}),
        "high": ("high (≥ 0.7)", {"training_level__gte": 0.7}),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in self.BANDS.items()]

    def queryset(self, request, queryset):
        band = self.BANDS.get(self.value() or "")
        return queryset.filter(**band[1]) if band else queryset


def _render_value(field: schema.Field, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def profile_rows(insights: Any) -> list[dict[str, Any]]:
    """One row per schema field in canonical order: label, name, weight, populated, value."""
    data = insights if isinstance(insights, dict) else {}
    return [
        {
            "label": f.label,
            "name": f.name,
            "weight": f.weight,
            "populated": schema.is_populated(data.get(f.name)),
            "value": _render_value(f, data.get(f.name)),
        }
        for f in schema.FIELDS
    ]


@admin.register(CompanionInsights)
class CompanionInsightsAdmin(EngineAdmin):
    list_display = ["user_id", "training_level_column", "populated_fields", "updated_at"]
    list_filter = [TrainingLevelFilter, UserFilter]
    ordering = ["-updated_at"]
    fields = [
        "user",
        "preferred_name",
        "training_level_column",
        "profile",
        "unknown_keys",
        "updated_at",
    ]
    readonly_fields = fields

    @admin.display(description="preferred name")
    def preferred_name(self, obj: CompanionInsights) -> str:
        data = obj.insights if isinstance(obj.insights, dict) else {}
        return data.get(schema.NAME_FIELD.name) or "—"

    @admin.display(description="training level", ordering="training_level")
    def training_level_column(self, obj: CompanionInsights) -> str:
        return f"{obj.training_level:.3f}"

    @admin.display(description="fields populated")
    def populated_fields(self, obj: CompanionInsights) -> str:
        rows = profile_rows(obj.insights)
        return f"{sum(r['populated'] for r in rows)} / {len(rows)}"

    @admin.display(description="user")
    def user(self, obj: CompanionInsights):
        from companions.models import ChatSession
        from memory.models import CompanionMemory

        return format_html(
            "{} · {} · {}",
            obj.user_id,
            link(changelist_url(ChatSession, user=obj.user_id), "sessions"),
            link(changelist_url(CompanionMemory, user=obj.user_id), "memories"),
        )

    @admin.display(description="profile")
    def profile(self, obj: CompanionInsights):
        rows = profile_rows(obj.insights)
        computed = schema.training_level(obj.insights)
        body = format_html_join(
            "",
            '<tr class="{}"><td>{}</td><td><code>{}</code></td><td class="eros-num">{}</td>'
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    "eros-populated" if r["populated"] else "eros-missing",
                    r["label"],
                    r["name"],
                    f"{r['weight']:.2f}",
                    "populated" if r["populated"] else "missing",
                    r["value"] or "—",
                )
                for r in rows
            ),
        )
        note = (
            ""
            if abs(computed - obj.training_level) < 1e-9
            else format_html(
                '<p class="errornote">Stored training level {} differs from the profile ({}).</p>',
                f"{obj.training_level:.3f}",
                f"{computed:.3f}",
            )
        )
        return format_html(
            '<table class="eros-profile"><thead><tr><th>field</th><th>key</th><th>weight</th>'
            "<th>status</th><th>value</th></tr></thead><tbody>{}</tbody>"
            '<tfoot><tr><td colspan="2">training level (sum of populated weights)</td>'
            '<td class="eros-num">{}</td><td colspan="2"></td></tr></tfoot></table>{}',
            body,
            f"{computed:.3f}",
            note,
        )

    @admin.display(description="keys outside the schema")
    def unknown_keys(self, obj: CompanionInsights):
        data = obj.insights if isinstance(obj.insights, dict) else {}
        extra = sorted(k for k in data if k not in schema.BY_NAME)
        return ", ".join(extra) if extra else "—"
