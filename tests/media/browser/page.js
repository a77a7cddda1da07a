// Test page for tests/media/test_browser_media.py: drives web_client/shared/media.js.
import { LiveSocket } from "/static/shared/live.js";
import { publishCamera, viewProgram, viewSite } from "/static/shared/media.js";

const live = new LiveSocket({}).connect();
const handles = {};

window.mediaTest = {
  async publish(sessionId) {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
    handles.publish = await publishCamera(live, sessionId, stream);
    return true;
  },
  async view(sessionId) {
    handles.view = await viewProgram(live, sessionId, document.getElementById("program"));
    return true;
  },
  async tile(sessionId, siteId) {
    handles.tile = await viewSite(live, sessionId, siteId, document.getElementById("tile"));
    return true;
  },
  async stats(name) {
    return handles[name] ? await handles[name].stats() : null;
  },
  close(name) {
    if (handles[name]) handles[name].close();
    delete handles[name];
    return true;
  },
  socketState() {
    return live.state;
  },
};
