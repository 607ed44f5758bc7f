// The routes of notes/agent-api.md §2 and the earlier family of §8, each a
// check of its input and one call of the same operations.
import type { FastifyInstance } from "fastify";
import { archiveKey, validateArchiveKey, validateImage, validateOpId, validateWorkspaceId } from "../domain/workspace/names.js";
import type { WorkspaceOperations } from "../operations/workspace/operations.js";
import { schemas } from "./schemas.js";

const W = "/api/v1/workspaces";
const V1 = "/api/v1";

type IdParams = { Params: { workspace_id: string } };

export function registerRoutes(app: FastifyInstance, ops: WorkspaceOperations, options: { jobWaitMs: number }): void {
  const naming = ops.settings.naming;
  const id = (params: { workspace_id: string }) => validateWorkspaceId(params.workspace_id);

  app.get(W, { schema: schemas.observe }, async () => ({ workspaces: await ops.observe() }));

  app.post<IdParams>(`${W}/:workspace_id/provision`, { schema: schemas.provision }, async (request, reply) => {
    return reply.code(201).send(await ops.provision(id(request.params)));
  });

  app.post<IdParams & { Body?: { image?: string | null } }>(`${W}/:workspace_id/start`, { schema: schemas.start }, async (request) => {
    const ws = id(request.params);
    const image = request.body?.image;
    return ops.start(ws, image === undefined || image === null ? null : validateImage(image));
  });

  app.post<IdParams>(`${W}/:workspace_id/stop`, { schema: schemas.stop }, async (request) => ops.stop(id(request.params)));

  app.delete<IdParams>(`${W}/:workspace_id`, { schema: schemas.delete }, async (request) => ops.delete(id(request.params)));

  app.post<IdParams & { Body: { archive_op_id: string } }>(`${W}/:workspace_id/archive`, { schema: schemas.archive }, async (request) => {
    const ws = id(request.params);
    return ops.archive(ws, validateOpId(request.body.archive_op_id, "archive_op_id"));
  });

  app.post<IdParams & { Body: { archive_key: string; restore_op_id: string } }>(
    `${W}/:workspace_id/restore`,
    { schema: schemas.restore },
    async (request) => {
      const ws = id(request.params);
      const op = validateOpId(request.body.restore_op_id, "restore_op_id");
      return ops.restore(ws, validateArchiveKey(naming, request.body.archive_key), op);
    },
  );

  app.get<IdParams>(`${W}/:workspace_id/upstream`, { schema: schemas.upstream }, async (request) => ops.upstream(id(request.params)));

  app.post<{ Body: { archive_keys: string[]; protected_workspaces: string[][]; retention_count: number } }>(
    `${W}/gc`,
    { schema: schemas.gc },
    async (request) => {
      const { archive_keys, protected_workspaces, retention_count } = request.body;
      // Protection entries only ever keep objects, so they are not held to the id rules; they never reach a name.
      return ops.gc({
        archiveKeys: archive_keys,
        protectedWorkspaces: protected_workspaces.map(([ws = "", op = ""]) => [ws, op] as [string, string]),
        retentionCount: retention_count,
      });
    },
  );

  app.delete<{ Querystring: { archive_key: string } }>(`${W}/archives`, { schema: schemas.deleteArchive }, async (request) =>
    ops.deleteArchive(validateArchiveKey(naming, request.query.archive_key)),
  );

  // --- the earlier route family (§8) --------------------------------------

  app.get(`${V1}/instances`, { schema: schemas.listInstances }, async () => ({
    instances: (await ops.observe())
      .filter((w) => w.container)
      .map((w) => ({ workspace_id: w.workspace_id, running: w.container?.running ?? false, healthy: w.container?.healthy ?? false })),
  }));

  app.post<IdParams & { Body?: { image_ref?: string | null } }>(
    `${V1}/instances/:workspace_id/start`,
    { schema: schemas.startInstance },
    async (request) => {
      const ws = id(request.params);
      const image = request.body?.image_ref;
      await ops.start(ws, image === undefined || image === null ? null : validateImage(image, "image_ref"));
      return { status: "started", workspace_id: ws };
    },
  );

  app.delete<IdParams>(`${V1}/instances/:workspace_id`, { schema: schemas.deleteInstance }, async (request) => {
    const ws = id(request.params);
    await ops.stop(ws);
    return { status: "deleted", workspace_id: ws };
  });

  app.get<IdParams>(`${V1}/instances/:workspace_id/status`, { schema: schemas.instanceStatus }, async (request) => {
    const ws = id(request.params);
    const record = (await ops.observe()).find((w) => w.workspace_id === ws);
    const c = record?.container;
    if (!c)
      return { exists: false, running: false, healthy: false, reason: "NotFound", message: `workspace ${ws} has no running instance` };
    const reason = c.healthy ? "Healthy" : c.running ? "Starting" : "Pending";
    return { exists: true, running: c.running, healthy: c.healthy, reason, message: "" };
  });

  app.get<IdParams>(`${V1}/instances/:workspace_id/upstream`, { schema: schemas.instanceUpstream }, async (request) =>
    ops.upstream(id(request.params)),
  );

  app.get(`${V1}/volumes`, { schema: schemas.listVolumes }, async () => ({
    volumes: (await ops.observe()).filter((w) => w.volume).map((w) => ({ workspace_id: w.workspace_id, exists: true })),
  }));

  app.post<IdParams>(`${V1}/volumes/:workspace_id`, { schema: schemas.createVolume }, async (request, reply) => {
    const done = await ops.provision(id(request.params));
    return reply.code(201).send({ status: done.status === "completed" ? "created" : "already_exists", workspace_id: done.workspace_id });
  });

  app.delete<IdParams>(`${V1}/volumes/:workspace_id`, { schema: schemas.deleteVolume }, async (request) => {
    const ws = id(request.params);
    await ops.deleteVolume(ws);
    return { status: "deleted", workspace_id: ws };
  });

  app.get<IdParams>(`${V1}/volumes/:workspace_id/exists`, { schema: schemas.volumeExists }, async (request) => ({
    exists: await ops.volumeExists(id(request.params)),
  }));

  for (const type of ["archive", "restore"] as const) {
    app.post<{ Body: { workspace_id: string; op_id: string } }>(`${V1}/jobs/${type}`, { schema: schemas.job }, async (request) => {
      const ws = validateWorkspaceId(request.body.workspace_id);
      const op = validateOpId(request.body.op_id, "op_id");
      // The earlier API restored a workspace from its own archive of that op.
      return ops.runJobAndWait({ type, ws, op, archiveKey: archiveKey(naming, ws, op) }, options.jobWaitMs);
    });
  }

  app.post<{ Body: { protected: Array<{ workspace_id: string; op_id: string }> } }>(
    `${V1}/storage/gc`,
    { schema: schemas.storageGc },
    async (request) =>
      ops.gc({
        archiveKeys: [],
        protectedWorkspaces: request.body.protected.map((p) => [p.workspace_id, p.op_id] as [string, string]),
        retentionCount: 3,
      }),
  );
}
