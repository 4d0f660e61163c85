"""PB's controllers as the portal mounts them (see voting.manifest)."""

from voting.api import PbApi
from voting.pages.citizens import PbPages
from voting.pages.officials import OfficialPbPages
from voting.pages.paper import OfficialPaperPages, PaperPages

ROUTE_HANDLERS = [PbApi, PbPages, OfficialPbPages, PaperPages, OfficialPaperPages]
