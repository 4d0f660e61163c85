"""Piccolo app for participatory budgeting cycles, pots, ballots and results."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from voting.tables import (
    AssemblyCount,
    Ballot,
    BallotMix,
    CommitteeMember,
    Cycle,
    Delivery,
    DeliveryMilestone,
    DeliveryPayment,
    DeliveryPhoto,
    KioskBallot,
    PaperBatch,
    PaperKeying,
    Participation,
    ParticipationStats,
    Pot,
    Quarantine,
    ResultApproval,
    ResultRun,
    ScreenCast,
    ScreeningAck,
    ScreenSignal,
    Station,
    StationCount,
    StationTally,
    StationWorker,
    VoterRecord,
)

APP_CONFIG = AppConfig(
    app_name="voting",
    migrations_folder_path=str(Path(__file__).resolve().parent.parent / "migrations" / "voting"),
    table_classes=[
        Cycle, Pot, Ballot, VoterRecord, BallotMix, ResultRun, ResultApproval, Participation, Station, StationWorker,
        PaperBatch, PaperKeying, StationTally,
        KioskBallot, StationCount,
        CommitteeMember, AssemblyCount,
        ParticipationStats,
        ScreenSignal, ScreenCast, Quarantine, ScreeningAck,
        Delivery, DeliveryMilestone, DeliveryPhoto, DeliveryPayment,
    ],
    migration_dependencies=["portal.piccolo_app"],
    commands=[],
)
