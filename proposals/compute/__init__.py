"""Pure computation for proposals: no database, no clock."""
