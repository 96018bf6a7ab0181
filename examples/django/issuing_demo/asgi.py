"""The ASGI application (uvicorn): the key endpoint on ``issuer.ahandle``.

    uvicorn examples.django.issuing_demo.asgi:application

Django answers no ASGI lifespan events, so the process's ``Demo`` is built
on the first request and lives until the process ends.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django.issuing_demo.settings")
# Read by settings.ASYNC_VIEWS, before Django loads the settings below.
os.environ["ISSUING_DEMO_ASGI"] = "1"

application = get_asgi_application()
