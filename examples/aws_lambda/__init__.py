"""The AWS Lambda example: ``handler.py``."""
