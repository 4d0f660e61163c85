"""Routes of the city budget connector, collected by the app factory."""

from portal.connector.controllers import ConnectorApi, ConnectorPages

ROUTE_HANDLERS = [ConnectorPages, ConnectorApi]
