from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = "Insights"

    def ready(self) -> None:
        # The profile follows the user's own memory edits (eros.signals).
        from insights import receivers  # noqa: F401
