/**
 * Reading Google REST API answers, shared by the worker's Parameter Manager
 * and Pub/Sub calls and the operations backend (ops/backends/gcp.ts).
 */

/** `value` when it is an array, otherwise none: list fields are left out of an answer when empty. */
export function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Google APIs answer errors as `{"error":{"code":403,"message":"...","status":"PERMISSION_DENIED"}}`. */
export function apiErrorMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown; status?: unknown } };
    if (typeof parsed.error?.message === "string") return `${String(parsed.error.status ?? "")} ${parsed.error.message}`.trim();
  } catch {
    // Not JSON: quoted below.
  }
  return JSON.stringify(text.slice(0, 200));
}
