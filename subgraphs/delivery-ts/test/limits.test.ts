import assert from "node:assert/strict";
import { test } from "node:test";

import { buildSchema as buildGraphQLSchema, parse, validate } from "graphql";

import { aliasLimit, depthLimit } from "../src/limits.js";

const schema = buildGraphQLSchema("type Query { node: Node } type Node { id: ID next: Node }");

function errors(query: string): string[] {
  return validate(schema, parse(query), [depthLimit(3), aliasLimit(2)]).map((error) => error.message);
}

test("operations within the limits pass", () => {
  assert.deepEqual(errors("{ node { next { next { id } } } }"), []);
  assert.deepEqual(errors("{ a: node { id } b: node { id } }"), []);
});

test("too deep is refused, through fragments too", () => {
  assert.deepEqual(errors("query Deep { node { next { next { next { id } } } } }"), ["'Deep' exceeds maximum operation depth of 3"]);
  assert.equal(errors("{ node { ...F } } fragment F on Node { next { next { next { id } } } }").length, 1);
});

test("too many aliases are refused", () => {
  assert.deepEqual(errors("{ a: node { id } b: node { id } c: node { id } }"), ["3 aliases found. Allowed: 2"]);
});
