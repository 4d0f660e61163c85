"""PB's controllers as the portal mounts them (see voting.manifest)."""

from voting.api import PbApi
from voting.pages.channels import OfficialChannelPages
from voting.pages.citizens import PbPages
from voting.pages.delivery import DeliveryPages
from voting.pages.delivery_officials import OfficialDeliveryPages
from voting.pages.kiosk import KioskPages
from voting.pages.officials import OfficialPbPages
from voting.pages.paper import OfficialPaperPages, PaperPages
from voting.pages.poll_workers import PollWorkerPages
from voting.pages.screening import OfficialScreeningPages
from voting.pages.stations import OfficialStationPages
from voting.pages.statistics import StatisticsPages

ROUTE_HANDLERS = [
    PbApi,
    PbPages,
    OfficialPbPages,
    OfficialStationPages,
    PollWorkerPages,
    KioskPages,
    PaperPages,
    OfficialPaperPages,
    OfficialChannelPages,
    StatisticsPages,
    OfficialScreeningPages,
    DeliveryPages,
    OfficialDeliveryPages,
]
