"""Public, unauthenticated endpoints of the project itself."""

from __future__ import annotations

from django.db import connection
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

import eros
from eros.llm.providers import chat_provider_name, embeddings_provider_name
from eros.production import production_warnings

HEALTH = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "degraded"]),
        "service": serializers.CharField(),
        "version": serializers.CharField(),
        "timestamp": serializers.DateTimeField(),
        "providers": inline_serializer(
            "HealthProviders",
            {"chat": serializers.CharField(), "embeddings": serializers.CharField()},
        ),
        "database": serializers.ChoiceField(choices=["ok", "unavailable"]),
        "warnings": serializers.ListField(
            child=serializers.CharField(),
            required=False,
            help_text="Present only when there is something to fix, e.g. production running "
            "on the offline providers; one sentence each.",
        ),
    },
)


class HealthApi(APIView):
    """Liveness and configuration at a glance: providers in use and database reachability."""

    authentication_classes: list = []
    permission_classes: list = []
    # Load balancers and monitors poll it; it is never rate limited.
    throttle_classes: list = []

    @extend_schema(
        tags=["health"],
        operation_id="healthz",
        responses={
            200: OpenApiResponse(HEALTH, description="Up, database reachable."),
            503: OpenApiResponse(HEALTH, description="Up, but the database is unreachable."),
        },
    )
    def get(self, request):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            database = "ok"
        except Exception:  # the health answer must not fail with the database
            database = "unavailable"
        body = {
            "status": "ok" if database == "ok" else "degraded",
            "service": "eros",
            "version": eros.__version__,
            "timestamp": timezone.now().isoformat(),
            "providers": {"chat": chat_provider_name(), "embeddings": embeddings_provider_name()},
            "database": database,
        }
        warnings = production_warnings()
        if warnings:
            body["warnings"] = warnings
        return Response(body, status=200 if database == "ok" else 503)
