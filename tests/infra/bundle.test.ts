/**
 * The deployment zip every cloud uploads: its hash is the package's identity
 * (Azure's blob name, Google Cloud's object name), so two different packages
 * must never share one.
 */
import assert from "node:assert/strict";
import { deploymentArchive, type Bundle } from "../../infra/bundle";

const NO_FILES: Bundle = { files: [] };

describe("deployment archive", () => {
  it("the package hash tells where one entry's name ends and its content begins", () => {
    assert.notEqual(deploymentArchive(NO_FILES, { "a.json": "b" }).sha256, deploymentArchive(NO_FILES, { a: ".jsonb" }).sha256);
  });

  it("the package hash tells where one entry ends and the next begins", () => {
    assert.notEqual(deploymentArchive(NO_FILES, { a: "b", c: "d" }).sha256, deploymentArchive(NO_FILES, { a: "b\0c\0d" }).sha256);
  });

  it("the same entries give the same hash, and any changed byte another", () => {
    assert.equal(deploymentArchive(NO_FILES, { "host.json": "{}" }).sha256, deploymentArchive(NO_FILES, { "host.json": "{}" }).sha256);
    assert.notEqual(deploymentArchive(NO_FILES, { "host.json": "{}" }).sha256, deploymentArchive(NO_FILES, { "host.json": "{ }" }).sha256);
  });
});
