"""The Flask example: ``app.py``."""
