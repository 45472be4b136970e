from django.apps import AppConfig


class ErosConfig(AppConfig):
    name = "eros"
    verbose_name = "eros engine"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        import eros.schema  # noqa: F401  (registers the OpenAPI bearer scheme)

        def _reset_caches(*, setting: str, **kwargs) -> None:
            from eros import auth
            from eros.llm import providers

            auth._validator_for.cache_clear()
            providers.reset()

        setting_changed.connect(_reset_caches, dispatch_uid="eros-reset-caches")
