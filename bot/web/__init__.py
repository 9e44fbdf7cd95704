"""The gateway's aiohttp application: factory, middleware, health and metrics."""
