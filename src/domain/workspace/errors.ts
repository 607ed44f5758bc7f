// The errors the Agent API returns on purpose. The contract (notes/agent-api.md
// §1) fixes their codes and HTTP statuses; a front door turns one into
// `{"error":{"code","message"}}` and anything else into a 500.

export type WorkspaceErrorCode =
  | "VOLUME_NOT_FOUND"
  | "ARCHIVE_NOT_FOUND"
  | "CONTAINER_RUNNING"
  | "INSTANCE_NOT_FOUND"
  | "VOLUME_IN_USE"
  | "JOB_FAILED"
  | "INTERNAL_ERROR";

const STATUS: Record<WorkspaceErrorCode, number> = {
  VOLUME_NOT_FOUND: 404,
  ARCHIVE_NOT_FOUND: 404,
  INSTANCE_NOT_FOUND: 404,
  CONTAINER_RUNNING: 409,
  VOLUME_IN_USE: 409,
  JOB_FAILED: 500,
  INTERNAL_ERROR: 500,
};

export class WorkspaceError extends Error {
  readonly status: number;

  constructor(
    readonly code: WorkspaceErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "WorkspaceError";
    this.status = STATUS[code];
  }
}

/**
 * Input that cannot become a Kubernetes name or an S3 key. The contract
 * answers bad bodies with 422; a bad path parameter gets the same status so
 * a hostile id never reaches the cluster or the store.
 */
export class WorkspaceInputError extends Error {
  readonly status = 422;

  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = "WorkspaceInputError";
  }
}
