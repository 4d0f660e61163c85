"""The AI 50 Challenge's /api/v1 controllers over the same services as its pages."""
