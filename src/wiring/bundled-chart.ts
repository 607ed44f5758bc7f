// Where the chart shipped with this tool sits: next to dist/ when bundled,
// at the repository root when run from source.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export function bundledChartDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, "..", "charts", "odoo-dev-sandbox"), join(here, "..", "..", "charts", "odoo-dev-sandbox")];
  return candidates.find((c) => existsSync(join(c, "Chart.yaml"))) ?? (candidates[0] as string);
}
