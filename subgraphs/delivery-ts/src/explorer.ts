// GraphiQL for this subgraph on a browser's GET /graphql, from the service's own files (no
// CDN): GraphiQL and React from its node_modules (package-lock.json), mounted by
// assets/explorer.js. The same explorer every shopgraph subgraph serves.

import { readFile } from "node:fs/promises";

const PACKAGE_DIR = new URL("../../", import.meta.url);
export const ASSETS_PATH = "/explorer/assets/";

const ASSETS: Readonly<Record<string, { path: string; mediaType: string }>> = {
  "react.production.min.js": { path: "node_modules/react/umd/react.production.min.js", mediaType: "text/javascript" },
  "react-dom.production.min.js": {
    path: "node_modules/react-dom/umd/react-dom.production.min.js",
    mediaType: "text/javascript",
  },
  "graphiql.min.js": { path: "node_modules/graphiql/graphiql.min.js", mediaType: "text/javascript" },
  "graphiql.min.css": { path: "node_modules/graphiql/graphiql.min.css", mediaType: "text/css" },
  "explorer.js": { path: "assets/explorer.js", mediaType: "text/javascript" },
};

export interface Asset {
  readonly body: Buffer;
  readonly mediaType: string;
}

/** Every asset, read once at start: a missing file fails the start, not a browser later. */
export async function loadAssets(): Promise<ReadonlyMap<string, Asset>> {
  const loaded = new Map<string, Asset>();
  for (const [name, { path, mediaType }] of Object.entries(ASSETS)) {
    try {
      loaded.set(name, { body: await readFile(new URL(path, PACKAGE_DIR)), mediaType });
    } catch {
      throw new Error(`the explorer's file ${path} is missing: run \`npm ci\` in subgraphs/delivery-ts`);
    }
  }
  return loaded;
}

export function graphiqlPage(title: string, endpoint: string): string {
  const scripts = ["react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "explorer.js"]
    .map((name) => `    <script src="${ASSETS_PATH}${name}" defer></script>`)
    .join("\n");
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${escapeHtml(title)}</title>
    <link rel="stylesheet" href="${ASSETS_PATH}graphiql.min.css">
    <style>html, body, #graphiql { height: 100%; margin: 0; }</style>
${scripts}
  </head>
  <body>
    <div id="graphiql" data-endpoint="${escapeHtml(endpoint)}">Loading the explorer...</div>
  </body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}
