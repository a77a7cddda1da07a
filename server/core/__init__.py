"""Pure domain rules: no I/O, no event loop. Everything here is tested without asyncio."""
