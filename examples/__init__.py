"""The example apps, one package: run them from the repository's root.

``flask --app examples.flask.app run``, ``uvicorn examples.fastapi.app:app``,
``python -m examples.django.manage runserver``, ``python -m examples.demo``;
the Lambda handler is ``examples.aws_lambda.handler.handler``. Each imports
the demo's shared plumbing as ``examples._shared``, with no ``sys.path``
edit.
"""
