"""HTTP and WebSocket edge: decodes, authorises, calls the core and the store, answers."""
