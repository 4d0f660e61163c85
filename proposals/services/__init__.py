"""PB proposals' services, one module per aggregate: browsing, intake, review, and the ballot's projects."""
