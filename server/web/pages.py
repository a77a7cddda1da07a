"""The static pages of web_client/ (operator console, trainee phone page, site screen), the API
docs page and the favicon."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from server.web.completion import http as completion_http

WEB_CLIENT = Path(__file__).resolve().parents[2] / "web_client"


PAGES = ("operator", "trainee", "screen")


def _redirect_to(location: str) -> Any:
    async def redirect(_request: web.Request) -> web.Response:
        raise web.HTTPFound(location)

    return redirect


def add_pages(app: web.Application) -> None:
    """Static pages of web_client/ and the API docs page."""

    async def docs_page(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(WEB_CLIENT / "docs.html")

    async def index(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(WEB_CLIENT / "index.html")

    def page(folder: str) -> Any:
        async def serve(_request: web.Request) -> web.FileResponse:
            return web.FileResponse(WEB_CLIENT / folder / "index.html")

        return serve

    async def favicon(_request: web.Request) -> web.FileResponse:
        response = web.FileResponse(WEB_CLIENT / "shared" / "favicon.svg")
        response.content_type = "image/svg+xml"  # browsers take an SVG at /favicon.ico
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response

    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/api/v1/docs", docs_page)
    app.router.add_get("/", index)
    for folder in PAGES:  # the three faces: operator console, trainee phone page, site screen
        app.router.add_get(f"/{folder}/", page(folder))
        app.router.add_get(f"/{folder}", _redirect_to(f"/{folder}/"))
    app.router.add_static("/static/", WEB_CLIENT, follow_symlinks=False)
    completion_http.setup(app)  # the public certificate check page /verify/<code>
