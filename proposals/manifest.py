"""Citizens' PB proposals and their review, as the portal loads them."""

from portal.manifest import Manifest

MANIFEST = Manifest(
    name="proposals",
    piccolo_app="proposals.piccolo_app",
    routes="proposals.routes:ROUTE_HANDLERS",
)
