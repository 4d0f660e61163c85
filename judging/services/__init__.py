"""AI 50 Challenge services, one module per aggregate; callers import the module they need.

``editions`` (editions, rules and rounds), ``screening``, ``conflicts`` (judges' profiles and conflicts
of interest), ``assignment``, ``reviews`` (the judges' view and scoring), ``selection`` (score sheet,
calibration and the ranked selection), ``approvals`` and ``awards`` (the award batch). They are the
only place that writes the judging tables; the pure computation they feed lives in ``judging/compute/``.
"""
