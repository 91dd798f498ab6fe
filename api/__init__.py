"""The web layer: `create_app()` is the composition root for HTTP, CLI and the timer worker."""

from .app import create_app

__all__ = ["create_app"]
