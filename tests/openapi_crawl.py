"""Record the answers of every GET operation on a demo database (as the admin), for
tests/openapi_generate.py: it covers reads the API tests never make and gives realistic
examples (the demo's Chinese names and sessions).

    python -m tests.openapi_crawl /tmp/answers.jsonl
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from server.config import Config
from server.store import db as store_db
from server.store.demo_loader import DEMO_PASSWORDS, TEST_CREDENTIALS_ENV, load_demo
from server.web.app import create_app
from server.web.routes import build_registry


async def crawl(out: Path) -> int:
    os.environ[TEST_CREDENTIALS_ENV] = "1"  # the published demo passwords, for this run only
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(data_dir=tmp, secret_key="crawl-secret", media_record=False)
        await store_db.migrate(config.effective_database_url)
        engine = store_db.create_engine(config.effective_database_url)
        await load_demo(store_db.session_factory(engine))
        await engine.dispose()
        client = TestClient(TestServer(create_app(config)))
        await client.start_server()
        recorded = 0
        try:
            login = {"username": "admin", "password": DEMO_PASSWORDS["admin"]}
            signed = await client.post("/api/v1/auth/login", json=login)
            assert signed.status == 200, await signed.text()
            ids: dict[str, list[int]] = {}
            gets = [e.path for e in build_registry().endpoints if e.method == "GET"]
            for path in sorted(gets, key=lambda p: p.count("{")):
                candidates = [path]
                if "{id}" in path:
                    collection = re.sub(r"/\{id\}.*", "", path)
                    candidates = [path.replace("{id}", str(i)) for i in ids.get(collection, [])[:3]]
                for url in candidates:
                    response = await client.get(url)
                    if response.status != 200 or response.content_type != "application/json":
                        continue
                    body: Any = await response.json()
                    if isinstance(body, dict) and isinstance(body.get("items"), list):
                        found = [
                            i["id"] for i in body["items"] if isinstance(i, dict) and "id" in i
                        ]
                        ids.setdefault(path, found)
                    with out.open("a", encoding="utf-8") as sink:
                        sink.write(json.dumps(["GET", path, 200, body], default=str) + "\n")
                    recorded += 1
        finally:
            await client.close()
    return recorded


if __name__ == "__main__":
    print(asyncio.run(crawl(Path(sys.argv[1]))), "answers recorded")
