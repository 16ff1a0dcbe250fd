// The test files' globals (describe, it): the program itself is compiled without them, so
// `npm ci --omit=dev` then `pulumi up` needs no test typings.
/// <reference types="mocha" />
