// The Kubernetes Job that runs an addon's Odoo tests inside a sandbox, built
// from the sandbox's own Odoo Deployment so it runs the same image with the
// same odoo.conf, environment, addons (the mounted work tree in local mode)
// and security context. Pure: the operation reads the Deployment and creates
// what this returns.
import type { V1Container, V1Deployment, V1Job, V1PodSpec, V1Volume } from "@kubernetes/client-node";
import { InputError, quoteInput } from "./errors.js";

export const TEST_RUN_LABEL = "k8s-dev-sandbox/test-run";
export const TEST_COMPONENT = "odoo-test";
/** The HTTP port of the test process: Odoo opens one for HttpCase even with --stop-after-init; not the server's 8069. */
export const TEST_HTTP_PORT = 8169;

export interface TestJobRequest {
  /** Short, unique per run: names the Job and the throwaway database. */
  runId: string;
  modules: string[];
  /** Odoo's --test-tags, as given ([-][tag][/module][:class][.method], comma separated). */
  tags?: string;
  /** The sandbox's database; the test database is `<database>_test_<runId>`. */
  database: string;
  deadlineSeconds: number;
  /** How long Kubernetes keeps the finished Job if the engine could not delete it. */
  ttlSecondsAfterFinished?: number;
}

const MODULE = /^[a-z0-9_]+$/;
// Odoo's tag spec characters; no spaces, quotes or shell syntax (the value
// reaches Odoo as one argv element anyway, this keeps messages readable).
const TAGS = /^[\w\-+/:.,*[\]=]*$/;
const RUN_ID = /^[a-z0-9]{4,16}$/;

export function validateModules(text: string | undefined, input = "modules"): string[] {
  const modules = (text ?? "")
    .split(/[\s,]+/)
    .map((m) => m.trim())
    .filter(Boolean);
  if (!modules.length) throw new InputError("name the addons to test, e.g. --modules my_addon,other_addon", { input });
  for (const m of modules) {
    if (!MODULE.test(m)) throw new InputError(`${quoteInput(m)} is not an Odoo module name (lower case letters, digits, _)`, { input });
  }
  return [...new Set(modules)];
}

export function validateTags(text: string | undefined, input = "tags"): string | undefined {
  const tags = text?.trim();
  if (!tags) return undefined;
  if (tags.length > 500 || !TAGS.test(tags)) {
    throw new InputError(`${quoteInput(tags)} is not an Odoo --test-tags spec ([-][tag][/module][:class][.method], comma separated)`, {
      input,
    });
  }
  return tags;
}

export function testDatabaseName(database: string, runId: string): string {
  // PostgreSQL cuts identifiers at 63 bytes: cut the sandbox's name, never the run id.
  const suffix = `_test_${runId}`;
  return `${database.slice(0, 63 - suffix.length)}${suffix}`;
}

/** What the test script logs when PostgreSQL never answered its pod (the parser reports it as such). */
export const DB_UNREACHABLE = "PostgreSQL unreachable";

/**
 * Runs Odoo's tests on a fresh database and drops it afterwards, also when
 * the Job's deadline stops it (SIGTERM). The names come from the
 * environment, never pasted into the script. Connection settings: the same
 * libpq PG* variables the chart's init step uses.
 */
export const TEST_SCRIPT = `set -uo pipefail
log() { printf '[k8s-sandbox test] %s\\n' "$*" >&2; }
drop() {
  psql -X -q -v ON_ERROR_STOP=1 -d postgres -v db="$TEST_DATABASE" <<<'DROP DATABASE IF EXISTS :"db" WITH (FORCE);' \\
    && log "dropped database $TEST_DATABASE" || log "could not drop database $TEST_DATABASE"
}
stop() { log "stopped (deadline): dropping the test database"; kill -TERM "$pid" 2>/dev/null; wait "$pid"; drop; exit 124; }
# A NetworkPolicy controller programs a new pod's rules a moment after it
# starts (kube-router refuses connections until then; seen under load):
# wait until PostgreSQL answers this pod before Odoo's one attempt.
for attempt in $(seq 1 60); do
  pg_isready -q -d postgres -t 2 && break
  if [[ $attempt -eq 60 ]]; then
    log "${DB_UNREACHABLE}: \${PGHOST:-localhost}:\${PGPORT:-5432} did not accept connections from this pod for 60 s"
    exit 3
  fi
  sleep 1
done
args=(--config="$ODOO_RC" --database="$TEST_DATABASE" --init="$TEST_MODULES" --test-enable --stop-after-init
  --db-filter="$TEST_DB_FILTER" --workers=0 --max-cron-threads=0 --http-port="$TEST_HTTP_PORT")
[[ -n \${TEST_TAGS:-} ]] && args+=(--test-tags="$TEST_TAGS")
log "odoo \${args[*]}"
odoo "\${args[@]}" &
pid=$!
trap stop TERM INT
wait "$pid"
rc=$?
trap - TERM INT
drop
log "odoo exited with $rc"
exit "$rc"
`;

export function buildTestJob(deployment: V1Deployment, request: TestJobRequest): V1Job {
  if (!RUN_ID.test(request.runId)) throw new InputError(`${quoteInput(request.runId)} is not a run id`, { input: "runId" });
  const template = deployment.spec?.template;
  const pod = template?.spec;
  const odoo = pod?.containers.find((c) => c.name === "odoo") ?? pod?.containers[0];
  if (!template || !pod || !odoo) throw new Error(`deployment ${deployment.metadata?.name} has no Odoo container to copy`);
  const name = `odoo-test-${request.runId}`;
  const database = testDatabaseName(request.database, request.runId);
  const labels: Record<string, string> = {
    // The template's labels keep the postgres-client label (NetworkPolicy)
    // and the release's selector labels (DNS egress); the component changes
    // so neither the Service nor the Deployment's selector matches this pod.
    ...(template.metadata?.labels ?? {}),
    "app.kubernetes.io/component": TEST_COMPONENT,
    "app.kubernetes.io/managed-by": "k8s-dev-sandbox",
    [TEST_RUN_LABEL]: request.runId,
  };
  const container: V1Container = {
    name: "odoo-test",
    image: odoo.image,
    imagePullPolicy: odoo.imagePullPolicy,
    command: ["/bin/bash", "-c", TEST_SCRIPT, "odoo-test"],
    env: [
      ...(odoo.env ?? []),
      { name: "TEST_DATABASE", value: database },
      { name: "TEST_MODULES", value: request.modules.join(",") },
      { name: "TEST_TAGS", value: request.tags ?? "" },
      // odoo.conf's dbfilter names the sandbox's database: HttpCase requests
      // carry the test database in their session, which that filter would refuse.
      { name: "TEST_DB_FILTER", value: `^${database.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&")}$` },
      { name: "TEST_HTTP_PORT", value: String(TEST_HTTP_PORT) },
    ],
    envFrom: odoo.envFrom,
    resources: odoo.resources,
    securityContext: odoo.securityContext,
    volumeMounts: odoo.volumeMounts,
  };
  const spec: V1PodSpec = {
    ...pod,
    restartPolicy: "Never",
    // The sandbox's own init step builds *its* database; other init
    // containers (configuration) are kept.
    initContainers: (pod.initContainers ?? []).filter((c) => c.name !== "init-db"),
    containers: [container],
    volumes: (pod.volumes ?? []).map(privateDataVolume),
  };
  if (!spec.initContainers?.length) delete spec.initContainers;
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name,
      namespace: deployment.metadata?.namespace,
      labels: { ...labels },
      annotations: { "k8s-dev-sandbox/test-database": database, "k8s-dev-sandbox/test-modules": request.modules.join(",") },
    },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: request.deadlineSeconds,
      ttlSecondsAfterFinished: request.ttlSecondsAfterFinished ?? 3600,
      template: { metadata: { labels, annotations: { "k8s-dev-sandbox/test-database": database } }, spec },
    },
  };
}

/**
 * The sandbox's data volume is its filestore on a ReadWriteOnce claim: a test
 * run gets an empty one of its own, so it neither waits for the claim on
 * another node nor writes a test database's files into the sandbox's.
 */
function privateDataVolume(volume: V1Volume): V1Volume {
  if (volume.name !== "data" || !volume.persistentVolumeClaim) return volume;
  return { name: "data", emptyDir: {} };
}
