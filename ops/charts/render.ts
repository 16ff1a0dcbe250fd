/**
 * Charts for `cost`, `simulate` and `loadtest`: a Vega-Lite spec compiled by
 * `vega-lite` and rendered to SVG by `vega`'s headless view, with no canvas,
 * no browser and no network (the data is inline, no font or URL is loaded).
 * https://vega.github.io/vega/usage/#node
 *
 * Vega 5, not 6: Vega 6 ships ES modules only, with a top-level await in
 * vega-canvas, which this CommonJS project cannot require; Vega 5 still ships
 * a CommonJS build with the same API.
 * https://github.com/vega/vega/releases/tag/v6.0.0
 */
import { writeFile } from "node:fs/promises";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/** The SVG of a Vega-Lite spec whose data is given inline. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const { spec: compiled } = compile(spec);
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export async function writeChart(file: string, spec: TopLevelSpec): Promise<void> {
  await writeFile(file, await renderSvg(spec));
}
