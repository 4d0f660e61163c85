"""AI 50 Challenge ``/api/v1`` controllers over the same services as the pages."""
