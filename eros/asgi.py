"""ASGI entry point (uvicorn): streamed replies are not buffered under ASGI."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eros.settings")
application = get_asgi_application()
