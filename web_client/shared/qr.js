// @ts-check
// A QR code as an SVG element built with the DOM (no innerHTML), crisp on screen and on paper.
import qrcode from "/static/vendor/qrcode-generator/qrcode.js";

const SVG = "http://www.w3.org/2000/svg";

/** An <svg> of `text` (error correction M, 4-module quiet zone); `label` is its accessible name. */
export function qrSvg(text, label) {
  const qr = qrcode(0, "M");
  qr.addData(text, "Byte");
  qr.make();
  const count = qr.getModuleCount();
  const quiet = 4;
  const size = count + quiet * 2;
  const d = [];
  for (let r = 0; r < count; r += 1) {
    for (let c = 0; c < count; c += 1) if (qr.isDark(r, c)) d.push(`M${c + quiet} ${r + quiet}h1v1h-1z`);
  }
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${size} ${size}`);
  svg.setAttribute("shape-rendering", "crispEdges");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  svg.setAttribute("class", "qr");
  const bg = document.createElementNS(SVG, "rect");
  bg.setAttribute("width", String(size));
  bg.setAttribute("height", String(size));
  bg.setAttribute("fill", "#ffffff");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", d.join(""));
  path.setAttribute("fill", "#000000");
  svg.append(bg, path);
  return svg;
}
