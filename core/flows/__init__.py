"""The flow engine: pure step transitions driven by content."""
