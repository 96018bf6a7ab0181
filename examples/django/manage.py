#!/usr/bin/env python
"""Django's command line, from the repository's root:
``python -m examples.django.manage runserver``.

Served this way (WSGI), the key endpoint is the sync view on
``issuer.handle``; ``uvicorn examples.django.issuing_demo.asgi:application``
serves the same routes with the async view on ``issuer.ahandle``.
"""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault(
        "DJANGO_SETTINGS_MODULE", "examples.django.issuing_demo.settings"
    )
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
