from django.urls import path

from companions import apis

urlpatterns = [
    path("chat/start", apis.ChatStartApi.as_view(), name="chat-start"),
    path("chat/<uuid:session_id>/message", apis.ChatMessageApi.as_view(), name="chat-message"),
    path(
        "chat/<uuid:session_id>/message/stream",
        apis.ChatMessageStreamApi.as_view(),
        name="chat-message-stream",
    ),
]
