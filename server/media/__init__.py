"""Media: the forwarding relay (encoded frames, no re-encoding) built on aiortc.

``server.media.forward`` holds every use of aiortc/aioice private internals; ``relay`` is the
relay; ``peers`` creates peer connections from settings.
"""
