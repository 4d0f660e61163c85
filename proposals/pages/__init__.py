"""PB proposal pages by audience: citizens (browse, propose) and officials (review)."""
