"""Mend's words and conversation flows, as data (YAML) loaded by ``core.content``."""

from pathlib import Path

CONTENT_DIR = Path(__file__).resolve().parent
"""The folder holding ``commands.yaml``, ``flows/`` and ``locales/``."""
