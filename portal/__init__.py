"""Hangang Portal: the app factory, accounts, sessions, audit log and shared web plumbing."""

import os

# Piccolo looks for its configuration module by this name; point it at ours so
# the portal works from any working directory.
os.environ.setdefault("PICCOLO_CONF", "portal.piccolo_conf")
