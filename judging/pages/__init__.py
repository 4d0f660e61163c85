"""AI 50 Challenge HTML controllers by audience: ``judges`` and ``officials`` (with ``officials_rounds``)."""
