from django.apps import AppConfig


class ErosConfig(AppConfig):
    name = "eros"
    verbose_name = "eros engine"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        import eros.schema  # noqa: F401  (registers the OpenAPI bearer scheme)
        from eros.llm.providers import providers_check

        # Every process (web, worker, commands) refuses to start with a provider set-up that
        # cannot work, naming what to fix, instead of failing on the first chat turn.
        providers_check()

        def _reset_caches(*, setting: str, **kwargs) -> None:
            from eros import auth
            from eros.llm import providers

            auth._validator_for.cache_clear()
            providers.reset()

        setting_changed.connect(_reset_caches, dispatch_uid="eros-reset-caches")
