"""PB's controllers as the portal mounts them (see voting.manifest)."""

from voting.api import PbApi
from voting.pages.channels import OfficialChannelPages
from voting.pages.citizens import PbPages
from voting.pages.officials import OfficialPbPages

ROUTE_HANDLERS = [PbApi, PbPages, OfficialPbPages, OfficialChannelPages]
