// The widget's files as served: static/'s JavaScript minified by terser, its CSS and HTML
// with comments and spaces taken out, written to build/ (git-ignored) with manifest.json, the
// SHA-256 of each source they were made from. assets.py serves a built copy only while its
// source is unchanged, and the readable source otherwise. `npm run build`; make runs it.
// The page-side scripts are made of page/engine.js and one adapter (page/NAME), in one
// function scope (bundle(), as assets.py makes it), minified together into build/page-NAME.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { minify } from "terser";

const here = new URL(".", import.meta.url);
const STATIC = new URL("static/", here);
const PAGE = new URL("page/", here);
const BUILD = new URL("build/", here);
// worker.js's hot loop is laid out for V8 (see its header): only its names are shortened.
const MANGLE_ONLY = new Set(["worker.js"]);

function css(text) {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/\s+/g, " ")
    .replace(/ ?([{};,>]) ?/g, "$1")
    .replace(/: /g, ":")
    .replace(/;}/g, "}")
    .trim();
}

// Spaces between tags go: the frame document's containers are all flex boxes.
function html(text) {
  return (
    text
      .replace(/>\s+</g, "><")
      .replace(/\s+/g, " ")
      .replace(/ (\/?>)/g, "$1")
      .trim() + "\n"
  );
}

async function js(name, text) {
  const out = await minify(text, {
    compress: MANGLE_ONLY.has(name) ? false : { passes: 2 },
    mangle: true,
    module: /^import\s/m.test(text),
    format: { comments: /^!/ },
  });
  return out.code + "\n";
}

rmSync(BUILD, { recursive: true, force: true });
mkdirSync(BUILD);
const manifest = {};
for (const name of readdirSync(STATIC).sort()) {
  const source = readFileSync(new URL(name, STATIC), "utf8");
  const ext = name.split(".").pop();
  let built;
  if (ext === "js") built = await js(name, source);
  else if (ext === "css") built = css(source) + "\n";
  else if (ext === "html") built = html(source);
  else continue;
  writeFileSync(new URL(name, BUILD), built);
  manifest[name] = createHash("sha256").update(source).digest("hex");
}
// Keep in step with assets.py's bundle().
function bundle(engine, adapter) {
  return '(function () {\n"use strict";\n' + engine + "\n" + adapter + "})();\n";
}
const engine = readFileSync(new URL("engine.js", PAGE), "utf8");
for (const name of readdirSync(PAGE).sort()) {
  if (name === "engine.js" || !name.endsWith(".js")) continue;
  const source = bundle(engine, readFileSync(new URL(name, PAGE), "utf8"));
  writeFileSync(new URL("page-" + name, BUILD), await js(name, source));
  manifest["page/" + name] = createHash("sha256").update(source).digest("hex");
}
writeFileSync(new URL("manifest.json", BUILD), JSON.stringify(manifest, null, 1) + "\n");
