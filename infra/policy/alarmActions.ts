/**
 * Rule 5: every alarm notifies someone.
 */
import { AWS, AZURE, GCP } from "./types";
import { count, display, isSet, items, read, type FleetRule, type ResourceView } from "./view";

/** The receiver lists of an Azure action group (ActionGroupArgs). */
const ACTION_GROUP_RECEIVERS = [
  "emailReceivers",
  "smsReceivers",
  "webhookReceivers",
  "voiceReceivers",
  "azureAppPushReceivers",
  "armRoleReceivers",
  "azureFunctionReceivers",
  "logicAppReceivers",
  "automationRunbookReceivers",
  "itsmReceivers",
  "eventHubReceivers",
  "incidentReceivers",
];

function checkResource(resource: ResourceView): string[] {
  const { props } = resource;
  const at = display(resource);
  const problems: string[] = [];
  switch (resource.type) {
    case AWS.metricAlarm:
      if (count(read(props, "alarmActions")) === 0) problems.push(`${at} has no alarmActions, so it notifies no one. Fix: set alarmActions: [<alert topic>.arn].`);
      if (count(read(props, "okActions")) === 0) problems.push(`${at} has no okActions, so no one hears that it cleared. Fix: set okActions: [<alert topic>.arn].`);
      if (read(props, "actionsEnabled") === false) problems.push(`${at} has its actions disabled. Fix: remove actionsEnabled: false.`);
      break;
    case AZURE.metricAlert: {
      const actions = read(props, "actions");
      if (count(actions) === 0 || !items(actions).every((action) => isSet(action, "actionGroupId"))) problems.push(`${at} has no action group in its actions, so it notifies no one. Fix: set actions: [{ actionGroupId: <action group>.id }].`);
      break;
    }
    case AZURE.scheduledQueryRule:
      if (count(read(props, "actions", "actionGroups")) === 0) problems.push(`${at} has no action group, so it notifies no one. Fix: set actions: { actionGroups: [<action group>.id] }.`);
      break;
    case AZURE.actionGroup:
      if (read(props, "enabled") === false) problems.push(`${at} is disabled, so its alerts notify no one. Fix: set enabled: true.`);
      if (!ACTION_GROUP_RECEIVERS.some((receivers) => count(read(props, receivers)) > 0)) problems.push(`${at} has no receiver. Fix: add emailReceivers (and webhookReceivers) for the on-call.`);
      break;
    case GCP.alertPolicy:
      if (count(read(props, "notificationChannels")) === 0) problems.push(`${at} has no notificationChannels, so it notifies no one. Fix: set notificationChannels: [<channel>.name].`);
      break;
  }
  return problems;
}

export const alarmHasAction: FleetRule = {
  name: "alarm-has-action",
  description: "Every alarm notifies someone, when it fires and when it clears.",
  checks: [
    "CloudWatch alarm: non-empty `alarmActions` and `okActions`, actions not disabled",
    "Azure metric alert: `actions` each with an `actionGroupId`; scheduled query rule: `actions.actionGroups` non-empty; action group: enabled, with at least one receiver",
    "Cloud Monitoring alert policy: non-empty `notificationChannels`",
  ],
  checkResource,
};
