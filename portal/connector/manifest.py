"""The city budget connector, as the portal loads it (it reaches the domains only through their services)."""

from portal.manifest import Manifest, OfficialLink

MANIFEST = Manifest(
    name="connector",
    piccolo_app="portal.connector.piccolo_app",
    routes="portal.connector.routes:ROUTE_HANDLERS",
    official_links=(
        OfficialLink(
            "City budget deliveries",
            "/officials/connector/",
            "Deliveries of approved PB allocations and challenge awards to the city budget system, "
            "with signed file exports.",
        ),
    ),
    demo="portal.connector.demo:load_demo",
    cli="portal.connector.cli:register",
    background_tasks=("portal.connector.delivery:delivery_loop",),
)
