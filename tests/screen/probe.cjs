// Lays pages out in one headless Chromium (puppeteer-core, Debian's browser) and reports what a
// reader of a small screen would meet: blocks wider than the viewport, square roots whose
// radical sign is not drawn, display formulas set smaller than their text, and the spacing
// around signs, "/", "…", "∼" and "∞" in MathML. Optionally saves a full-page PNG of each page.
//
//   node probe.cjs jobs.json > results.json
//
// jobs.json: {"chromium": path, "jobs": [{"url", "width", "height", "dark", "bodyClass",
//              "htmlClass", "mathjax", "openDetails", "screenshot"}]}
// One browser serves every job (starting Chromium costs more than laying out a page).
"use strict";
const fs = require("fs");
const puppeteer = require("puppeteer-core");

// Runs inside the page. Blocks are what the issue names: tables, formulas, code.
function measure() {
  const vw = document.documentElement.clientWidth;
  const blocks = [
    ["table", "table"],
    ["math", "math[display=block], .math-display"],
    ["mathjax", "mjx-container[display=true]"],
    ["code", "pre, .highlight"],
    ["figure", "figure, img"],
  ];
  const describe = (el) => {
    const q = el.closest("section.question, [id]");
    return (q ? "#" + q.id + " " : "") + el.tagName.toLowerCase() +
      (el.getAttribute("class") ? "." + el.getAttribute("class").split(/\s+/).join(".") : "") +
      " “" + (el.getAttribute("alttext") || el.textContent || "").trim().slice(0, 60) + "”";
  };
  const wide = [];
  let count = 0;
  for (const [kind, selector] of blocks) {
    for (const el of document.querySelectorAll(selector)) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue; // not rendered (e.g. a closed <details>)
      if (el.closest("mjx-assistive-mml")) continue; // MathJax's hidden copy for screen readers
      count++;
      // The element's own box, and what it holds: a box that fits but scrolls or clips its
      // content still hides part of it on a paginated reader.
      const boxOver = Math.max(r.right - vw, -r.left);
      const over = Math.max(boxOver, el.scrollWidth - el.clientWidth > 1 ? el.scrollWidth - el.clientWidth : 0);
      if (over > 1) wide.push({kind, what: describe(el), width: Math.round(r.width), over: Math.round(over)});
    }
  }
  // MathML roots: the radical sign is a glyph Chromium draws only with a math font. Probe the
  // box: an msqrt is drawn when it is wider than its content (the sign takes room on the left)
  // and taller (the overbar rises above it).
  const roots = [];
  for (const el of document.querySelectorAll("msqrt, mroot")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    let inner = null;
    for (const child of el.children) {
      const c = child.getBoundingClientRect();
      inner = inner ? {left: Math.min(inner.left, c.left), right: Math.max(inner.right, c.right),
                       top: Math.min(inner.top, c.top)} : {left: c.left, right: c.right, top: c.top};
      if (el.tagName.toLowerCase() === "mroot") break; // the index sits over the sign
    }
    const math = el.closest("math");
    roots.push({alttext: math ? math.getAttribute("alttext") : "", width: r.width,
                room: inner ? inner.left - r.left : 0, rise: inner ? inner.top - r.top : 0,
                font: getComputedStyle(el).fontFamily});
  }
  // Spacing around the operators whose TeX spacing the MathML sets explicitly (studybook.mathtex):
  // the gap between the glyph of the operator and its neighbours' glyphs, in em of the formula.
  const spacing = [];
  const glyph = (el) => {
    const range = document.createRange();
    range.selectNodeContents(el);
    return range.getBoundingClientRect();
  };
  const token = (el) => ["mi", "mn", "mo", "mtext"].includes(el.tagName.toLowerCase()) ||
    (["msub", "msup", "msubsup"].includes(el.tagName.toLowerCase()) && token(el.firstElementChild));
  // Operator names ("log", "cos") are identifiers: the MathML must space them itself.
  for (const el of document.querySelectorAll("math mi")) {
    const text = el.textContent.trim();
    if (!["log", "exp", "cos", "sin"].includes(text) || el.parentElement.tagName.toLowerCase().startsWith("msu")) continue;
    const next = el.nextElementSibling && el.nextElementSibling.tagName.toLowerCase() === "mspace"
      ? el.nextElementSibling.nextElementSibling : el.nextElementSibling;
    if (!next || !["mi", "mn"].includes(next.tagName.toLowerCase()) || next.textContent.trim().length !== 1) continue;
    const em = parseFloat(getComputedStyle(el).fontSize);
    const math = el.closest("math");
    spacing.push({text, form: "", alttext: math ? math.getAttribute("alttext") : "", prev: null,
                  next: next.textContent.trim(), before: null, after: (glyph(next).left - glyph(el).right) / em});
  }
  for (const el of document.querySelectorAll("math mo")) {
    const text = el.textContent.trim();
    if (!["\u2212", "/", "\u2026", "\u223c", "\u221e", "\u27f9", "\u27fa"].includes(text)) continue;
    const r = glyph(el);
    if (r.width === 0) continue;
    const em = parseFloat(getComputedStyle(el).fontSize);
    // Neighbours across explicit spaces (\\quad ⟹ \\quad): the gap then includes them.
    let prev = el.previousElementSibling, next = el.nextElementSibling;
    while (prev && prev.tagName.toLowerCase() === "mspace") prev = prev.previousElementSibling;
    while (next && next.tagName.toLowerCase() === "mspace") next = next.nextElementSibling;
    const math = el.closest("math");
    spacing.push({text, form: el.getAttribute("form") || "", alttext: math ? math.getAttribute("alttext") : "",
                  prev: prev ? prev.textContent.trim() : null, next: next ? next.textContent.trim() : null,
                  // Measured only against a token's glyph: a radical or a fraction draws more than its text.
                  before: prev && token(prev) ? (r.left - glyph(prev).right) / em : null,
                  after: next && token(next) ? (glyph(next).left - r.right) / em : null});
  }
  // `cases` (an mtable the MathML gives a quad between its columns): per table, the left edges of
  // each column's contents (flush left: one value) and the gap between the columns, in em.
  const cases = [];
  for (const table of document.querySelectorAll("mtable[columnspacing]")) {
    const em = parseFloat(getComputedStyle(table).fontSize);
    const cols = [[], []];
    for (const row of table.children) {
      [...row.children].slice(0, 2).forEach((cell, i) => cols[i].push(glyph(cell)));
    }
    if (!cols[1].length || cols[0][0].width === 0) continue;
    const math = table.closest("math");
    cases.push({alttext: math ? math.getAttribute("alttext") : "",
                lefts: cols.map((c) => Math.max(...c.map((r) => r.left)) - Math.min(...c.map((r) => r.left))).map((d) => d / em),
                gap: (Math.min(...cols[1].map((r) => r.left)) - Math.max(...cols[0].map((r) => r.right))) / em});
  }
  // Display formulas are set at the size of the text around them: none shrunk to fit.
  const shrunk = [];
  for (const el of document.querySelectorAll("math[display=block]")) {
    const host = el.closest(".math-display") || el;  // the formula's block, in the text's flow
    const size = parseFloat(getComputedStyle(el).fontSize) / parseFloat(getComputedStyle(host.parentElement).fontSize);
    if (size < 0.99) shrunk.push({alttext: el.getAttribute("alttext"), size: Math.round(size * 100) / 100});
  }
  const fontsLoaded = [...document.fonts].filter((f) => f.status === "loaded").map((f) => f.family);
  return {vw, docWidth: document.documentElement.scrollWidth, count, wide, roots, spacing, shrunk, cases, fontsLoaded,
          height: document.documentElement.scrollHeight};
}

async function main() {
  const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const browser = await puppeteer.launch({
    executablePath: spec.chromium,
    headless: true,
    args: ["--no-sandbox", "--allow-file-access-from-files", "--font-render-hinting=none",
           "--disable-gpu", "--hide-scrollbars"],
  });
  const results = [];
  try {
    const page = await browser.newPage();
    for (const job of spec.jobs) {
      await page.setViewport({width: job.width, height: job.height || 844, deviceScaleFactor: job.scale || 1});
      await page.emulateMediaFeatures([{name: "prefers-color-scheme", value: job.dark ? "dark" : "light"}]);
      await page.goto(job.url, {waitUntil: "load"});
      await page.evaluate((bodyClass, htmlClass) => {
        if (bodyClass) document.body.className += " " + bodyClass;
        if (htmlClass) document.documentElement.className += " " + htmlClass;
      }, job.bodyClass || "", job.htmlClass || "");
      if (job.mathjax) {
        await page.waitForFunction("window.__typeset === true || window.__typeset === 'error'", {timeout: 60000});
      }
      if (job.openDetails) {
        await page.evaluate(() => document.querySelectorAll("details").forEach((d) => { d.open = true; }));
      }
      await page.evaluate(() => document.fonts.ready);
      const result = await page.evaluate(measure);
      result.url = job.url;
      result.id = job.id || job.url;
      if (job.mathjax) result.typeset = await page.evaluate(() => window.__typeset);
      if (job.screenshot) {
        if (job.clip) {
          await page.evaluate((sel) => { const el = document.querySelector(sel); if (el) el.scrollIntoView(); }, job.clip);
          const box = await page.evaluate((sel) => {
            const el = document.querySelector(sel);
            if (!el) return null;
            const r = el.getBoundingClientRect();
            return {x: 0, y: r.top + window.scrollY, width: document.documentElement.clientWidth, height: Math.min(r.height, 6000)};
          }, job.clip);
          await page.screenshot({path: job.screenshot, clip: box || undefined, fullPage: !box, captureBeyondViewport: true});
        } else {
          await page.screenshot({path: job.screenshot, fullPage: true});
        }
      }
      results.push(result);
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((err) => { console.error(err); process.exit(1); });
