"""The outside world: the aiohttp server, the platform adapters and the command line."""
