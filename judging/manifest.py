"""The AI 50 Challenge, as the portal loads it."""

from portal.manifest import Manifest, OfficialLink

MANIFEST = Manifest(
    name="judging",
    piccolo_app="judging.piccolo_app",
    routes="judging.routes:ROUTE_HANDLERS",
    official_links=(
        OfficialLink(
            "AI 50 Challenge",
            "/officials/challenge",
            "Editions, screening, judges and conflicts, assignment, calibration, selection, approvals and exports.",
        ),
    ),
    demo="judging.demo:load_demo",
    cli="judging.cli:register",
    template_globals="judging.categories:TEMPLATE_GLOBALS",
)
