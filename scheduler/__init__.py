"""The clock: due nudges, check-ins, break timers and retention (built in a later issue).

It imports ``core`` and is wired up in ``bots.__main__``; ``core`` never imports it.
"""
