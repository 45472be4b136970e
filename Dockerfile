# eros: the web server, a django-q2 worker and the dreaming schedule, against DATABASE_URL.
#   docker build -t eros .
#   docker run -p 8080:8080 -e DATABASE_URL=postgres://... -e DJANGO_SECRET_KEY=... \
#       -e SUPABASE_URL=https://<project>.supabase.co eros
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
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
RUN DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput -v 0

EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz').status != 200)"
CMD ["python", "manage.py", "up", "--host", "0.0.0.0", "--port", "8080"]
