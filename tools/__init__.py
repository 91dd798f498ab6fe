"""Developer tools run by hand (``python -m tools.<name>``), not shipped with the service."""
