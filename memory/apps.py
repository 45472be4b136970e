from django.apps import AppConfig


class MemoryConfig(AppConfig):
    name = "memory"
    verbose_name = "Memory"

    def ready(self) -> None:
        from django.core import checks
        from django.db.models.signals import post_migrate

        from memory.embedding_dim import check_after_migrate, embedding_dim_check

        # The vector column must match EMBEDDING_DIM; say what to run when it does not.
        checks.register(embedding_dim_check, checks.Tags.database)
        post_migrate.connect(check_after_migrate, sender=self, dispatch_uid="memory-embedding-dim")
