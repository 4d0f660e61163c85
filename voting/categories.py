"""PB project categories: the stored values, in display order, with their labels (used by code and templates)."""

from __future__ import annotations

from portal.i18n import gettext

# Stored in pb_proposal.category and in cycles' allowed categories; never rename a value.
CATEGORY_LABELS = {
    "transportation": "Transportation",
    "welfare": "Welfare",
    "climate": "Climate",
    "disaster response": "Disaster response",
    "housing": "Housing",
    "urban planning": "Urban planning",
    "other": "Other",
}
CATEGORIES = tuple(CATEGORY_LABELS)


def category_label(category: str) -> str:
    """The category in the reader's language ("Other" for a value we do not know)."""
    return gettext(CATEGORY_LABELS.get(category, "Other"))


# Added to the Jinja environment by the app factory (see voting.manifest).
TEMPLATE_GLOBALS = {"pb_category_label": category_label, "PB_CATEGORIES": CATEGORIES}
