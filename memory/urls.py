"""Routes of one memory; the collection (``user/<id>/memories``: list and add) is routed by
``companions.urls``, because adding a relationship memory checks the persona instance's owner."""

from django.urls import path

from memory import apis

urlpatterns = [
    path(
        "user/<uuid:user_id>/memories/<uuid:memory_id>",
        apis.MemoryDetailApi.as_view(),
        name="memories-delete",
    ),
]
