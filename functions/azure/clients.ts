/**
 * The Azure SDK clients the handler uses, bundled into their own file
 * (clients.js beside index.js, infra/azure/worker.ts) and loaded by sdk.ts on
 * first use. `import = require` makes esbuild pick each package's CommonJS
 * build: the ESM build of @azure/storage-blob reads `import.meta.url`, which
 * is empty in the CommonJS bundle the function runs.
 */
export import identity = require("@azure/identity");
export import serviceBus = require("@azure/service-bus");
export import storageBlob = require("@azure/storage-blob");
export import appConfiguration = require("@azure/app-configuration");
