/**
 * The fleet's rules, in the order the README lists them. Each is a pure
 * function over `ResourceView`s (./view.ts): ./index.ts registers them with
 * CrossGuard, ./evaluate.ts runs them over a mocked plan.
 */
import { ackMargin } from "./ackMargin";
import { alarmHasAction } from "./alarmActions";
import { alarmMissingData } from "./alarmMissingData";
import { alarmShape } from "./alarmShape";
import { buildServiceAccount } from "./buildServiceAccount";
import { deadLetterAlarm, deadLetterPath } from "./deadLetters";
import { encryptionAtRest } from "./encryption";
import { flexSiteConfig } from "./flexSiteConfig";
import { leastPrivilege } from "./leastPrivilege";
import { logRetention } from "./logRetention";
import { nodeRuntime } from "./nodeRuntime";
import { parameterSize } from "./parameterSize";
import { noPublicStorage } from "./publicAccess";
import { queueRetention } from "./queueRetention";
import { requiredApis } from "./requiredApis";
import { lambdaEnvironment } from "./lambdaEnvironment";
import { fleetTags } from "./tagging";
import type { FleetRule } from "./view";

export {
  ackMargin,
  alarmHasAction,
  alarmMissingData,
  alarmShape,
  buildServiceAccount,
  deadLetterAlarm,
  deadLetterPath,
  encryptionAtRest,
  flexSiteConfig,
  fleetTags,
  lambdaEnvironment,
  leastPrivilege,
  logRetention,
  nodeRuntime,
  noPublicStorage,
  parameterSize,
  queueRetention,
  requiredApis,
};

export const FLEET_RULES: readonly FleetRule[] = [
  encryptionAtRest,
  noPublicStorage,
  deadLetterPath,
  deadLetterAlarm,
  alarmHasAction,
  leastPrivilege,
  logRetention,
  nodeRuntime,
  fleetTags,
  queueRetention,
  alarmMissingData,
  alarmShape,
  parameterSize,
  lambdaEnvironment,
  buildServiceAccount,
  requiredApis,
  ackMargin,
  flexSiteConfig,
];
