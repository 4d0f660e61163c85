"""The AI 50 Challenge's HTML pages, by audience: startups (and judges and officials)."""
