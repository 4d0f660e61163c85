"""What every page about a PB cycle shows at its top, for voting's and proposals' pages alike."""

from __future__ import annotations

from typing import Any

from voting.services import cycles


def cycle_context(cycle: dict[str, Any], pot: dict[str, Any] | None = None) -> dict[str, Any]:
    """The template context of a cycle's page: the cycle and its phase, and the pot and its title
    when the page is about one pot."""
    context = {"cycle": cycle, "phase": cycles.phase_of(cycle)}
    if pot is not None:
        context |= {"pot": pot, "pot_title": cycles.pot_name(pot)}
    return context
