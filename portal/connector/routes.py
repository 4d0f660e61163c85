"""Routes of the city budget connector, collected by the app factory."""

from portal.connector.controllers import ConnectorApi, ConnectorPages

ROUTE_HANDLERS = [ConnectorPages, ConnectorApi]
OFFICIAL_LINKS = [
    (
        "City budget deliveries",
        "/officials/connector/",
        "Deliveries of approved PB allocations and challenge awards to the city budget system, with signed file exports.",
    )
]
