"""WSGI entry point, for tools that need one; serve eros with ASGI (eros.asgi) in production."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eros.settings")
application = get_wsgi_application()
