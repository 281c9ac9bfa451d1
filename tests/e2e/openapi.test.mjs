// The OpenAPI document the verifier serves, checked by a real validator from the
// registry (the official 3.0/3.1 JSON schemas) and for what a schema cannot say:
// operationIds unique, every security scheme an operation names declared.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { ROOT } from "./harness.mjs";

const doc = JSON.parse(readFileSync(join(ROOT, "verifier", "openapi.json"), "utf8"));
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  METHODS.filter((m) => item[m]).map((m) => ({ path, method: m, op: item[m] })),
);

test("openapi.json is a valid OpenAPI document", async () => {
  const validator = new Validator();
  const res = await validator.validate(doc);
  assert.ok(res.valid, JSON.stringify(res.errors, null, 1));
  assert.match(validator.version, /^3\./);
});

test("every operation has a unique operationId", () => {
  const seen = new Map();
  for (const { path, method, op } of operations) {
    assert.ok(op.operationId, `${method} ${path} has no operationId`);
    assert.ok(!seen.has(op.operationId), `${op.operationId}: ${method} ${path} and ${seen.get(op.operationId)}`);
    seen.set(op.operationId, `${method} ${path}`);
  }
  assert.ok(seen.size > 25, `${seen.size} operations`);
});

test("every security scheme named is declared, including Azure's key header and the Quick Link token", () => {
  const declared = doc.components?.securitySchemes ?? {};
  for (const { path, method, op } of operations) {
    for (const requirement of op.security ?? []) {
      for (const name of Object.keys(requirement)) {
        assert.ok(declared[name], `${method} ${path} names ${name}, which is not declared`);
      }
    }
  }
  const headers = Object.values(declared).filter((s) => s.type === "apiKey").map((s) => s.name);
  assert.ok(headers.includes("Ocp-Apim-Subscription-Key"), JSON.stringify(declared));
  assert.ok(headers.includes("X-API-Key"), JSON.stringify(declared));
  const quick = doc.paths["/api/s"].post.security.flatMap(Object.keys);
  assert.ok(quick.every((n) => declared[n]?.scheme === "bearer"), JSON.stringify(quick));
});
