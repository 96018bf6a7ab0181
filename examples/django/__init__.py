"""The Django example: the project ``issuing_demo``, and ``manage.py``."""
