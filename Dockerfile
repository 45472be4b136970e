# eros in production: the web server, a django-q2 worker and the dreaming schedule, against
# DATABASE_URL, behind a TLS-terminating proxy that sets X-Forwarded-Proto.
#   docker build -t eros .
#   docker run -p 8080:8080 -e DATABASE_URL=postgres://... \
#       -e DJANGO_SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')" \
#       -e ALLOWED_HOSTS=eros.example.com -e SUPABASE_URL=https://<project>.supabase.co \
#       -e OPENROUTER_API_KEY=... -e VOYAGE_API_KEY=... eros
# EROS_ENV=production refuses DEBUG, a weak secret and a wildcard ALLOWED_HOSTS, and redirects
# plain HTTP to HTTPS (except /healthz); to try the image without a proxy add
# -e SECURE_SSL_REDIRECT=false. SIGTERM (docker stop) stops the web server and every worker.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    EROS_ENV=production \
    EROS_DATA_DIR=/var/lib/eros \
    STATIC_ROOT=/var/lib/eros/static

WORKDIR /app
COPY pyproject.toml README.md ./
COPY eros ./eros
COPY companions ./companions
COPY memory ./memory
COPY insights ./insights
COPY personas ./personas
RUN pip install .
COPY manage.py ./
COPY fixtures ./fixtures

RUN useradd --system --home /var/lib/eros eros \
    && mkdir -p /var/lib/eros/static && chown -R eros /var/lib/eros
USER eros
# Collecting static files needs no production secrets: build it with development settings.
RUN EROS_ENV=development DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput -v 0

EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz').status != 200)"
CMD ["python", "manage.py", "up", "--host", "0.0.0.0", "--port", "8080"]
