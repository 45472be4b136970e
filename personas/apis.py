"""``/comp/personas``."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from personas.selectors import persona_list_active


class PersonaSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    system_prompt = serializers.CharField()
    tip_personality = serializers.CharField(allow_null=True)
    avatar_url = serializers.CharField(allow_null=True)
    art_metadata = serializers.JSONField()
    is_active = serializers.BooleanField()


class PersonaListOutputSerializer(serializers.Serializer):
    personas = PersonaSerializer(many=True)


class PersonaListApi(APIView):
    """The active persona genomes a user can start a chat with, ordered by name."""

    OutputSerializer = PersonaListOutputSerializer

    @extend_schema(tags=["companion"], operation_id="personas_list", responses=OutputSerializer)
    def get(self, request):
        return Response(self.OutputSerializer({"personas": persona_list_active()}).data)
