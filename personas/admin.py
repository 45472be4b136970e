"""Persona admin: genomes are editable (``art_metadata`` validated as the loader does) and can be
imported from a character card upload; instances are read-only; :func:`persona_name` lets
other admins show a persona by name in one query."""

from __future__ import annotations

import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, Subquery, TextField, Value
from django.db.models.functions import Coalesce
from django.forms.fields import InvalidJSONInput
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from eros.admin import (
    ADMIN_CSS,
    EngineAdmin,
    NoCountPaginator,
    UuidInputFilter,
    change_url,
    changelist_url,
    link,
)
from eros.jsonsafe import nesting_exceeds, unstorable_value
from personas.cards import MAX_CARD_BYTES
from personas.loader import ArtMetadataError, PersonaFileError, validate_art_metadata
from personas.models import PersonaGenome, PersonaInstance
from personas.services import persona_import_card


def persona_name(instance_field: str = "instance_id") -> Subquery:
    """The genome name of the persona instance in ``instance_field`` (a correlated subquery).

    There is no foreign key on ``instance_id`` columns (DESIGN §3), so lists annotate the name
    instead of joining; NULL when the instance is unknown.
    """
    return Subquery(
        PersonaInstance.objects.filter(id=OuterRef(instance_field)).values("genome__name")[:1],
        output_field=TextField(),
    )


class PrettyJSONField(forms.JSONField):
    """JSON shown indented, so operators can edit a persona card line by line; nesting deeper
    than ``JSON_MAX_DEPTH`` is refused before decoding (the decoder recurses per level)."""

    def to_python(self, value):
        limit = settings.JSON_MAX_DEPTH
        if isinstance(value, str) and nesting_exceeds(value, limit):
            raise forms.ValidationError(f"Nested more than {limit} levels deep.", code="invalid")
        return super().to_python(value)

    def bound_data(self, data, initial):
        # A refused value is shown again as typed: decoding it could exhaust the stack (too
        # deep), and a decoded lone surrogate cannot be written into the UTF-8 page.
        if isinstance(data, str) and nesting_exceeds(data, settings.JSON_MAX_DEPTH):
            return InvalidJSONInput(data)
        value = super().bound_data(data, initial)
        if isinstance(data, str) and unstorable_value(value):
            return InvalidJSONInput(data)
        return value

    def prepare_value(self, value):
        if isinstance(value, InvalidJSONInput):  # re-displayed after an error: keep the typing
            return value
        return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


class PersonaGenomeForm(forms.ModelForm):
    """Genome edits: trimmed, non-blank name and prompt; blank optional text → NULL;
    ``art_metadata`` checked by :func:`personas.loader.validate_art_metadata`."""

    class Meta:
        model = PersonaGenome
        fields = [
            "name",
            "system_prompt",
            "tip_personality",
            "greeting",
            "avatar_url",
            "art_metadata",
            "is_active",
        ]
        field_classes = {"art_metadata": PrettyJSONField}
        widgets = {
            "name": forms.TextInput(attrs={"size": 40}),
            "tip_personality": forms.TextInput(attrs={"size": 40}),
            "greeting": forms.Textarea(attrs={"rows": 4, "cols": 100}),
            "avatar_url": forms.TextInput(attrs={"size": 80}),
            "art_metadata": forms.Textarea(attrs={"rows": 24, "cols": 100}),
        }

    def clean_name(self) -> str:
        name = (self.cleaned_data.get("name") or "").strip()
        if not name:
            raise forms.ValidationError("A persona needs a name.")
        taken = PersonaGenome.objects.filter(name=name).exclude(pk=self.instance.pk)
        if taken.exists():
            # Seeding upserts genomes by name, so two genomes may not share one.
            raise forms.ValidationError("Another genome already has this name.")
        return name

    def clean_system_prompt(self) -> str:
        prompt = (self.cleaned_data.get("system_prompt") or "").strip()
        if not prompt:
            raise forms.ValidationError("The system prompt may not be blank.")
        return prompt

    def clean_tip_personality(self) -> str | None:
        return (self.cleaned_data.get("tip_personality") or "").strip() or None

    def clean_avatar_url(self) -> str | None:
        return (self.cleaned_data.get("avatar_url") or "").strip() or None

    def clean_greeting(self) -> str | None:
        return (self.cleaned_data.get("greeting") or "").strip() or None

    def clean_art_metadata(self) -> dict:
        data = self.cleaned_data.get("art_metadata")
        if data is None:
            data = {}
        try:
            validate_art_metadata(data)
        except ArtMetadataError as exc:
            where = f"art_metadata.{exc.field}" if exc.field else "art_metadata"
            raise forms.ValidationError(f"{where}: {exc.reason}") from exc
        # JSONB cannot hold a lone surrogate, and clients cannot read numbers past a double.
        found = unstorable_value(data)
        if found:
            path, reason = found
            raise forms.ValidationError(f"art_metadata.{path}: {reason}")
        return data


class CardUploadForm(forms.Form):
    """One character card file (V2/V3, ``.png`` or ``.json``), parsed by :mod:`personas.cards`."""

    card = forms.FileField(
        help_text="A Character Card V2 or V3: a .png with a 'chara'/'ccv3' text chunk, or a "
        ".json file. A genome with the card's name is refreshed; otherwise one is added."
    )

    def clean_card(self):
        upload = self.cleaned_data["card"]
        if upload.size > MAX_CARD_BYTES:
            raise forms.ValidationError(f"The file is over {MAX_CARD_BYTES // 2**20} MiB.")
        return upload


@admin.register(PersonaGenome)
class PersonaGenomeAdmin(admin.ModelAdmin):
    """Editable genomes; deactivate (``is_active``) rather than delete: instances keep them.

    ``import-card/`` takes a character card upload and upserts its genome by name.
    """

    form = PersonaGenomeForm
    change_list_template = "admin/personas/personagenome/change_list.html"
    list_display = ["name", "is_active", "model_override", "instance_count", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    readonly_fields = ["id", "created_at", "instances_link"]
    fieldsets = [
        (None, {"fields": ["id", "name", "is_active", "created_at", "instances_link"]}),
        ("Prompt", {"fields": ["system_prompt", "tip_personality", "greeting"]}),
        ("Card", {"fields": ["avatar_url", "art_metadata"]}),
    ]
    show_full_result_count = False

    class Media:
        css = ADMIN_CSS

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return NoCountPaginator(queryset, per_page, request=request)

    def get_queryset(self, request):
        count = (
            PersonaInstance.objects.filter(genome_id=OuterRef("pk"))
            .order_by()
            .values("genome_id")
            .annotate(n=Count("*"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                instance_count=Coalesce(Subquery(count, output_field=IntegerField()), Value(0))
            )
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        return [
            path(
                "import-card/",
                self.admin_site.admin_view(self.import_card_view),
                name="personas_personagenome_import_card",
            ),
            *super().get_urls(),
        ]

    def import_card_view(self, request):
        """Upload form for a character card; on success, the imported genome's change page."""
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        form = CardUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["card"]
            try:
                outcome = persona_import_card(data=upload.read(), filename=upload.name)
            except PersonaFileError as exc:
                where = f"{exc.field}: " if exc.field else ""
                form.add_error("card", f"{where}{exc.reason}")
            else:
                self.message_user(
                    request,
                    f"{outcome.name}: {outcome.action} from {upload.name}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(change_url(PersonaGenome, outcome.genome_id))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import a character card",
            "form": form,
            "changelist_url": reverse("admin:personas_personagenome_changelist"),
        }
        return TemplateResponse(request, "admin/personas/personagenome/import_card.html", context)

    @admin.display(description="model override")
    def model_override(self, obj: PersonaGenome) -> str:
        model = (
            (obj.art_metadata or {}).get("model") if isinstance(obj.art_metadata, dict) else None
        )
        return model or "—"

    @admin.display(description="instances", ordering="instance_count")
    def instance_count(self, obj: PersonaGenome) -> int:
        return obj.instance_count

    @admin.display(description="instances")
    def instances_link(self, obj: PersonaGenome):
        if obj.pk is None:
            return "—"
        return link(
            changelist_url(PersonaInstance, genome__id__exact=obj.pk), "this genome's instances"
        )


class OwnerFilter(UuidInputFilter):
    title = "owner"
    parameter_name = "owner"
    field = "owner_uid"


@admin.register(PersonaInstance)
class PersonaInstanceAdmin(EngineAdmin):
    """Read-only: instances are created by ``session_start`` and owned by one user each."""

    list_display = ["id", "genome", "owner_uid", "status", "created_at"]
    list_select_related = ["genome"]
    list_filter = ["genome", "status", OwnerFilter]
    ordering = ["-created_at"]
    fields = ["id", "genome", "owner_uid", "status", "created_at", "sessions_link"]
    readonly_fields = fields

    @admin.display(description="sessions")
    def sessions_link(self, obj: PersonaInstance):
        from companions.models import ChatSession

        return link(changelist_url(ChatSession, instance=obj.pk), "sessions with this instance")
