"""Shim so the ``piccolo`` command line finds the portal's configuration."""

from portal.piccolo_conf import APP_REGISTRY, DB  # noqa: F401
