/**
 * A push subscription's ack deadline outlasts the function it pushes to by a
 * margin. For push delivery the ack deadline is the push request's timeout,
 * and Pub/Sub's clock starts when it sends the push, before Cloud Run has an
 * instance for it (a cold start; a request queued while every instance is
 * busy, https://cloud.google.com/run/docs/about-instance-autoscaling). An ack
 * deadline at the function timeout delivers a slow success again.
 */
import { GCP_LIMITS } from "../cloudLimits";
import { GCP } from "./types";
import { display, numeric, read, text, violation, type FleetRule, type ResourceView, type Violation } from "./view";

function checkStack(resources: readonly ResourceView[]): Violation[] {
  const functions = resources.filter((resource) => resource.type === GCP.function);
  const found: Violation[] = [];
  for (const subscription of resources.filter((resource) => resource.type === GCP.subscription)) {
    const endpoint = text(read(subscription.props, "pushConfig", "pushEndpoint"));
    if (endpoint === undefined) continue;
    const target = functions.find((fn) => [text(read(fn.props, "serviceConfig", "uri")), text(read(fn.props, "url"))].includes(endpoint));
    const timeout = numeric(read(target?.props, "serviceConfig", "timeoutSeconds"));
    if (target === undefined || timeout === undefined) continue;
    const least = timeout + GCP_LIMITS.ackMarginSeconds;
    const ack = numeric(read(subscription.props, "ackDeadlineSeconds"));
    if (ack === undefined || ack < least) {
      found.push(
        violation(
          subscription,
          `${display(subscription)} pushes to ${display(target)} with an ack deadline of ${String(ack ?? "(default 10)")} s, less than its timeout (${timeout} s) + ${GCP_LIMITS.ackMarginSeconds} s for a cold start and Cloud Run's request queue, so a slow success is delivered again. Fix: set ackDeadlineSeconds to at least ${least} (at most ${GCP_LIMITS.ackDeadlineSeconds.max}; lower the function timeout if it does not fit).`,
        ),
      );
    }
  }
  return found;
}

export const ackMargin: FleetRule = {
  name: "ack-margin",
  description: "A push subscription's ack deadline outlasts the function it pushes to by a margin.",
  checks: [`Pub/Sub push subscription to a Cloud Function (gen2): \`ackDeadlineSeconds\` ≥ the function's \`serviceConfig.timeoutSeconds\` + ${GCP_LIMITS.ackMarginSeconds}`],
  checkStack,
};
