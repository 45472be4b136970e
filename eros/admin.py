"""Shared admin parts: a read-only base for engine tables, a paginator that never counts, filters.

Operators read the engine's tables; they never write them around the services. Every engine
admin therefore starts from :class:`EngineAdmin`: no add, change or delete, lists of a bounded
number of queries, and no ``COUNT(*)`` over tables that grow with every chat turn (the
paginator fetches one row more than a page instead, as healthchecks' ``hc/api/admin.py`` avoids
counting its big tables). Admins that do allow a write (memory soft delete, genome edits) do so
through the owning service or validator.
"""

from __future__ import annotations

import json
import uuid
from functools import cached_property
from typing import Any

from django.contrib import admin
from django.contrib.admin import ShowFacets
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.urls import reverse
from django.utils.html import format_html

admin.site.site_header = "eros operators"
admin.site.site_title = "eros admin"
admin.site.index_title = "Relationships, memories and insights"
# Engine lists are wide (six axes, ids, labels); the page needs the sidebar's width.
admin.site.enable_nav_sidebar = False

ADMIN_CSS = {"all": ("eros/admin.css",)}


class NoCountPaginator(Paginator):
    """Pages a queryset without ``COUNT(*)``: it reads one row past the page instead.

    ``count`` is ``offset + rows read`` (at most one page plus one row), which is enough for
    the admin to know whether a next page exists; the rows read are reused for the page, so a
    list costs one query however large the table. ``previous_url``/``next_url`` keep the
    request's other parameters.
    """

    counts_rows = False

    def __init__(self, object_list, per_page, *, request=None, page_param: str = "p"):
        super().__init__(object_list, per_page)
        self.request = request
        self.page_param = page_param
        self.page_number = _page_number(request, page_param)
        self._rows: list | None = None

    def _window(self) -> list:
        if self._rows is None:
            offset = (self.page_number - 1) * self.per_page
            self._rows = list(self.object_list[offset : offset + self.per_page + 1])
        return self._rows

    @cached_property
    def count(self) -> int:
        return (self.page_number - 1) * self.per_page + len(self._window())

    def page(self, number):
        number = self.validate_number(number)
        if number != self.page_number:
            return super().page(number)
        return self._get_page(self._window()[: self.per_page], number, self)

    @property
    def has_next(self) -> bool:
        return len(self._window()) > self.per_page

    def _url(self, number: int) -> str:
        query = self.request.GET.copy() if self.request is not None else {}
        query[self.page_param] = str(number)
        return "?" + query.urlencode()

    @property
    def previous_url(self) -> str | None:
        return self._url(self.page_number - 1) if self.page_number > 1 else None

    @property
    def next_url(self) -> str | None:
        return self._url(self.page_number + 1) if self.has_next else None


def _page_number(request, param: str) -> int:
    try:
        return max(int(request.GET.get(param, 1)), 1) if request is not None else 1
    except (TypeError, ValueError):
        return 1


class EngineAdmin(admin.ModelAdmin):
    """Read-only admin for an engine table that may hold millions of rows.

    No add/change/delete permission (so no form can write around a service), no counting
    paginator, no facet counts, no "show all", and 100 rows a page.
    """

    list_per_page = 100
    list_max_show_all = 0
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    actions_selection_counter = False

    class Media:
        css = ADMIN_CSS

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return NoCountPaginator(queryset, per_page, request=request)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class UuidInputFilter(admin.SimpleListFilter):
    """A text box filtering one UUID column exactly (no DISTINCT scan to list choices).

    Subclasses set ``title``, ``parameter_name`` and ``field`` (the ORM lookup, e.g.
    ``user_id``). A value that is not a UUID matches nothing and says so.
    """

    template = "admin/eros/uuid_filter.html"
    field = ""

    def lookups(self, request, model_admin):
        return ()

    def has_output(self) -> bool:
        return True

    def valid_value(self) -> uuid.UUID | None:
        try:
            return uuid.UUID(str(self.value()).strip()) if self.value() else None
        except ValueError:
            return None

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        value = self.valid_value()
        if value is None:
            return queryset.none()
        return queryset.filter(**{self.field: value})

    def choices(self, changelist):
        hidden = [
            (key, value)
            for key, value in changelist.params.items()
            if key not in (self.parameter_name, "p")
        ]
        yield {
            "parameter_name": self.parameter_name,
            "value": self.value() or "",
            "invalid": bool(self.value()) and self.valid_value() is None,
            "hidden": hidden,
            "clear_url": changelist.get_query_string(remove=[self.parameter_name]),
            "selected": bool(self.value()),
        }


class UserFilter(UuidInputFilter):
    title = "user"
    parameter_name = "user"
    field = "user_id"


class SessionFilter(UuidInputFilter):
    title = "session"
    parameter_name = "session"
    field = "session_id"


def change_url(model: type[Model] | Model, pk: Any) -> str:
    """The admin change page of ``model`` row ``pk``."""
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk])


def changelist_url(model: type[Model], **params: Any) -> str:
    """The admin list of ``model`` filtered by ``params`` (filter parameter → value)."""
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    if params:
        from urllib.parse import urlencode

        url += "?" + urlencode({k: str(v) for k, v in params.items()})
    return url


def link(url: str, text: Any):
    return format_html('<a href="{}">{}</a>', url, text)


def id_link(url: str, value: Any):
    """A short id (see :func:`short_id`) linking to ``url``, the full id in its tooltip."""
    return format_html('<a href="{}" title="{}">{}</a>', url, value, short_id(value))


def user_link(model: type[Model], user_id: Any):
    """The user's short id, linking to ``model``'s list filtered to that user."""
    return id_link(changelist_url(model, user=user_id), user_id) if user_id else "—"


def short_id(value: Any) -> str:
    """The first 8 hex digits of a UUID: enough to tell rows apart on one screen."""
    return str(value)[:8] if value else "—"


def pretty_json(value: Any, *, summary: str = "JSON", open_: bool = False):
    """``value`` as indented JSON behind a ``<details>`` toggle (closed unless ``open_``)."""
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    return format_html(
        '<details class="eros-json"{}><summary>{}</summary><pre>{}</pre></details>',
        " open" if open_ else "",
        summary,
        text,
    )


def first_rows(queryset: QuerySet, limit: int) -> tuple[list, bool]:
    """Up to ``limit`` rows of ``queryset`` and whether more exist (one query, no count)."""
    rows = list(queryset[: limit + 1])
    return rows[:limit], len(rows) > limit
