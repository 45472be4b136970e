"""The OpenAI-compatible routes, mounted under ``/v1/`` (see :mod:`companions.openai_apis`)."""

from django.urls import path

from companions import openai_apis

urlpatterns = [
    path("models", openai_apis.OpenAIModelListApi.as_view(), name="openai-models"),
    path(
        "chat/completions",
        openai_apis.OpenAIChatCompletionApi.as_view(),
        name="openai-chat-completions",
    ),
]
