"""Time for the scheduler: when each person's daily items are due, in UTC."""
