/**
 * `npm ci --omit=dev` then `pulumi up` must work: the Pulumi CLI compiles the
 * program with the project's own `typescript` (falling back to its vendored
 * TypeScript 3.8, which cannot read this code: see `typeScriptRequireStrings`
 * in @pulumi/pulumi/tsutils.js), type-checks it against `@types/node`, and the
 * program bundles the functions with esbuild at deploy time.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { builtinModules } from "node:module";
import { REPO_ROOT } from "../../infra/bundle";

const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

/** Every .ts file under `dir`, recursively. */
function sources(dir: string): string[] {
  return readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

/** The package a bare import names (`@pulumi/aws/sqs` → `@pulumi/aws`); undefined for relative and built-in imports. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith(".") || specifier.startsWith("node:") || builtinModules.includes(specifier)) return undefined;
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

describe("a production install deploys", () => {
  it("every package the program and the functions import at run time is a dependency, not a devDependency", () => {
    const missing: string[] = [];
    for (const dir of ["infra", "functions", "shared"]) {
      for (const file of sources(dir)) {
        for (const match of readFileSync(file, "utf8").matchAll(/^import (?!type\b)[^;]*? from "([^"]+)";/gms)) {
          const name = packageOf(match[1]);
          if (name !== undefined && !(name in manifest.dependencies)) missing.push(`${path.relative(REPO_ROOT, file)} imports ${name}`);
        }
      }
    }
    assert.deepEqual(missing, []);
  });

  it("the compiler and the types Pulumi compiles the program with are dependencies", () => {
    for (const name of ["typescript", "@types/node", "esbuild"]) assert.ok(name in manifest.dependencies, `${name} is not in dependencies`);
  });
});
