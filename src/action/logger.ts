// The Action's logger: phases are foldable groups, warnings and errors are
// annotations, debug lines show with ACTIONS_STEP_DEBUG. Secrets are masked
// by the runner once registered with core.setSecret.
import * as core from "@actions/core";
import type { Logger } from "../adapters/logger.js";

export class ActionsLogger implements Logger {
  debug(message: string): void {
    core.debug(message);
  }
  info(message: string): void {
    core.info(message);
  }
  warn(message: string): void {
    core.warning(message);
  }
  error(message: string): void {
    core.error(message);
  }
  group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return core.group(name, fn);
  }
}
