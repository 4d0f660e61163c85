"""Citizens' PB proposals and their review, as the portal loads them."""

from portal.manifest import Manifest

MANIFEST = Manifest(
    name="proposals",
    piccolo_app="proposals.piccolo_app",
    routes="proposals.routes:ROUTE_HANDLERS",
    demo="proposals.demo:load_demo",  # after voting's: adds the citizen's proposals to its open cycle
    # What voting asks of proposals (the contract in voting/projects.py).
    provides={
        "pb.pot_projects": "proposals.services.ballot:pot_projects",
        "pb.cycle_projects": "proposals.services.ballot:cycle_projects",
        "pb.import_projects": "proposals.services.ballot:import_projects",
        "follow.proposal": "proposals.services.announcements:describe_proposal",
    },
)
