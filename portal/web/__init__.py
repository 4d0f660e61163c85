"""Web plumbing shared by every domain: pages, forms, errors, the OpenAPI error map, the draft-refill middleware."""
