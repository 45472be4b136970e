from django.urls import path

from insights.apis import ProfileDetailApi

urlpatterns = [
    path("user/<uuid:user_id>/profile", ProfileDetailApi.as_view(), name="profile-detail"),
]
