// Parses Mermaid files with the real `mermaid` package (its `mermaid.parse`), in Node with a
// jsdom window for the DOM mermaid expects. Usage: node mermaid_parse.mjs NODE_MODULES FILE...
// Prints one JSON line per file: {"file":..,"ok":true,"type":..} or {"file":..,"ok":false,"error":..};
// exits 1 when any file fails.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import path from "node:path";

const [modules, ...files] = process.argv.slice(2);
const require = createRequire(path.join(modules, "noop.js"));
const { JSDOM } = require("jsdom");
const dom = new JSDOM("<!doctype html><html><body></body></html>", { pretendToBeVisual: true });
globalThis.window = dom.window;
globalThis.document = dom.window.document;
for (const key of ["Element", "HTMLElement", "SVGElement", "Node", "DOMParser", "navigator"]) {
  if (!(key in globalThis)) globalThis[key] = dom.window[key];
}
const entry = require.resolve("mermaid");
const mermaid = (await import(pathToFileURL(entry).href)).default;
mermaid.initialize({ startOnLoad: false });

let failed = false;
for (const file of files) {
  const text = readFileSync(file, "utf8");
  try {
    const result = await mermaid.parse(text);
    console.log(JSON.stringify({ file, ok: true, type: result.diagramType }));
  } catch (error) {
    failed = true;
    console.log(JSON.stringify({ file, ok: false, error: String(error && error.message || error) }));
  }
}
process.exit(failed ? 1 : 0);
