"""The WSGI application (``python -m examples.django.manage runserver``,
gunicorn): sync views."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django.issuing_demo.settings")

application = get_wsgi_application()
