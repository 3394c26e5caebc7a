"""Thin adapters (console, and later Telegram and Discord) and the composition root."""
