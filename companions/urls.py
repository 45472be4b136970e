from django.urls import path

from companions import apis

urlpatterns = [
    path("chat/start", apis.ChatStartApi.as_view(), name="chat-start"),
    path("chat/<uuid:session_id>/message", apis.ChatMessageApi.as_view(), name="chat-message"),
    path(
        "chat/<uuid:session_id>/regenerate",
        apis.ChatRegenerateApi.as_view(),
        name="chat-regenerate",
    ),
    path(
        "chat/<uuid:session_id>/message_async",
        apis.ChatMessageAsyncApi.as_view(),
        name="chat-message-async",
    ),
    path(
        "chat/<uuid:session_id>/pending/<uuid:message_id>",
        apis.ChatPendingApi.as_view(),
        name="chat-pending",
    ),
    path("chat/<uuid:session_id>/history", apis.ChatHistoryApi.as_view(), name="chat-history"),
    path("chat/<uuid:user_id>/sessions", apis.ChatSessionListApi.as_view(), name="chat-sessions"),
    path("chat/<uuid:session_id>/event/gift", apis.GiftSendApi.as_view(), name="gift-send"),
    path("chat/<uuid:session_id>/gifts", apis.GiftListApi.as_view(), name="gift-list"),
    path("affinity/<uuid:session_id>", apis.AffinityDetailApi.as_view(), name="affinity-detail"),
    path(
        "chat/<uuid:session_id>/message/stream",
        apis.ChatMessageStreamApi.as_view(),
        name="chat-message-stream",
    ),
    path("user/<uuid:user_id>/memories", apis.MemoryCollectionApi.as_view(), name="memories-list"),
    path("user/<uuid:user_id>/data", apis.UserDataEraseApi.as_view(), name="user-data-erase"),
]
