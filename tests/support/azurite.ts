/**
 * Azurite's Blob service (npm) as a child process on 127.0.0.1, in-memory and
 * telemetry off, with its published development account key (a public test
 * credential, not a secret).
 */
import { spawn, type ChildProcess } from "node:child_process";

/** Azurite's well-known development account (https://learn.microsoft.com/azure/storage/common/storage-use-azurite#well-known-storage-account-and-key). */
const AZURITE_ACCOUNT = "devstoreaccount1";
const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface Azurite {
  readonly blobEndpoint: string;
  stop(): Promise<void>;
}

/** Starts `azurite-blob` as a child process on a port the OS picks, and waits for its "listens on" line. */
export async function startAzurite(): Promise<Azurite> {
  const child: ChildProcess = spawn(
    process.execPath,
    [require.resolve("azurite/dist/src/blob/main.js"), "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence", "--skipApiVersionCheck", "--loose", "--disableTelemetry"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const blobEndpoint = await new Promise<string>((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`azurite did not start within 10 s: ${output}`)), 10_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
      const match = /listens on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`azurite exited with ${code}: ${output}`));
    });
  });
  return {
    blobEndpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** A connection string for the development account on this Azurite. */
export function azuriteConnectionString(azurite: Azurite): string {
  return `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${azurite.blobEndpoint}/${AZURITE_ACCOUNT};`;
}
