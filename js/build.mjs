// Bundles js/src/index.js (and the CSS it lists) into one ES module for anywidget: relative imports do not
// resolve from anywidget's Blob URL, so everything must be in a single file.
import * as esbuild from "esbuild";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "cnnviz_widget", "static");
mkdirSync(out, { recursive: true });

await esbuild.build({
  entryPoints: [join(here, "src", "index.js")],
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: false,
  legalComments: "none",
  outfile: join(out, "widget.js"),
  logLevel: "warning",
});

// The HTML export's page module (cnnviz_widget/export.py inlines it beside widget.js): the static model and mount().
await esbuild.build({
  entryPoints: [join(here, "src", "export-main.js")],
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: false,
  legalComments: "none",
  outfile: join(out, "export.js"),
  logLevel: "warning",
});

const css = readFileSync(join(here, "src", "widget.css"), "utf8");
writeFileSync(join(out, "widget.css"), css);
