"""Errors an adapter raises to the composition root."""


class AdapterStartError(Exception):
    """An adapter could not start; the message is one line for the operator, no secrets."""
