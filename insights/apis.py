"""``/comp/user/{user_id}/profile``: the caller's structured insight profile."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from eros.api import forbid_other_user
from eros.schema import error_responses
from insights.schema import training_level
from insights.selectors import insights_for_user


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {},
        "nullable": True,
        "description": "The profile fields eros has learned (city, occupation, interests, …); "
        "null before the first one.",
    }
)
class InsightsField(serializers.JSONField):
    pass


class ProfileDetailApi(APIView):
    """The caller's insight profile and its weighted completeness ``agent_training_level``."""

    class OutputSerializer(serializers.Serializer):
        user_id = serializers.UUIDField()
        companion_insights = InsightsField(allow_null=True)
        agent_training_level = serializers.FloatField(help_text="0–1.")

    @extend_schema(
        tags=["companion"],
        operation_id="profile_detail",
        responses={200: OutputSerializer, **error_responses(403, 404)},
    )
    def get(self, request, user_id):
        forbid_other_user(path_user_id=user_id, caller_id=request.user.id)
        insights = insights_for_user(user_id=user_id)
        body = {
            "user_id": user_id,
            "companion_insights": insights,
            "agent_training_level": training_level(insights) if insights is not None else 0.0,
        }
        return Response(self.OutputSerializer(body).data)
