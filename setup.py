"""Only the optional C part of the media fast path; everything else is in pyproject.toml.

``server.media._rtpsend`` protects and sends a frame's RTP packets in C (issue 18). It is
optional: without a C compiler or Python's headers the build goes on without it and
``server.media.fastpath`` sends in Python (slower, same packets).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "server.media._rtpsend",
            sources=["server/media/_rtpsend.c"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
