/**
 * A self-signed certificate for 127.0.0.1 (P-256, valid until 2126), made with
 * `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes
 * -days 36500 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1`.
 * No client trusts it: tests use it to show that TLS verification is on.
 * The key protects nothing.
 */
export const SELF_SIGNED_127_0_0_1 = {
  key: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgGLRJ615Zi3WQILhX
/CbZyzHDkGXWMJOYgZd64B+8/5qhRANCAARYDEqOw8qcS0SK0vchwXEh7o29XyG7
7K64yn10zDhOwMNGCJsmMuwelSrjFf8X1fGqRIGqfad50YXQHIExbnsU
-----END PRIVATE KEY-----
`,
  cert: `-----BEGIN CERTIFICATE-----
MIIBkTCCATagAwIBAgIUV3N8xUv8nItVUW/lmstjhENMyOMwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEzMDAyNTEyN1oYDzIxMjYxMTA2
MDI1MTI3WjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAARYDEqOw8qcS0SK0vchwXEh7o29XyG77K64yn10zDhOwMNGCJsmMuwe
lSrjFf8X1fGqRIGqfad50YXQHIExbnsUo2QwYjAdBgNVHQ4EFgQUFgxSM7bQZ+Sp
FlEvCB0DwaiD/v0wHwYDVR0jBBgwFoAUFgxSM7bQZ+SpFlEvCB0DwaiD/v0wDwYD
VR0TAQH/BAUwAwEB/zAPBgNVHREECDAGhwR/AAABMAoGCCqGSM49BAMCA0kAMEYC
IQCfZTtCbYSXn35V9BjuDadZ99QRGGuqfYtLUt43aDZ78gIhAIsOCbCFhaFz/xzT
3/Z0mn/Y781p0RjxqoD4RM4qqCsv
-----END CERTIFICATE-----
`,
} as const;
