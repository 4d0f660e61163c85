"""The AI 50 Challenge's words and their labels: categories, sectors, organization sizes, gates.

One place for code and templates alike: the stored values (never rename one; they are in
``challenge_entry``, ``challenge_edition`` and judges' profiles) with their English labels, which are
the catalog ids the Korean translation is looked up by.
"""

from __future__ import annotations

from portal.i18n import gettext

CATEGORY_LABELS = {
    "transportation": "Transportation",
    "welfare": "Welfare",
    "climate": "Climate",
    "disaster-response": "Disaster response",
    "housing": "Housing",
    "urban-planning": "Urban planning",
    "other": "Other",
}
CATEGORIES = tuple(CATEGORY_LABELS)

SECTOR_LABELS = {"public": "Public", "public-interest": "Public interest", "private": "Private"}
SECTORS = tuple(SECTOR_LABELS)

ORGANIZATION_SIZE_LABELS = {"startup": "Startup", "SME": "SME"}
ORGANIZATION_SIZES = tuple(ORGANIZATION_SIZE_LABELS)

# The screening gates an edition can use; code puts these labels into sentences too.
GATE_LABELS = {
    "eligible-organization": "Eligible organization",
    "complete-entry": "Complete entry",
    "ai-solution": "AI solution",
    "personal-data-protection": "Personal data protection",
}

# Every other key the challenge's pages show: statuses, rounds, conflicts, roles, selections.
STATE_LABELS = {
    "draft": "Draft",
    "submitted": "Submitted",
    "withdrawn": "Withdrawn",
    "screened-in": "Screened in",
    "screened-out": "Screened out",
    "screening": "Screening",
    "evaluation": "Evaluation",
    "final": "Final",
    "employment": "Employment",
    "investment": "Investment",
    "family": "Family",
    "advisory": "Advisory",
    "same-organization": "Same organization",
    "same-email-domain": "Same email domain",
    "holding": "Declared holding",
    "declared": "Declared",
    "detected": "Detected",
    "owner": "Owner",
    "member": "Member",
    "not-open": "Not open yet",
    "open": "Open",
    "closed": "Closed",
    "proposed": "Proposed",
    "approved": "Approved",
    "superseded": "Superseded",
    "stale": "Stale: rules or reviews changed",
    "additive": "Additive model",
    "zscore": "Z-score",
    "mean": "Raw mean",
    "auto": "Automatic",
    "manual": "Added by hand",
    # stages (judging/services/stages.py)
    "setup": "Setup",
    "reviewing": "Reviewing",
    "decided": "Decided",
    "count": "A number of entries",
    "cut": "A score cut",
    "quotas": "A number under category quotas",
    "eager": "Eager",
    "willing": "Willing",
    "not-qualified": "Not qualified",
    "none": "No bid",
    "revoked": "Revoked",
}

# Citizens in a stage: the public vote's anomaly checks and the panel's age band without a birth date.
CITIZEN_LABELS = {
    "address-cluster": "Many votes from one network",
    "device-cluster": "Many votes from one device type",
    "burst": "A sudden burst of votes",
    "unknown": "Unknown",
}

LABELS = (
    CATEGORY_LABELS
    | SECTOR_LABELS
    | ORGANIZATION_SIZE_LABELS
    | GATE_LABELS
    | STATE_LABELS
    | CITIZEN_LABELS
)


def challenge_label(key: str) -> str:
    """Any of the challenge's keys in the reader's language (the key itself when it has no label)."""
    return gettext(LABELS[key]) if key in LABELS else key


# Added to the Jinja environment by the app factory (see judging.manifest).
TEMPLATE_GLOBALS = {"challenge_label": challenge_label}
