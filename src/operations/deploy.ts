// deploy: one preview from a branch or PR to a ready, reachable sandbox.
// ensure namespace -> lock -> image (built only when the registry lacks it)
// -> helm upgrade --install -> wait ready -> record the result on the
// namespace. Re-running the same inputs changes nothing and says so; a
// failure keeps the namespace (the evidence) and its expiry timer.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { ToolError } from "../adapters/exec.js";
import { treeDigest } from "../adapters/image/content-tag.js";
import { acquireLock, type HeldLock, LockLostError, LockTimeoutError } from "../adapters/kubernetes/lease-lock.js";
import { inspect, NotReadyError, waitReady } from "../adapters/kubernetes/readiness.js";
import { InputError, quoteInput, Refusal, SandboxError } from "../domain/errors.js";
import { expiryAfterDeploy } from "../domain/expiry.js";
import { appendOperation } from "../domain/history.js";
import type { SandboxIdentity } from "../domain/identity.js";
import { ANNOTATIONS, namespaceMetadata, podSecurityLabels, readSandboxRecord, type SandboxRecord } from "../domain/metadata.js";
import { capacityProblem, type ImageSource } from "../domain/trust.js";
import { checkUserValues, sandboxValues } from "../domain/values.js";
import { allowedLocalMount, ensureSandboxAccess } from "./access.js";
import type { Engine } from "./engine.js";
import { buildImage, findPrebuilt, type ImageChoice, verifyBuildContext } from "./image.js";
import { ensureOwnNamespace, identityFor, ownSandboxes, removeOrphanedVolumes } from "./namespace.js";

export interface DeployTarget {
  branch: string;
  pullRequest?: number | null;
  commit?: string;
  fork?: boolean;
}

export interface DeployOptions {
  /**
   * Build the checkout (verified to be the target commit) or deploy the
   * image the build made for the commit; default build. The Action decides
   * per event (domain/trust.ts).
   */
  image?: ImageSource;
  /** The prebuilt image to deploy; default <image repository>:sha-<commit>. */
  imageRef?: string;
  /**
   * Asked once the sandbox's lock is held: why this deploy is no longer
   * wanted (its commit is not the head any more), or undefined. Asked under
   * the lock so an older run that waited cannot deploy after a newer one.
   */
  stillWanted?: () => Promise<string | undefined>;
}

export interface DeployOutcome {
  /** superseded: a newer commit became the head before this deploy got the lock; nothing was deployed. */
  result: "deployed" | "unchanged" | "superseded";
  identity: SandboxIdentity;
  image?: string;
  expiresAt: Date;
  /** True when the image was found in the registry and not rebuilt. */
  imageReused: boolean;
  helmRevision?: number;
  timings: Record<string, number>;
}

export async function deploy(engine: Engine, target: DeployTarget, options: DeployOptions = {}): Promise<DeployOutcome> {
  const { settings, logger } = engine;
  const identity = identityFor(settings, target);
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    try {
      return await fn();
    } finally {
      timings[name] = Date.now() - started;
    }
  };
  let step = "namespace";
  const fail = (error: unknown): never => {
    throw asSandboxError(error, identity.key, step);
  };

  logger.info(`sandbox ${identity.key}: namespace ${identity.namespace}, url ${identity.url}`);
  // Before anything is touched: values that would override the engine's are refused.
  step = "values";
  await checkValues(engine, options).catch((error: unknown) => {
    // The domain's InputError knows neither sandbox nor step; the report needs both.
    if (!(error instanceof InputError)) fail(error);
    throw new SandboxError((error as InputError).message, { sandbox: identity.key, step, hint: HINTS.values, cause: error });
  });
  // Local mode's host path, only where the cluster's admin allows one.
  const mount =
    settings.mode === "local" && settings.localAddonsPath
      ? await allowedLocalMount(engine, settings.localAddonsPath).catch(fail)
      : undefined;
  step = "namespace";
  const existing = await timed("namespace", () => ensureOwnNamespace(engine, identity)).catch(fail);
  // What can refuse is checked before the cluster is changed: a refused
  // deploy leaves no namespace behind.
  if (!existing && (settings.maxSandboxes ?? 0) > 0) {
    step = "capacity";
    const count = (await ownSandboxes(engine).catch(fail)).filter((r) => !r.terminating).length;
    const full = capacityProblem({ existing: count, max: settings.maxSandboxes ?? 0, isNew: true });
    if (full) throw new Refusal(full, { sandbox: identity.key, step, hint: HINTS.capacity });
  }
  step = "image";
  let chosen: ImageChoice | undefined;
  let revision = target.commit;
  if (settings.mode === "local" || (!settings.imageRepository && !options.imageRef)) chosen = { reused: true };
  else if (options.image === "prebuilt") chosen = await findPrebuilt(engine, identity.key, target.commit, options.imageRef).catch(fail);
  else revision = await verifyBuildContext(engine, identity.key, target.commit).catch(fail);
  step = "namespace";
  const now = engine.now();
  const expiresAt = expiryAfterDeploy({ current: existing?.expiresAt, now, ttlMs: settings.ttlMs });
  // The expiry is written before anything can fail, so even a failed first
  // deploy has a timer and is swept (nothing is left without one).
  const meta = namespaceMetadata({
    key: identity.key,
    repo: settings.repository,
    branch: identity.branch,
    // A push does not know its branch's PR; keep the one a PR event recorded
    // (under server-side apply, a field left out would be removed).
    pullRequest: identity.pullRequest ?? existing?.pullRequest,
    commit: target.commit,
    url: identity.url,
    createdAt: existing?.createdAt ?? now,
    expiresAt,
    status: existing ? existing.status : "deploying",
  });
  await engine.namespaces
    .apply(identity.namespace, { ...meta.labels, ...podSecurityLabels(settings.podSecurity) }, meta.annotations)
    .catch(fail);
  await ensureSandboxAccess(engine, identity.namespace).catch(fail);
  // Only local mode makes PersistentVolumes (CI mode has no rights on them).
  if (!existing && settings.mode === "local") await removeOrphanedVolumes(engine, identity.namespace).catch(fail);

  step = "lock";
  let lock: HeldLock | undefined;
  try {
    lock = await timed("lock", () =>
      acquireLock(engine.kube, identity.namespace, engine.holder, {
        waitTimeoutMs: settings.waitTimeoutMs,
        leaseSeconds: engine.lockLeaseSeconds,
        onWait: (holder, waited) => logger.info(`waiting for ${holder} to finish with ${identity.key} (${Math.round(waited / 1000)}s)`),
        onLost: (error) => logger.warn(`${error.message}`),
      }),
    );
  } catch (error) {
    fail(error);
  }

  const unwanted = await options.stillWanted?.().catch((error: unknown) => {
    logger.warn(`could not check that ${target.commit?.slice(0, 12)} is still the head (${String(error)}); deploying it`);
    return undefined;
  });
  if (unwanted) {
    await lock?.release().catch(() => undefined);
    logger.info(`sandbox ${identity.key}: ${unwanted}`);
    return { result: "superseded", identity, expiresAt, imageReused: true, timings };
  }

  const workdir = await mkdtemp(join(tmpdir(), "k8s-sandbox-"));
  try {
    step = "image";
    const { image, reused } = await timed("image", async () => chosen ?? logger.group("Image", () => buildImage(engine, revision)));

    step = "values";
    const generated = sandboxValues({
      identity,
      mode: settings.mode,
      commit: target.commit,
      ttl: settings.ttlMs,
      image,
      pullRequest: identity.pullRequest,
      localAddonsPath: mount?.hostPath,
      allowedHostPaths: mount?.roots,
    });
    const generatedFile = join(workdir, "sandbox-values.yaml");
    await writeFile(generatedFile, stringify(generated), { mode: 0o600 });
    const valuesHash = await hashDeployInputs(engine, generated);

    // Read again under the lock: a run that held it before us may have just deployed these inputs.
    const record = readSandboxRecord((await engine.namespaces.get(identity.namespace)) ?? { name: identity.namespace });
    if (await isUnchanged(engine, identity, record, valuesHash)) {
      await engine.namespaces.annotate(
        identity.namespace,
        namespaceMetadata({
          key: identity.key,
          lastDeployedAt: engine.now(),
          lastResult: "unchanged",
          history: appendOperation(record?.history, { at: engine.now(), operation: "deploy", result: "unchanged", commit: target.commit }),
        }).annotations,
      );
      logger.info(`sandbox ${identity.key} is already deployed with these inputs and ready: nothing to do`);
      return { result: "unchanged", identity, image, expiresAt, imageReused: true, timings };
    }

    if (settings.dryRun) {
      logger.info(`dry run: would run helm upgrade --install ${identity.releaseName} ${settings.chart} in ${identity.namespace}`);
      return { result: "deployed", identity, image, expiresAt, imageReused: reused, timings };
    }

    step = "helm upgrade";
    const release = await timed("helm", () =>
      logger.group("Helm", async () => {
        const request = {
          release: identity.releaseName,
          namespace: identity.namespace,
          chart: settings.chart,
          valuesFiles: [...modeDefaults(settings), ...settings.valuesFiles, generatedFile],
          sets: settings.sets,
        };
        // Helm stops if the lock is lost: another run may own the release by then.
        const signal = lock?.signal;
        try {
          return await engine.helm.upgradeInstall(request, { signal });
        } catch (error) {
          lock?.check();
          // A run killed mid-upgrade left the release pending; Helm refuses
          // until it is recovered. Checked only on failure: it costs a helm call.
          if (!(error instanceof ToolError && /another operation .* is in progress/.test(error.stderr))) throw error;
          // Not pending any more by the time we looked: the other operation
          // ended in between, so the retry below may simply go through.
          const recovered = await engine.helm.recoverPending(identity.releaseName, identity.namespace);
          logger.warn(
            recovered ?? `helm said another operation was in progress on ${identity.releaseName}, and it has ended: retrying once`,
          );
          return engine.helm.upgradeInstall(request, { signal });
        }
      }),
    );
    logger.info(`release ${release.name} revision ${release.revision}: ${release.status}`);

    step = "wait ready";
    await timed("wait", () =>
      logger.group("Wait until ready", () =>
        waitReady(engine.kube, identity.namespace, {
          timeoutMs: settings.waitTimeoutMs,
          failFastAfterMs: settings.failFastAfterMs,
          onProgress: (line) => logger.info(line),
          signal: lock?.signal,
        }),
      ),
    );

    step = "record";
    lock?.check();
    await engine.namespaces.annotate(identity.namespace, {
      ...namespaceMetadata({
        key: identity.key,
        status: "ready",
        lastResult: "deployed",
        lastDeployedAt: engine.now(),
        image,
        commit: target.commit,
        valuesHash,
        chart: release.chart,
        history: appendOperation(record?.history, { at: engine.now(), operation: "deploy", result: "deployed", commit: target.commit }),
      }).annotations,
      [ANNOTATIONS.lastError]: null,
      [ANNOTATIONS.lastStep]: null,
      [ANNOTATIONS.lastHint]: null,
      [ANNOTATIONS.lastEvidence]: null,
    });
    return { result: "deployed", identity, image, expiresAt, imageReused: reused, helmRevision: release.revision, timings };
  } catch (error) {
    const lost = lock?.signal.aborted ? lock.signal.reason : undefined;
    const failure = asSandboxError(lost ?? error, identity.key, step);
    // A run that lost the lock no longer speaks for the sandbox: the one holding it now records its own result.
    if (!lost) await recordFailure(engine, identity, failure, target.commit);
    throw failure;
  } finally {
    await rm(workdir, { recursive: true, force: true });
    await lock?.release().catch((error) => logger.warn(`could not release the lock of ${identity.key}: ${String(error)}`));
  }
}

/**
 * A chart may ship its CI-mode defaults as values-ci.yaml (the bundled one
 * does): they go first, so the user's values files and the generated one win.
 */
function modeDefaults(settings: Engine["settings"]): string[] {
  const file = join(settings.chart, "values-ci.yaml");
  return settings.mode === "ci" && existsSync(file) ? [file] : [];
}

/** The user's --set and values files may not override what the engine generates (values.ts says why). */
async function checkValues(engine: Engine, options: DeployOptions): Promise<void> {
  const { settings } = engine;
  const files = [];
  for (const file of settings.valuesFiles) {
    let values: unknown;
    try {
      values = parse(await readFile(file, "utf8"), { merge: true });
    } catch (error) {
      const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
      throw new InputError(`${quoteInput(file)} is not readable YAML: ${reason}`, { input: "values" });
    }
    files.push({ name: file, values });
  }
  const engineSetsImage = settings.mode === "ci" && Boolean(settings.imageRepository || options.imageRef);
  for (const warning of checkUserValues({ sets: settings.sets, files, engineSetsImage })) engine.logger.warn(warning);
}

/** Everything that decides what Helm would render, in one digest. */
async function hashDeployInputs(engine: Engine, generated: object): Promise<string> {
  const { settings } = engine;
  const hash = createHash("sha256");
  hash.update(JSON.stringify(generated));
  hash.update(JSON.stringify(settings.sets));
  hash.update(await treeDigest(settings.chart));
  for (const file of settings.valuesFiles) hash.update(await readFile(file));
  return hash.digest("hex").slice(0, 32);
}

async function isUnchanged(
  engine: Engine,
  identity: SandboxIdentity,
  record: SandboxRecord | undefined,
  valuesHash: string,
): Promise<boolean> {
  const why = await changeReason(engine, identity, record, valuesHash);
  if (why) engine.logger.info(`deploying: ${why}`);
  return why === undefined;
}

/** Why a deploy has work to do, or undefined when the sandbox already is what it would make. */
async function changeReason(
  engine: Engine,
  identity: SandboxIdentity,
  record: SandboxRecord | undefined,
  valuesHash: string,
): Promise<string | undefined> {
  if (!record?.valuesHash) return "first deploy";
  if (record.valuesHash !== valuesHash) return "the chart, values or image changed since the last deploy";
  if (record.status !== "ready") return `the last deploy ended ${record.status ?? "unrecorded"}`;
  const release = await engine.helm.status(identity.releaseName, identity.namespace);
  if (release?.status !== "deployed") return `the Helm release is ${release?.status ?? "missing"}`;
  const report = await inspect(engine.kube, identity.namespace);
  if (report.pending.length > 0) return `not everything is ready (${report.pending.join("; ")})`;
  return undefined;
}

/** The failure as the PR comment tells it (message, step, hint, evidence), kept on the namespace for every front door to show. */
async function recordFailure(engine: Engine, identity: SandboxIdentity, failure: SandboxError, commit: string | undefined): Promise<void> {
  try {
    const current = readSandboxRecord((await engine.namespaces.get(identity.namespace)) ?? { name: identity.namespace });
    const at = engine.now();
    await engine.namespaces.annotate(identity.namespace, {
      [ANNOTATIONS.lastHint]: null,
      [ANNOTATIONS.lastEvidence]: null,
      ...namespaceMetadata({
        key: identity.key,
        status: "failed",
        lastResult: "failed",
        lastError: failure.message,
        lastStep: failure.step,
        lastHint: failure.hint,
        lastEvidence: failure.evidence,
        history: appendOperation(current?.history, { at, operation: "deploy", result: "failed", commit, step: failure.step }),
      }).annotations,
    });
  } catch (error) {
    engine.logger.warn(`could not record the failure on ${identity.namespace}: ${String(error)}`);
  }
}

const HINTS: Record<string, string> = {
  values: "remove the value named above from the workflow's set/values inputs (or the CLI's --set/--values)",
  namespace: "check that the kubeconfig may create and patch namespaces (docs/permissions.md)",
  lock: "check that the kubeconfig may create and update Leases (coordination.k8s.io) in the sandbox's namespace",
  image: "check the Dockerfile and the registry credentials; the build log above has the details",
  "build context": "check out the target commit before building",
  capacity: "raise max-sandboxes, or remove sandboxes that are no longer needed",
  "helm upgrade": "fix the chart or values named in the error; the release is left as Helm reported it and the next run recovers it",
  "wait ready": "inspect the pods named above (kubectl -n <namespace> describe pod); the namespace is kept until it expires",
  record: "the sandbox is deployed but its state could not be recorded; re-run to record it",
};

export function asSandboxError(error: unknown, key: string, step: string): SandboxError {
  if (error instanceof SandboxError) return error;
  const hint = HINTS[step];
  if (error instanceof NotReadyError)
    return new SandboxError(error.message, { sandbox: key, step, hint, cause: error, evidence: error.evidence });
  if (error instanceof ToolError)
    return new SandboxError(error.message, { sandbox: key, step, hint, cause: error, evidence: error.tail(30) });
  if (error instanceof LockLostError) {
    const lost =
      "another run may have taken the sandbox over; re-run once it is done (the API server was unreachable or slow if nobody did)";
    return new SandboxError(error.message, { sandbox: key, step, hint: lost, cause: error });
  }
  if (error instanceof LockTimeoutError) {
    const busy = "another run is working on this sandbox; re-run when it has finished, or wait for its lease to expire";
    return new SandboxError(error.message, { sandbox: key, step, hint: busy, cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new SandboxError(message, { sandbox: key, step, hint, cause: error });
}
