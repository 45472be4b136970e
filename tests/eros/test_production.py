"""``EROS_ENV=production``: unsafe settings refused in one line, a clean ``check --deploy``,
loud warnings on the offline providers, and nothing minted for a development user."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from eros.auth import SupabaseTokenValidator
from tests.commands import PRODUCTION, clean_env, manage, python

PREFIX = "eros: configuration error: "


def _refused(result) -> str:
    """The one line a refused start printed (asserting exit code 2 and nothing else)."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(PREFIX)
    return lines[0]


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"DEBUG": "true"}, "DEBUG=true"),
        ({"DJANGO_SECRET_KEY": "x"}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_SECRET_KEY": "ab" * 40}, "DJANGO_SECRET_KEY"),  # long, 2 distinct characters
        ({"DJANGO_SECRET_KEY": "django-insecure-" + "k3y-Z" * 10}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY is required"),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS=*"),
        ({"ALLOWED_HOSTS": "eros.example.com, *"}, "ALLOWED_HOSTS=*"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS is required"),
        ({"SUPABASE_JWT_SECRET": "s3cret"}, "SUPABASE_JWT_SECRET"),
        ({"EROS_PLAYGROUND": "true"}, "EROS_PLAYGROUND=true"),
    ],
    ids=[
        "debug",
        "short-secret-key",
        "repetitive-secret-key",
        "insecure-prefix-secret-key",
        "no-secret-key",
        "wildcard-hosts",
        "wildcard-among-hosts",
        "no-hosts",
        "short-jwt-secret",
        "playground",
    ],
)
def test_production_refuses_an_unsafe_setting_in_one_line(env, setting):
    line = _refused(manage("check", env=clean_env(**{**PRODUCTION, **env})))
    assert setting in line and "EROS_ENV=production" in line


def test_an_unknown_environment_name_is_refused():
    line = _refused(manage("check", env=clean_env(**{**PRODUCTION, "EROS_ENV": "staging"})))
    assert "EROS_ENV='staging'" in line


def test_check_deploy_is_clean_with_the_production_defaults():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=clean_env(**PRODUCTION))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert result.stderr == ""


def test_check_deploy_warns_when_production_runs_on_the_offline_providers():
    env = {k: v for k, v in PRODUCTION.items() if k not in ("OPENROUTER_API_KEY", "VOYAGE_API_KEY")}
    result = manage("check", "--deploy", env=clean_env(**env))
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("WARNING eros: production is running on the") == 2
    # Logged once by the process, then listed by the deploy check (Django prints it on stderr).
    assert "(eros.W001) production is running on the offline chat provider" in result.stderr
    assert "(eros.W001) production is running on the local embedder" in result.stderr
    assert "security.W" not in result.stderr


def test_the_production_defaults_are_https_only_and_trust_the_proxy_header():
    code = (
        "import django; django.setup(); from django.conf import settings as s;"
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_PROXY_SSL_HEADER, s.SECURE_HSTS_SECONDS,"
        " s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.ALLOWED_HOSTS)"
    )
    production = python(code, env=clean_env(**PRODUCTION))
    assert production.returncode == 0, production.stderr
    assert production.stdout.strip() == (
        "True ('HTTP_X_FORWARDED_PROTO', 'https') 31536000 True True "
        "['eros.example.com', 'localhost', '127.0.0.1', '[::1]']"
    )
    development = python(code, env=clean_env())
    assert development.returncode == 0, development.stderr
    assert development.stdout.strip() == "False None 0 False False ['*']"
    direct = python(code, env=clean_env(**PRODUCTION, SECURE_PROXY_SSL_HEADER=""))
    assert "True None 31536000" in direct.stdout


@pytest.mark.django_db
def test_healthz_warns_when_production_runs_on_the_offline_providers(client, settings):
    settings.CHAT_PROVIDER, settings.EMBEDDINGS_PROVIDER = "offline", "local"
    assert "warnings" not in client.get("/healthz").json()  # development: offline is expected
    settings.EROS_ENV = "production"
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["providers"] == {"chat": "offline", "embeddings": "local"}
    assert [w.split(":")[0] for w in body["warnings"]] == [
        "production is running on the offline chat provider",
        "production is running on the local embedder",
    ]


def test_the_token_command_needs_a_user_in_production(settings, alice):
    settings.EROS_ENV = "production"
    settings.SUPABASE_JWT_SECRET = PRODUCTION["SUPABASE_JWT_SECRET"]
    with pytest.raises(CommandError, match="--user"):
        call_command("token", stdout=StringIO())
    out = StringIO()
    call_command("token", "--user", str(alice), stdout=out)
    assert SupabaseTokenValidator().validate(out.getvalue().strip()) == alice
