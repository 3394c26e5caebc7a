"""The Discord adapter (discord.py 2): slash commands, persistent buttons, DMs."""
