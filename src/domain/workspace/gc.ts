// Archive garbage collection (notes/agent-api.md §5), pure. The caller names
// what must survive; the rule deletes only old archive directories:
// - protected: the directory of every `archive_keys` entry (the archive a
//   restore is reading) and `<ws>/<op>/` of every protected pair (an archive
//   being written: its tar may not even exist yet);
// - per workspace, archive directories (those holding `<suffix>`; the .meta
//   is not needed, so a half-written newest archive still counts) are ranked
//   newest first by the tar's LastModified; the newest `retention` stay;
// - an older, unprotected archive directory is purged: every object below it.
// Objects outside archive directories (`.restore_marker`, `.restore_error`,
// `.volume_origin`, an `.error` of an archive that never wrote its tar) are
// never touched: deleting them would erase what observe reports.
import { type Naming, parseArchiveKey, RESTORE_MARKER } from "./names.js";
import type { StoredObject } from "./observe.js";

export interface GcRequest {
  archiveKeys: string[];
  protectedWorkspaces: Array<[string, string]>;
  retentionCount: number;
}

/** `<ws>/<op>/` of a key below the prefix (the note's "parent dir, P stripped"), or undefined. */
function directoryOf(naming: Naming, key: string): string | undefined {
  const rest = key.startsWith(naming.prefix) ? key.slice(naming.prefix.length) : key;
  const parts = rest.split("/");
  if (parts.length < 3 || !parts[0] || !parts[1]) return undefined;
  return `${parts[0]}/${parts[1]}/`;
}

export function protectedDirectories(naming: Naming, request: GcRequest): Set<string> {
  const dirs = new Set<string>();
  for (const key of request.archiveKeys) {
    const dir = directoryOf(naming, key);
    if (dir) dirs.add(dir);
  }
  for (const [ws, op] of request.protectedWorkspaces) dirs.add(`${ws}/${op}/`);
  return dirs;
}

/** The keys GC deletes, sorted. */
export function selectGarbage(naming: Naming, objects: StoredObject[], request: GcRequest): string[] {
  const keep = protectedDirectories(naming, request);
  const archivesByWs = new Map<string, StoredObject[]>();
  for (const o of objects) {
    const parts = parseArchiveKey(naming, o.key);
    if (!parts) continue;
    const list = archivesByWs.get(parts.workspaceId) ?? [];
    list.push(o);
    archivesByWs.set(parts.workspaceId, list);
  }
  const purge = new Set<string>();
  for (const archives of archivesByWs.values()) {
    if (archives.length <= request.retentionCount) continue;
    archives.sort((a, b) => b.lastModified.getTime() - a.lastModified.getTime() || (a.key < b.key ? 1 : -1));
    for (const old of archives.slice(request.retentionCount)) {
      const dir = directoryOf(naming, old.key);
      if (dir && !keep.has(dir)) purge.add(dir);
    }
  }
  return objects
    .filter((o) => {
      const dir = directoryOf(naming, o.key);
      return o.key.startsWith(naming.prefix) && dir !== undefined && purge.has(dir) && !o.key.endsWith(`/${RESTORE_MARKER}`);
    })
    .map((o) => o.key)
    .sort();
}
