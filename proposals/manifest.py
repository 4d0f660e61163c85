"""Citizens' PB proposals and their review, as the portal loads them."""

from portal.manifest import Manifest

MANIFEST = Manifest(
    name="proposals",
    piccolo_app="proposals.piccolo_app",
    routes="proposals.routes:ROUTE_HANDLERS",
    demo="proposals.demo:load_demo",  # after voting's: adds the citizen's proposals to its open cycle
    # What voting asks of proposals (see voting/projects.py); implemented by the proposals rooms.
    provides={
        "pb.pot_projects": "proposals.services:pot_projects",
        "pb.cycle_projects": "proposals.services:cycle_projects",
        "pb.import_projects": "proposals.services:import_projects",
    },
)
