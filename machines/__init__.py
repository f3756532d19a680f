"""Bundled machine profiles (YAML)."""
