"""Citizens' PB proposals and their review, as the portal loads them."""

from portal.manifest import Manifest, OfficialLink

MANIFEST = Manifest(
    name="proposals",
    piccolo_app="proposals.piccolo_app",
    routes="proposals.routes:ROUTE_HANDLERS",
    demo="proposals.demo:load_demo",
    official_links=(
        OfficialLink(
            "Discussion moderation",
            "/officials/pb/comments",
            "Reported comments first: hide them with a reason, restore them, or keep them.",
        ),
    ),  # after voting's: adds the citizen's proposals to its open cycle
    # What voting asks of proposals (the contract in voting/projects.py).
    provides={
        "pb.pot_projects": "proposals.services.ballot:pot_projects",
        "pb.cycle_projects": "proposals.services.ballot:cycle_projects",
        "pb.import_projects": "proposals.services.ballot:import_projects",
        # What voting's lifecycle calls when a support phase ends (in the step's transaction).
        "pb.shortlist_supported": "proposals.services.support:shortlist_supported",
        # Discussion threads for any page (e.g. funded projects): docs/pb.md "Discussion".
        "pb.comment_thread": "proposals.services.comments:thread",
        "pb.post_comment": "proposals.services.comments:post_comment",


        "follow.proposal": "proposals.services.announcements:describe_proposal",
    },
)
