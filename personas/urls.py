from django.urls import path

from personas.apis import PersonaListApi

urlpatterns = [
    path("personas", PersonaListApi.as_view(), name="personas-list"),
]
