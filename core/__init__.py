"""Mend's platform-neutral core: types, content, flows, services and storage.

Nothing in this package imports a chat platform SDK or the scheduler library;
``tests/test_architecture.py`` enforces that.
"""
