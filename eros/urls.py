"""Top-level routes: the ``/comp`` API, the OpenAI-compatible ``/v1``, health, docs and admin."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from companions.playground_apis import PlaygroundDreamApi
from eros.playground import playground_view, root_view
from eros.views import HealthApi

urlpatterns = [
    path("healthz", HealthApi.as_view(), name="healthz"),
    path("api-docs/openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi"), name="docs"),
    path("admin/", admin.site.urls),
    path("comp/", include("personas.urls")),
    path("comp/", include("companions.urls")),
    path("comp/", include("memory.urls")),
    path("comp/", include("insights.urls")),
    path("v1/", include("companions.openai_urls")),
    path("playground/", playground_view, name="playground"),
    path(
        "playground/sessions/<uuid:session_id>/dream",
        PlaygroundDreamApi.as_view(),
        name="playground-dream",
    ),
    path("", root_view, name="root"),
]

handler400 = "eros.api.json_bad_request"
handler403 = "eros.api.json_forbidden"
handler404 = "eros.api.json_not_found"
handler500 = "eros.api.json_server_error"
