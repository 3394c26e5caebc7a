"""The repair programme: phases, the daily-step plan, tracking and builders (pure logic)."""
