/**
 * The fleet's tags: the same keys and values on every cloud, so one query
 * (`app=scrape-fleet`, `stack=<stack>`) finds a fleet's resources anywhere.
 */

/** The tags every fleet resource carries, before the stack's `tags` are merged over them. */
export function defaultFleetTags(stack: string): Record<string, string> {
  return { app: "scrape-fleet", stack, "managed-by": "pulumi" };
}

/** The fleet's tags with the stack's own `tags` config merged over them (the stack wins). */
export function fleetTags(stack: string, extra: Readonly<Record<string, string>> = {}): Readonly<Record<string, string>> {
  return Object.freeze({ ...defaultFleetTags(stack), ...extra });
}

/** Google Cloud label keys and values: at most 63 characters. */
const GCP_LABEL_MAX = 63;

/**
 * The same tags as Google Cloud labels: lower case, only `[a-z0-9_-]`, at most
 * 63 characters, keys starting with a letter
 * (https://cloud.google.com/resource-manager/docs/labels-overview#requirements).
 * Other characters become `_`; a key that would not start with a letter gets a
 * `k` in front. Two tags that map to the same label key keep the later value.
 */
export function gcpLabels(tags: Readonly<Record<string, string>>): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(tags)) {
    let labelKey = toLabelText(key);
    if (!/^[a-z]/.test(labelKey)) labelKey = `k${labelKey}`.slice(0, GCP_LABEL_MAX);
    labels[labelKey] = toLabelText(value);
  }
  return labels;
}

function toLabelText(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9_-]/g, "_").slice(0, GCP_LABEL_MAX);
}
