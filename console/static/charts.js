/* Minimal SVG bar charts for the dashboard (no dependencies, served locally).
   Charts.columns(box, items, opts) — vertical bars, e.g. calls per hour;
   Charts.bars(box, items, opts)    — horizontal bars, for long Chinese labels.
   items: [{label, values: [n, ...]}]; opts.series: [{name, cls}] names each value. */
"use strict";

const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, text) {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function frame(box, width, height, label) {
    const root = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": label });
    box.replaceChildren(root);
    return root;
  }

  function empty(box, label) {
    const root = frame(box, 400, 60, label + "：暂无数据");
    root.append(svg("text", { x: 200, y: 35, "text-anchor": "middle", class: "none" }, "暂无数据"));
  }

  function summary(items, series) {
    return items.map((it) => it.label + " " + it.values.map((v, i) => (series[i] ? series[i].name : "") + v).join("、")).join("；");
  }

  function columns(box, items, opts) {
    const series = opts.series || [{ name: "", cls: "bar" }];
    if (!items.length || items.every((it) => it.values.every((v) => !v))) return empty(box, opts.label);
    const W = 420, H = 200, left = 30, bottom = 34, top = 10;
    const max = Math.max(1, ...items.flatMap((it) => it.values));
    const root = frame(box, W, H, opts.label + "：" + summary(items, series));
    const slot = (W - left - 4) / items.length, bw = Math.max(2, slot * 0.7 / series.length);
    const y = (v) => H - bottom - (H - bottom - top) * v / max;
    root.append(svg("line", { x1: left, x2: W, y1: H - bottom, y2: H - bottom, class: "axis" }));
    for (const t of [0, Math.ceil(max / 2), max]) {
      root.append(svg("text", { x: left - 4, y: y(t) + 4, "text-anchor": "end" }, String(t)));
    }
    const every = Math.max(1, Math.ceil(items.length / (opts.maxLabels || 12)));
    items.forEach((it, i) => {
      it.values.forEach((v, s) => {
        const x = left + i * slot + (slot - bw * series.length) / 2 + s * bw;
        const r = svg("rect", { x, y: y(v), width: bw, height: Math.max(0, H - bottom - y(v)), class: series[s].cls });
        r.append(svg("title", {}, it.label + " " + series[s].name + " " + v));
        root.append(r);
      });
      if (i % every === 0) {
        root.append(svg("text", { x: left + i * slot + slot / 2, y: H - bottom + 14, "text-anchor": "middle" }, it.label));
      }
    });
    legend(root, series, W, H);
  }

  function bars(box, items, opts) {
    const series = opts.series || [{ name: "", cls: "bar" }];
    if (!items.length) return empty(box, opts.label);
    const rowH = 12 * series.length + 10, left = 96, W = 420, top = 4;
    const H = top + items.length * rowH + (series.length > 1 ? 22 : 6);
    const max = Math.max(1, ...items.flatMap((it) => it.values));
    const root = frame(box, W, H, opts.label + "：" + summary(items, series));
    const scale = (v) => (W - left - 60) * v / max;
    items.forEach((it, i) => {
      const y0 = top + i * rowH;
      root.append(svg("text", { x: left - 6, y: y0 + rowH / 2 + 3, "text-anchor": "end" }, it.label));
      it.values.forEach((v, s) => {
        const r = svg("rect", { x: left, y: y0 + 4 + s * 12, width: Math.max(1, scale(v)), height: 10, class: series[s].cls });
        r.append(svg("title", {}, it.label + " " + series[s].name + " " + v));
        root.append(r);
        root.append(svg("text", { x: left + scale(v) + 4, y: y0 + 13 + s * 12 }, String(v) + (it.notes && it.notes[s] ? " " + it.notes[s] : "")));
      });
    });
    legend(root, series, W, H);
  }

  function legend(root, series, W, H) {
    if (series.length < 2) return;
    series.forEach((s, i) => {
      const x = W - 170 + i * 85;
      root.append(svg("rect", { x, y: H - 12, width: 10, height: 10, class: s.cls }));
      root.append(svg("text", { x: x + 14, y: H - 3 }, s.name));
    });
  }

  return { columns, bars };
})();
