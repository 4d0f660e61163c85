"""Participatory budgeting's cycles, pots, ballots and results, as the portal loads them."""

from portal.manifest import Manifest, OfficialLink

MANIFEST = Manifest(
    name="voting",
    piccolo_app="voting.piccolo_app",
    routes="voting.routes:ROUTE_HANDLERS",
    official_links=(
        OfficialLink(
            "Participatory budgeting",
            "/officials/pb",
            "Cycles and pots, ballot rules, proposal review, closing, results, approvals and exports.",
        ),
        OfficialLink(
            "Voting stations: paper ballots",
            "/officials/pb/stations",
            "Each station's paper ballot batches, mismatches to resolve and tally sheets.",
        ),
    ),
    demo="voting.demo:load_demo",
    cli="voting.cli:register",
    background_tasks=(
        "voting.services.lifecycle:lifecycle_loop",  # PB cycles step along their schedule (never on a read)
        "voting.mixer:ballot_mixer_loop",
        "voting.services.signals:signal_flush_loop",  # fraud screening signals, off the request path
        "voting.services.receipt_mail:receipt_mail_loop",  # receipt mails into the outbox, off the request path
        "voting.services.reminders:closing_reminder_loop",  # followers hear once that voting closes soon
    ),
    template_globals="voting.categories:TEMPLATE_GLOBALS",
    provides={
        "pb.cycles_open_for_envelopes": "voting.services.cycles:cycles_open_for_envelopes",
        "pb.cycle_fiscal_year": "voting.services.cycles:cycle_fiscal_year",
        "pb.set_district_pot_amounts": "voting.services.cycles:set_district_pot_amounts",
        "pb.note_signal": "voting.services.signals:note_signal",
        "mail.ballot-receipt": "voting.services.receipt_mail:compose_receipt_mails",
        "pb.apply_executions": "voting.services.delivery_pull:apply_executions",


        "follow.cycle": "voting.services.follow_targets:describe_cycle",
        "follow.pot": "voting.services.follow_targets:describe_pot",
    },
)
