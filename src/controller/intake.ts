// The acknowledgement path of one webhook delivery: check the headers, verify
// the signature over the exact bytes received (@octokit/webhooks), parse,
// drop what this process has already seen, decide whether the delivery is
// about a sandbox of an opted-in repository, and queue it. Nothing here
// touches Kubernetes or GitHub: the answer (202) goes out as soon as the work
// is queued, well inside GitHub's 10 s.
import { Webhooks } from "@octokit/webhooks";
import { DeliveryLedger } from "../adapters/kubernetes/delivery-ledger.js";
import { HANDLED_EVENTS, planningEventName, repositoriesGained, repositoryOf, workSubject } from "../domain/delivery.js";
import { quoteInput } from "../domain/errors.js";
import { planEvent } from "../domain/plan.js";
import { planForImageSupply } from "../domain/trust.js";
import type { JsonLogger } from "./logger.js";
import { type ControllerMetrics, eventLabel } from "./metrics.js";
import type { RepositoryConfig } from "./repositories.js";
import type { Delivery } from "./worker.js";

export interface IntakeOptions {
  secret: string;
  catalog: { get(repository: string): RepositoryConfig | undefined };
  submit: (item: { id: string; key: string; kind: "deploy" | "destroy" | "other"; payload: Delivery }) => void;
  metrics: ControllerMetrics;
  logger: JsonLogger;
  /** How many delivery ids this process remembers to answer redeliveries without Kubernetes; default 50,000. */
  remember?: number;
  /**
   * The App was given access to these opted-in repositories: their open pull
   * requests and branches get previews at the next reconcile, asked for now.
   */
  onAccessGained?: (repositories: string[]) => void;
}

export interface Answer {
  status: 202 | 400 | 401;
  result: "queued" | "duplicate" | "ignored" | "refused";
  message: string;
}

type Headers = Record<string, string | string[] | undefined>;

export class Intake {
  private readonly webhooks: Webhooks;
  private readonly recent = new Set<string>();
  private readonly remember: number;

  constructor(private readonly options: IntakeOptions) {
    // @octokit/webhooks refuses to be built without a secret; so does serve, earlier and with a clearer message.
    this.webhooks = new Webhooks({ secret: options.secret });
    this.remember = options.remember ?? 50_000;
  }

  async receive(headers: Headers, body: Buffer): Promise<Answer> {
    const event = header(headers, "x-github-event");
    const id = header(headers, "x-github-delivery");
    const signature = header(headers, "x-hub-signature-256");
    const refuse = (status: 400 | 401, message: string): Answer => {
      this.options.metrics.count(event, "refused");
      this.options.logger.warn(`delivery refused (${status}): ${message}`);
      return { status, result: "refused", message };
    };
    if (!signature) return refuse(401, "the delivery is not signed (no x-hub-signature-256 header); set the webhook's secret on GitHub");
    if (!event) return refuse(400, "no x-github-event header");
    if (!id || !DeliveryLedger.isDeliveryId(id)) return refuse(400, "no valid x-github-delivery header");
    const verified = await this.webhooks.verify(body.toString("utf8"), signature).catch(() => false);
    if (!verified) return refuse(401, `delivery ${id}: the signature does not match the body and the controller's webhook secret`);
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString("utf8"));
    } catch {
      return refuse(400, `delivery ${id}: the body is not JSON`);
    }
    if (typeof payload !== "object" || payload === null || Array.isArray(payload))
      return refuse(400, `delivery ${id}: the body is not a JSON object`);

    const log = this.options.logger.child({ delivery: id, event: eventLabel(event) });
    if (this.recent.has(id)) {
      this.options.metrics.count(event, "duplicate");
      log.info("redelivery of a delivery this process already took: acknowledged, not run again");
      return { status: 202, result: "duplicate", message: `delivery ${id} was already received` };
    }
    this.rememberId(id);
    const ignore = (why: string): Answer => {
      this.options.metrics.count(event, "ignored");
      log.info(`ignored: ${why}`);
      return { status: 202, result: "ignored", message: why };
    };
    const gained = repositoriesGained(event, payload);
    if (gained.length > 0) {
      const opted = gained.flatMap((name) => this.options.catalog.get(name)?.repository ?? []);
      if (opted.length === 0) return ignore(`the App was given access to ${gained.length} repositories, none of them opted in`);
      this.options.onAccessGained?.(opted);
      this.options.metrics.count(event, "processed");
      log.info(`the App was given access to ${opted.join(", ")}: reconcile asked for`);
      return { status: 202, result: "queued", message: `reconcile of ${opted.join(", ")} asked for` };
    }
    if (!HANDLED_EVENTS.has(event)) return ignore(`${quoteInput(event, 40)} events do not affect sandboxes`);
    const repository = repositoryOf(payload);
    const config = repository ? this.options.catalog.get(repository) : undefined;
    if (!repository || !config) return ignore(`repository ${quoteInput(repository ?? "(none)")} is not opted in`);
    let plan: ReturnType<typeof planEvent>;
    try {
      const name = planningEventName(event, payload);
      plan = planForImageSupply(
        planEvent({ name, payload }, { command: "auto", forkLabel: config.forkLabel, repository: config.repository }),
        "ci",
      );
    } catch (error) {
      return ignore(error instanceof Error ? error.message : String(error));
    }
    if (plan.operation === "skip") return ignore(plan.reason);
    const { key, kind } = workSubject(config.repository, plan);
    this.options.submit({ id, key, kind, payload: { id, event, payload, repository: config.repository } });
    log.child({ sandbox: key }).info(`queued: ${plan.operation} (${plan.reason})`);
    return { status: 202, result: "queued", message: `${plan.operation} queued` };
  }

  private rememberId(id: string): void {
    this.recent.add(id);
    // A Set iterates in insertion order: the first entry is the oldest.
    if (this.recent.size > this.remember) {
      const oldest = this.recent.values().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
  }
}

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text && text.length <= 200 ? text : undefined;
}
