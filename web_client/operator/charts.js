// @ts-check
// Charts of the reports: attendance-rate bars drawn with the vendored uPlot (canvas), and a
// presence timeline per site drawn as SVG. Both come with a text alternative (a table or
// readable lines) next to them, since a canvas says nothing to a screen reader.
import uPlot from "/static/vendor/uplot/uPlot.esm.js";
import { h } from "/static/shared/dom.js";
import { t, getLang } from "/static/shared/i18n.js";
import { timeZone } from "/static/shared/time.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function shortLabel(text, max = 8) {
  const s = String(text);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/**
 * Attendance rate (0..100 %) per category as vertical bars (uPlot).
 * rows: [{label, present, expected}]. Returns {element, destroy()}.
 */
/**
 * @param {{label: string, present: number, expected: number}[]} rows
 * @param {{title?: string, width?: number}} [options]
 */
export function rateBars(rows, { title, width } = {}) {
  const box = h("figure", { class: "chart rate-chart", role: "img", "aria-label": title });
  const w = Math.max(320, Math.min(width || 900, 60 + rows.length * 70));
  const xs = rows.map((_, i) => i);
  const ys = rows.map((r) => (r.expected ? (100 * r.present) / r.expected : 0));
  const bars = uPlot.paths.bars; // in every build of uPlot but its types say it may be missing
  /** @type {uPlot.Options} */
  const opts = {
    title,
    width: w,
    height: 300,
    legend: { show: false },
    cursor: { show: false },
    scales: { x: { time: false, range: [-0.6, Math.max(0.6, rows.length - 0.4)] }, y: { range: [0, 100] } },
    axes: [
      {
        space: 10,
        incrs: [1],
        // many bars: labels slanted, long enough for a room's whole name (北仑区应急管理局分课堂)
        values: (_u, splits) => splits.map((i) => (rows[i] ? shortLabel(rows[i].label, rows.length > 8 ? 12 : 8) : "")),
        rotate: rows.length > 8 ? -40 : 0,
        size: rows.length > 8 ? 120 : 40,
        font: "12px system-ui, sans-serif",
      },
      { values: (_u, splits) => splits.map((v) => `${v}%`), font: "12px system-ui, sans-serif" },
    ],
    series: [
      {},
      {
        label: t("report.rate"),
        fill: "#0b57d0",
        stroke: "#0b57d0",
        width: 0,
        paths: bars && bars({ size: [0.6, 60] }),
        points: { show: false },
      },
    ],
  };
  let plot = null;
  try {
    plot = new uPlot(opts, [xs, ys], box);
  } catch (err) {
    box.appendChild(h("p", { class: "error" }, String(err)));
  }
  box.appendChild(h("figcaption", { class: "note" }, title));
  return { element: box, destroy: () => plot && plot.destroy() };
}

function hhmm(ms) {
  return new Date(ms).toLocaleTimeString(getLang() === "zh" ? "zh-CN" : "en-GB", {
    timeZone: timeZone(),
    hour: "2-digit",
    minute: "2-digit",
  });
}

/**
 * Presence timeline: one row per site, coloured segments online / degraded / offline over
 * [start, end]. sites: [{site, intervals: [{state, from, to}], tracked}].
 */
/**
 * @param {any[]} sites
 * @param {string} start
 * @param {string} end
 * @param {{title?: string}} [options]
 */
export function presenceTimeline(sites, start, end, { title } = {}) {
  const t0 = new Date(start).getTime();
  const t1 = Math.max(t0 + 60_000, new Date(end).getTime());
  const labelW = 170;
  const plotW = 720;
  const rowH = 22;
  const top = 24;
  const height = top + sites.length * rowH + 28;
  const x = (ms) => labelW + ((Math.min(Math.max(ms, t0), t1) - t0) / (t1 - t0)) * plotW;
  const root = svg("svg", {
    viewBox: `0 0 ${labelW + plotW + 10} ${height}`,
    width: labelW + plotW + 10,
    height,
    role: "img",
    "aria-label": title || t("report.timeline"),
    class: "timeline",
  });
  root.appendChild(svg("title", {}, title || t("report.timeline")));
  sites.forEach((s, i) => {
    const y = top + i * rowH;
    root.appendChild(svg("text", { x: labelW - 6, y: y + rowH * 0.7, "text-anchor": "end" }, shortLabel(s.site, 12)));
    root.appendChild(svg("rect", { x: labelW, y: y + 3, width: plotW, height: rowH - 6, class: "seg-none", fill: "#eaeef2" }));
    for (const iv of s.intervals || []) {
      const a = x(new Date(iv.from).getTime());
      const b = x(new Date(iv.to).getTime());
      const rect = svg("rect", {
        x: a,
        y: y + 3,
        width: Math.max(1, b - a),
        height: rowH - 6,
        class: `seg seg-${iv.state}`,
        "data-state": iv.state,
      });
      rect.appendChild(svg("title", {}, `${s.site} · ${t("presence." + iv.state)} ${hhmm(new Date(iv.from).getTime())}–${hhmm(new Date(iv.to).getTime())}`));
      root.appendChild(rect);
    }
  });
  const axisY = top + sites.length * rowH + 4;
  root.appendChild(svg("line", { x1: labelW, x2: labelW + plotW, y1: axisY, y2: axisY, class: "axis", stroke: "#59636e" }));
  const ticks = 6;
  for (let k = 0; k <= ticks; k += 1) {
    const ms = t0 + ((t1 - t0) * k) / ticks;
    const xx = labelW + (plotW * k) / ticks;
    root.appendChild(svg("line", { x1: xx, x2: xx, y1: axisY, y2: axisY + 4, stroke: "#59636e" }));
    root.appendChild(svg("text", { x: xx, y: axisY + 17, "text-anchor": k === 0 ? "start" : k === ticks ? "end" : "middle" }, hhmm(ms)));
  }
  return h(
    "figure",
    { class: "chart timeline-chart" },
    root,
    h(
      "figcaption",
      { class: "legend" },
      ["online", "degraded", "offline"].map((s) => h("span", { class: `l-${s}` }, t("presence." + s))),
      h("span", { class: "l-none" }, t("report.noData")),
    ),
  );
}
