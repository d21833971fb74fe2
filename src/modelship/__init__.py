"""modelship: take a model from a push to production and back."""

__version__ = "0.1.0"
