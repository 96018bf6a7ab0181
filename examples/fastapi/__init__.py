"""The FastAPI example: ``app.py``."""
