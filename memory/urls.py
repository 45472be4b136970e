from django.urls import path

from memory import apis

urlpatterns = [
    path("user/<uuid:user_id>/memories", apis.MemoryListApi.as_view(), name="memories-list"),
    path(
        "user/<uuid:user_id>/memories/<uuid:memory_id>",
        apis.MemoryDeleteApi.as_view(),
        name="memories-delete",
    ),
]
