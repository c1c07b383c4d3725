// Composes the subgraph schemas listed in supergraph.yaml (rover's format) into
// router/supergraph.graphql, and guards the client-facing API schema against
// unacknowledged breaking changes (baseline: router/api-schema.graphql).
//
//   node router/compose.mjs                    compose, write both files (refuses a breaking change)
//   node router/compose.mjs --accept-breaking  same, but record a breaking change in the baseline
//   node router/compose.mjs --check            write nothing; exit 1 if composition fails, a file is
//                                              stale, or the API schema breaks the baseline
//   --config <path>                            another supergraph.yaml (default: ../supergraph.yaml)

import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { composeServices } from "@apollo/composition";
import {
  buildSchema,
  findBreakingChanges,
  findDangerousChanges,
  lexicographicSortSchema,
  parse,
  printSchema,
} from "graphql";
import YAML from "yaml";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

const { values: options } = parseArgs({
  options: {
    check: { type: "boolean", default: false },
    "accept-breaking": { type: "boolean", default: false },
    config: { type: "string", default: join(here, "..", "supergraph.yaml") },
  },
});

const configPath = resolve(options.config);
const root = dirname(configPath);
const supergraphPath = join(root, "router", "supergraph.graphql");
const baselinePath = join(root, "router", "api-schema.graphql");
const show = (path) => relative(process.cwd(), path) || path;

/** Reads supergraph.yaml and the schema file of every subgraph it lists. */
function loadServices() {
  const config = YAML.parse(readFileSync(configPath, "utf8"));
  checkFederationVersion(config.federation_version);
  return Object.entries(config.subgraphs ?? {}).map(([name, subgraph]) => {
    const schemaFile = resolve(root, subgraph.schema.file);
    if (!existsSync(schemaFile)) {
      fail([`${show(schemaFile)} (subgraph "${name}") does not exist: run \`make export-schemas\`.`]);
    }
    const sdl = readFileSync(schemaFile, "utf8");
    return { name, url: subgraph.routing_url, typeDefs: parse(sdl, { noLocation: false }) };
  });
}

/** The pinned federation version must be the composition library that is installed. */
function checkFederationVersion(pinned) {
  const installed = require("@apollo/composition/package.json").version;
  const wanted = String(pinned ?? "").replace(/^=/, "");
  if (wanted !== installed) {
    fail([
      `supergraph.yaml pins federation_version "${pinned}" but @apollo/composition ${installed} is installed:`,
      "  keep supergraph.yaml, router/package.json and FEDERATION_VERSION in scripts/versions.sh equal,",
      "  then run `npm ci --prefix router`.",
    ]);
  }
}

function compose(services) {
  const result = composeServices(services);
  if (result.errors) {
    fail([
      `composition failed with ${result.errors.length} error(s):`,
      ...result.errors.map((error) => `  - ${error.extensions?.code ?? "ERROR"}: ${error.message}`),
      "Fix the subgraph schemas above (then `make compose`).",
    ]);
  }
  if (options.check) {
    if (result.hints.length > 0) console.log(`${result.hints.length} composition hint(s): see \`make compose\``);
  } else {
    for (const hint of result.hints) console.error(`hint ${hint.definition.code}: ${hint.message}`);
  }
  const apiSchema = lexicographicSortSchema(result.schema.toAPISchema().toGraphQLJSSchema());
  return { supergraphSdl: result.supergraphSdl + "\n", apiSdl: printSchema(apiSchema) + "\n" };
}

function readIfExists(path) {
  return existsSync(path) ? readFileSync(path, "utf8") : null;
}

/** Breaking and dangerous changes from the committed baseline to the composed API schema. */
function apiChanges(baselineSdl, apiSdl) {
  if (baselineSdl === null) return { breaking: [], dangerous: [] };
  const before = buildSchema(baselineSdl);
  const after = buildSchema(apiSdl);
  return {
    breaking: findBreakingChanges(before, after),
    dangerous: findDangerousChanges(before, after),
  };
}

function describe(changes) {
  return changes.map((change) => `  - ${change.type}: ${change.description}`);
}

function breakingMessage(breaking) {
  return [
    `the API schema has ${breaking.length} breaking change(s) against ${show(baselinePath)}:`,
    ...describe(breaking),
    "Clients using these fields, types or arguments will fail. Either restore them in the subgraph,",
    "or, if the break is intended, acknowledge it: run `make accept-schema-change` and commit",
    `${show(baselinePath)} with the change (reviewers see the removal in its diff).`,
  ];
}

function fail(lines) {
  for (const line of lines) console.error(`error: ${line}`);
  process.exit(1);
}

function check({ supergraphSdl, apiSdl }) {
  const problems = [];
  if (readIfExists(supergraphPath) !== supergraphSdl) {
    problems.push(`${show(supergraphPath)} is stale (it is not what the subgraph schemas compose to): run \`make compose\` and commit it.`);
  }
  const baseline = readIfExists(baselinePath);
  const { breaking } = apiChanges(baseline, apiSdl);
  if (breaking.length > 0) {
    problems.push(...breakingMessage(breaking));
  } else if (baseline !== apiSdl) {
    problems.push(`${show(baselinePath)} (the API schema baseline) is stale: run \`make compose\` and commit it.`);
  }
  if (problems.length > 0) fail(problems);
  console.log(`ok: ${show(supergraphPath)} and ${show(baselinePath)} are up to date`);
}

function write({ supergraphSdl, apiSdl }) {
  writeFileSync(supergraphPath, supergraphSdl);
  console.log(`wrote ${show(supergraphPath)}`);
  const baseline = readIfExists(baselinePath);
  if (baseline === apiSdl) return;
  const { breaking, dangerous } = apiChanges(baseline, apiSdl);
  if (breaking.length > 0 && !options["accept-breaking"]) fail(breakingMessage(breaking));
  writeFileSync(baselinePath, apiSdl);
  console.log(`wrote ${show(baselinePath)} (API schema baseline)`);
  for (const line of describe([...breaking, ...dangerous])) console.log(`accepted${line}`);
}

const composed = compose(loadServices());
if (options.check) check(composed);
else write(composed);
