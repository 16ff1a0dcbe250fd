/**
 * The AWS SDK clients the handler uses, bundled into their own file
 * (clients.js beside index.js, infra/aws/worker.ts) and loaded by sdk.ts on
 * first use. `import = require` picks each package's CommonJS build.
 */
export import s3 = require("@aws-sdk/client-s3");
export import sqs = require("@aws-sdk/client-sqs");
export import ssm = require("@aws-sdk/client-ssm");
