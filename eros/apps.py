import logging

from django.apps import AppConfig
from django.core import checks

logger = logging.getLogger("eros")


class ErosConfig(AppConfig):
    name = "eros"
    verbose_name = "eros engine"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        import eros.schema  # noqa: F401  (registers the OpenAPI bearer scheme)
        from eros.auth import check_token_sources
        from eros.llm.providers import providers_check

        # Outside development, a process without a JWT source must not start at all.
        check_token_sources()
        checks.register(check_token_validator, checks.Tags.security)
        # Every process (web, worker, commands) refuses to start with a provider set-up that
        # cannot work, naming what to fix, instead of failing on the first chat turn.
        providers_check()
        # Production on the offline providers is allowed, but every process says so.
        from eros.production import production_warnings

        for warning in production_warnings():
            logger.warning("%s", warning)
        checks.register(check_production_providers, checks.Tags.security, deploy=True)

        def _reset_caches(*, setting: str, **kwargs) -> None:
            from eros import auth
            from eros.llm import providers

            auth._validator_for.cache_clear()
            providers.reset()

        # weak=False: the receiver is a local function, which a weak reference would lose.
        setting_changed.connect(_reset_caches, weak=False, dispatch_uid="eros-reset-caches")

        from eros.workers import lower_cluster_priority

        # Background work yields the CPU to replies (Q_NICE); only in a qcluster process.
        lower_cluster_priority()


def check_token_validator(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """System check ``eros.E001``: the validator named by ``EROS_TOKEN_VALIDATOR`` can be built."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from eros.auth import _validator_for

    try:
        _validator_for(settings.EROS_TOKEN_VALIDATOR)
    except (ImportError, ImproperlyConfigured, TypeError) as exc:
        return [
            checks.Error(
                f"EROS_TOKEN_VALIDATOR={settings.EROS_TOKEN_VALIDATOR!r} cannot be used: {exc}",
                hint="Set SUPABASE_URL, SUPABASE_JWKS_URL or SUPABASE_JWT_SECRET, or name an "
                "importable validator class.",
                id="eros.E001",
            )
        ]
    return []


def check_production_providers(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Deploy check ``eros.W001``: production runs on an offline provider (``check --deploy``)."""
    from eros.production import production_warnings

    return [
        checks.Warning(
            warning,
            hint="Configure a chat model and an embeddings provider (see .env.example).",
            id="eros.W001",
        )
        for warning in production_warnings()
    ]
