"""Cascade signalling over real /ws/agent sockets (msgpack), without media: a child's offer goes
to its relay and only that relay's answer comes back; other sites cannot answer for it; bad
relay messages get a clear error and the socket keeps serving; a child reporting its relay
silent moves to the server and the relay is told to let it go."""

from __future__ import annotations

from server.config import Config
from server.web.keys import MEDIA
from tests.conftest import ClientFactory, World
from tests.media.test_broadcast_e2e import live_session
from tests.web.live_helpers import AgentPeer, hello

OFFER = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"  # routed, never parsed here


async def test_a_childs_offer_goes_to_its_relay_and_only_that_relay_answers(
    client_as: ClientFactory, world: World, config: Config
) -> None:
    op, _url, sid, sites = await live_session(
        client_as, world, config, ["D", "T", "X"], parents={"T": "D"}
    )
    district, town, other = sites["D"][0], sites["T"][0], sites["X"][0]

    async def connect(name: str, *capabilities: str) -> AgentPeer:
        peer = AgentPeer(
            await op.ws_connect("/ws/agent", headers={"Authorization": f"Bearer {sites[name][1]}"})
        )
        await peer.send(hello(sites[name][0], capabilities=["heartbeat", *capabilities]))
        await peer.expect("welcome")
        return peer

    relay = await connect("D", "relay.2")
    child = await connect("T")
    stranger = await connect("X")
    r = await op.post(
        f"/api/v1/sessions/{sid}/broadcast/start", json={"source": "main", "record": False}
    )
    assert r.status == 200, await r.text()
    assert (await child.expect("broadcast"))["upstream"] == district
    assert (await relay.expect("broadcast"))["upstream"] is None
    b = op.server.app[MEDIA].live[sid]

    await child.send({"type": "media_offer", "session_id": sid, "role": "subscribe", "sdp": OFFER})
    offer = await relay.expect("relay_offer")
    assert offer == {"type": "relay_offer", "session_id": sid, "site_id": town, "sdp": OFFER}
    assert not b.relay.has_subscriber(f"site:{town}")  # the server does not serve it itself

    # another site cannot answer for the child: nothing reaches it
    await stranger.send(
        {"type": "relay_answer", "session_id": sid, "site_id": town, "sdp": "x" * 20}
    )
    # the relay's refusal and answer do
    await relay.send(
        {
            "type": "relay_error",
            "session_id": sid,
            "site_id": town,
            "code": "relay.full",
            "message": "full",
        }
    )
    error = await child.receive()  # the next message: nothing came from the stranger
    assert error["type"] == "media_error", error
    assert error["code"] == "media.relay_failed" and "relay.full" in error["message"]
    await relay.send({"type": "relay_answer", "session_id": sid, "site_id": town, "sdp": "y" * 20})
    answer = await child.expect("media_answer")
    assert answer == {
        "type": "media_answer",
        "session_id": sid,
        "role": "subscribe",
        "sdp": "y" * 20,
    }

    # a malformed relay message: a clear error, and the socket keeps serving
    await relay.send({"type": "relay_answer", "session_id": sid, "site_id": "T", "sdp": "z" * 20})
    bad = await relay.expect("error")
    assert bad["code"] == "message.invalid" and "site_id" in bad["message"]

    # a child naming a site that is not its relay changes nothing; naming its relay moves it
    await child.send({"type": "upstream_lost", "session_id": sid, "site_id": other})
    await child.send({"type": "upstream_lost", "session_id": sid, "site_id": district})
    moved = await child.expect("broadcast")
    assert moved["upstream"] is None and b.upstream[town] is None
    assert await relay.expect("relay_close") == {
        "type": "relay_close",
        "session_id": sid,
        "site_id": town,
    }
    assert district in b.suspects
    # the relay's agent reconnecting clears the suspicion: the child moves back
    await relay.ws.close()
    relay = await connect("D", "relay.2")
    back = await child.expect("broadcast")
    assert back["upstream"] == district and district not in b.suspects

    for peer in (relay, child, stranger):
        await peer.ws.close()
