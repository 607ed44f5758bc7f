// The controller's dashboard in a real headless Chromium (Debian's
// `chromium`, driven by playwright-core): `k8s-sandbox serve` as a real
// process on loopback against the ground's API server, sandboxes deployed
// and destroyed by the engine on kwok's node. Proves: nothing without the
// credential (401; 404 when none is configured), the rows' fields, a new
// sandbox appearing and a destroyed one vanishing without a reload (the
// controller's watch pushes them), a failed deploy showing the evidence the
// PR comment shows, hostile branch text shown as text, never run; an API
// server outage shown on the page and repaired by a fresh list; pages that
// open read the controller's one watch and list nothing themselves.
// Set DASHBOARD_SCREENSHOT=docs/images/dashboard.png to refresh the docs' picture.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../../src/adapters/kubernetes/client.js";
import { MemoryLogger } from "../../src/adapters/logger.js";
import { SandboxError } from "../../src/domain/errors.js";
import { sandboxIdentity } from "../../src/domain/identity.js";
import { deploy } from "../../src/operations/deploy.js";
import { destroy } from "../../src/operations/destroy.js";
import { extend } from "../../src/operations/extend.js";
import type { Engine, EngineSettings } from "../../src/operations/engine.js";
import { createEngine } from "../../src/wiring/create-engine.js";
import { type Browser, launchChromium, type Page } from "../support/browser.js";
import { type ControllerProcess, serveEnv, startControllerProcess } from "../support/controller.js";
import { groundEnv, kubectl, namespaceGone, uniqueName } from "../support/cluster.js";
import { groundSettings } from "../support/engine.js";
import { type FlakyApi, startFlakyApi } from "../support/flaky-api.js";
import { type GitHubStandin, startGitHubStandin } from "../support/github/standin.js";

const REPO = "acme/shop";
const PREFIX = `${uniqueName("hd")}-`;
const CONTROLLER_NS = uniqueName("hd-system");
const BASE_DOMAIN = "hd.example.test";
const TOKEN = randomBytes(24).toString("hex");
const SECRET = randomBytes(24).toString("hex");
const GITHUB_TOKEN = `ghs_${randomBytes(18).toString("hex")}`;
const sha = () => randomBytes(20).toString("hex");

const SHOWN = { branch: "feature/hd-shown", commit: sha(), pullRequest: 12 };
// Branch names may hold < > " = ( ) and /: all of these are legal in git.
const HOSTILE = {
  branch: `hd/<script>window.__pwned=1</script>"onmouseover="window.__pwned=2"<img src=x onerror=window.__pwned=3>`,
  commit: sha(),
};
const BROKEN = { branch: "feature/hd-broken", commit: sha() };
const DURING_OUTAGE = { branch: "feature/hd-outage", commit: sha() };

let why = "";
let browser: Browser | undefined;
let github: GitHubStandin;
let controller: ControllerProcess;
let env: Record<string, string>;
let page: Page;
// The controller reaches the API server through this proxy: it counts requests, and can go dark.
let api: FlakyApi;
let work = "";

function engine(extra: Partial<EngineSettings> = {}): Engine {
  const settings = groundSettings(PREFIX, BASE_DOMAIN, { repository: REPO, ttlMs: 24 * 3_600_000, ...extra });
  return createEngine({ settings, logger: new MemoryLogger(), holder: "dashboard-test" });
}

function keyOf(branch: string): string {
  return sandboxIdentity({ branch, pullRequest: null, fork: false, prefix: PREFIX, baseDomain: BASE_DOMAIN }).key;
}

/** The row of a sandbox on the open page. */
const row = (key: string) => page.locator(`tbody[data-key="${key}"]`);

beforeAll(async () => {
  const launched = await launchChromium();
  if ("why" in launched) {
    why = launched.why;
    return;
  }
  browser = launched.browser;
  github = await startGitHubStandin({ repository: REPO, token: GITHUB_TOKEN, actor: "preview-bot" });
  await kubectl(["create", "namespace", CONTROLLER_NS]);
  api = await startFlakyApi(groundEnv("KUBECONFIG"));
  work = await mkdtemp(join(tmpdir(), "hd-"));
  const kubeconfigPath = join(work, "kubeconfig");
  await writeFile(kubeconfigPath, api.kubeconfig, { mode: 0o600 });
  env = serveEnv({
    KUBECONFIG: kubeconfigPath,
    GITHUB_WEBHOOK_SECRET: SECRET,
    GITHUB_TOKEN,
    GITHUB_API_URL: github.url,
    K8S_SANDBOX_DASHBOARD_TOKEN: TOKEN,
  });
  controller = await startControllerProcess(["--namespace", CONTROLLER_NS, "--prefix", PREFIX, "--reconcile-interval", "0"], env);
});

afterAll(async () => {
  await browser?.close();
  await controller?.stop().catch(() => undefined);
  await github?.close();
  await api?.close();
  if (work) await rm(work, { recursive: true, force: true });
  if (!browser) return;
  for (const { branch } of [SHOWN, HOSTILE, BROKEN, DURING_OUTAGE]) {
    await kubectl(["delete", "namespace", `${PREFIX}${keyOf(branch)}`, "--wait=false"], { reject: false });
  }
  await kubectl(["delete", "namespace", CONTROLLER_NS, "--wait=false"], { reject: false });
});

describe("the controller's dashboard in Chromium", () => {
  it("without the credential: 401 in the browser, and 404 saying how to turn it on when none is configured", async (ctx) => {
    ctx.skip(!browser, why);
    // A headless browser cannot show the sign-in prompt: it shows the 401's text, or (with credentials it was given) gives up.
    for (const credentials of [undefined, { username: "admin", password: `${TOKEN}x` }, { username: "root", password: TOKEN }]) {
      const context = await (browser as Browser).newContext(credentials ? { httpCredentials: credentials } : {});
      const attempt = await context.newPage();
      const answers: { status: number; challenge?: string }[] = [];
      attempt.on("response", (response) => answers.push({ status: response.status(), challenge: response.headers()["www-authenticate"] }));
      const failure = await attempt.goto(controller.url).then(
        () => "",
        (error: unknown) => String(error),
      );
      expect(answers[0]).toEqual({ status: 401, challenge: 'Basic realm="k8s-sandbox dashboard", charset="UTF-8"' });
      expect(answers.every((a) => a.status === 401)).toBe(true);
      if (failure) expect(failure).toContain("ERR_INVALID_AUTH_CREDENTIALS");
      else expect(await attempt.content()).toContain("sign in");
      expect(await attempt.locator("table").count()).toBe(0);
      await context.close();
    }

    const { K8S_SANDBOX_DASHBOARD_TOKEN: _token, ...withoutToken } = env;
    const closed = await startControllerProcess(
      ["--namespace", CONTROLLER_NS, "--prefix", PREFIX, "--reconcile-interval", "0"],
      withoutToken,
    );
    try {
      const response = await fetch(closed.url, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(response.status).toBe(404);
      expect(await response.text()).toContain("K8S_SANDBOX_DASHBOARD_TOKEN");
    } finally {
      await closed.stop();
    }
  });

  it("shows each sandbox with repository, branch and PR linked, URL, state, commit, age, expiry and last result", async (ctx) => {
    ctx.skip(!browser, why);
    await deploy(engine(), { branch: SHOWN.branch, pullRequest: SHOWN.pullRequest, commit: SHOWN.commit });
    const context = await (browser as Browser).newContext({
      httpCredentials: { username: "admin", password: TOKEN },
      viewport: { width: 1200, height: 700 },
    });
    page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    expect((await page.goto(controller.url))?.status()).toBe(200);
    await page.waitForSelector("html[data-live=true]");
    const key = keyOf(SHOWN.branch);
    const shown = row(key);
    await shown.waitFor();
    const cells = shown.locator("tr.sandbox > td");
    expect(await cells.nth(0).innerText()).toContain(`${PREFIX}${key}`);
    expect(await cells.nth(1).locator("a").getAttribute("href")).toBe(`${github.url}/${REPO}`);
    expect(await cells.nth(2).locator("a").first().innerText()).toBe(SHOWN.branch);
    expect(await cells.nth(2).locator("a").first().getAttribute("href")).toBe(`${github.url}/${REPO}/tree/feature/hd-shown`);
    expect(await cells.nth(2).locator("a").nth(1).innerText()).toBe(`#${SHOWN.pullRequest}`);
    expect(await cells.nth(2).locator("a").nth(1).getAttribute("href")).toBe(`${github.url}/${REPO}/pull/${SHOWN.pullRequest}`);
    expect(await cells.nth(3).innerText()).toBe(SHOWN.commit.slice(0, 12));
    expect(await cells.nth(3).locator("a").getAttribute("href")).toBe(`${github.url}/${REPO}/commit/${SHOWN.commit}`);
    expect(await cells.nth(4).innerText()).toBe("ready");
    expect(await cells.nth(5).innerText()).toBe(`https://${key}.${BASE_DOMAIN}/`);
    expect(await cells.nth(6).innerText()).toMatch(/^(just now|\d+[dhms].*)$/);
    expect(await cells.nth(7).innerText()).toMatch(/^in 2[34]h|^in 1d/);
    expect(await cells.nth(8).innerText()).toBe("deployed");
    expect(await shown.locator("details.ops summary").innerText()).toMatch(/^Recent operations \(1\): deploy → deployed/);
    expect(errors, "the page ran without errors (a CSP violation is one)").toEqual([]);
  });

  it("an extend changes the expiry and the recent operations, live", async (ctx) => {
    ctx.skip(!browser, why);
    const key = keyOf(SHOWN.branch);
    await extend(engine(), key, 72 * 3_600_000, "octocat");
    const shown = row(key);
    await expect
      .poll(() => shown.locator("details.ops summary").innerText(), { timeout: 30_000 })
      .toMatch(/^Recent operations \(2\): extend → extended/);
    // Extend adds to the current expiry (a day after the deploy): four days from now.
    expect(await shown.locator("tr.sandbox > td").nth(7).innerText()).toMatch(/^in (4d|3d23h)/);
    expect(await shown.locator("tr.sandbox > td").nth(8).innerText()).toBe("extended");
    // The list is inside a closed <details>: its text, not its rendering.
    const operations = await shown.locator("details.ops li").allTextContents();
    expect(operations).toHaveLength(2);
    expect(operations[0]).toMatch(/^(now|\d+m ago) · extend → extended · by octocat$/);
    expect(operations[1]).toMatch(new RegExp(`^(now|\\d+m ago) · deploy → deployed · ${SHOWN.commit.slice(0, 12)}$`));
  });

  it("a new sandbox appears without a reload, and hostile branch text is shown as text and never runs", async (ctx) => {
    ctx.skip(!browser, why);
    // Set on this document: a reload would lose it.
    await page.evaluate(() => {
      (globalThis as unknown as { __sameDocument: boolean }).__sameDocument = true;
    });
    await deploy(engine(), { branch: HOSTILE.branch, commit: HOSTILE.commit });
    const hostile = row(keyOf(HOSTILE.branch));
    await hostile.waitFor({ timeout: 60_000 });
    expect(await page.evaluate(() => (globalThis as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
    const branchCell = hostile.locator("tr.sandbox > td").nth(2);
    expect(await branchCell.innerText()).toBe(HOSTILE.branch);
    // Nothing of it became markup: no script, no img, no handler attribute anywhere on the page.
    expect(await page.locator("tbody script, tbody img").count()).toBe(0);
    expect(await page.locator("[onmouseover], [onerror]").count()).toBe(0);
    await branchCell.hover();
    expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  });

  it("a failed deploy shows the evidence the PR comment shows", async (ctx) => {
    ctx.skip(!browser, why);
    const failure = await deploy(engine({ sets: ["odoo.workers=notanumber"] }), { branch: BROKEN.branch, commit: BROKEN.commit }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(SandboxError);
    const { step, message, evidence } = failure as SandboxError;
    expect(step).toBe("helm upgrade");
    expect(evidence).toBeTruthy();
    const broken = row(keyOf(BROKEN.branch));
    await broken.locator("[data-role=failure]").waitFor({ timeout: 60_000 });
    expect(await broken.locator("tr.sandbox > td").nth(4).innerText()).toBe("failed");
    const shown = await broken.locator("[data-role=failure]").innerText();
    expect(shown).toContain("Failed at step helm upgrade");
    expect(shown).toContain(message.replace(/[\r\n]+/g, " ").slice(0, 200));
    expect(shown).toContain("What to do:");
    // The evidence's last line (Helm's own error) is on the page, in the open Evidence block.
    const lastLine = (evidence ?? "").trim().split("\n").at(-1) ?? "";
    expect(lastLine).not.toBe("");
    expect(await broken.locator("[data-role=failure] pre").innerText()).toContain(lastLine.trim());
    expect(await broken.locator("[data-role=failure] details").getAttribute("open")).not.toBeNull();

    const picture = process.env.DASHBOARD_SCREENSHOT;
    if (picture) {
      await mkdir(dirname(picture), { recursive: true });
      await page.screenshot({ path: picture, type: "png" });
    }
  });

  it("while the API server is gone the page says it is not live; afterwards what changed meanwhile appears", async (ctx) => {
    ctx.skip(!browser, why);
    // Any request to this made-up path starts the outage: every open connection (the watch) is cut, new ones refused.
    api.outageOn((_method, path) => path.startsWith("/api/v1/namespaces/hd-outage-trigger"), 15_000);
    await connect({ kubeconfigContent: api.kubeconfig })
      .core.readNamespace({ name: "hd-outage-trigger" })
      .catch(() => undefined);
    await page.waitForSelector("#status.problem", { timeout: 30_000 });
    expect(await page.locator("#status").innerText()).toMatch(/not live: the watch on sandbox namespaces failed/);
    // Deployed beside the proxy, straight to the API server: the controller cannot see it until it lists again.
    await deploy(engine(), { branch: DURING_OUTAGE.branch, commit: DURING_OUTAGE.commit });
    await row(keyOf(DURING_OUTAGE.branch)).waitFor({ timeout: 90_000 });
    await page.waitForSelector("#status:not(.problem)", { timeout: 30_000 });
    expect(await page.locator("#status").innerText()).toBe("4 sandboxes · live");
    expect(await page.evaluate(() => (globalThis as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
  });

  it("a destroyed sandbox disappears without a reload", async (ctx) => {
    ctx.skip(!browser, why);
    const key = keyOf(SHOWN.branch);
    await destroy(engine(), key);
    await row(key).waitFor({ state: "detached", timeout: 120_000 });
    await namespaceGone(`${PREFIX}${key}`, 120_000);
    expect(await page.evaluate(() => (globalThis as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
    expect(await page.locator("#status").innerText()).toBe("3 sandboxes · live");
  });

  it("pages read the controller's one watch: three more pages opened list nothing from the API server", async (ctx) => {
    ctx.skip(!browser, why);
    const lists = () => api.forwarded.filter((line) => line.startsWith("GET /api/v1/namespaces?") && !line.includes("watch=true")).length;
    const before = lists();
    const context = await (browser as Browser).newContext({ httpCredentials: { username: "admin", password: TOKEN } });
    for (let i = 0; i < 3; i++) {
      const another = await context.newPage();
      await another.goto(controller.url);
      await another.waitForSelector("html[data-live=true]");
      expect(await another.locator("tbody").count()).toBe(3);
    }
    await context.close();
    expect(lists()).toBe(before);
    // One list at start and one after the outage (watches that merely ended are resumed, not listed again).
    expect(before).toBeGreaterThanOrEqual(2);
    expect(before).toBeLessThanOrEqual(3);
    expect(api.forwarded.some((line) => line.startsWith("GET /api/v1/namespaces?") && line.includes("watch=true"))).toBe(true);
  });

  it("its log shows no error, and the token never reached it", async (ctx) => {
    ctx.skip(!browser, why);
    const log = controller.logs.join("\n");
    expect(log).toContain("dashboard at / (authenticated)");
    expect(log).not.toContain(TOKEN);
    expect(log).not.toMatch(/"level":(50|"error")/);
  });
});
