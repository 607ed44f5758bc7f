// A real headless Chromium for tests: Debian's `chromium` driven by
// playwright-core. When either is missing the caller skips with the reason
// this returns; nothing is downloaded. Only the few calls the tests use are
// typed here, so the suite type-checks on a machine without the package.

export interface BrowserResponse {
  status(): number;
  headers(): Record<string, string>;
}

export interface Locator {
  nth(index: number): Locator;
  first(): Locator;
  locator(selector: string): Locator;
  innerText(): Promise<string>;
  getAttribute(name: string): Promise<string | null>;
  waitFor(options?: { state?: "attached" | "detached" | "visible" | "hidden"; timeout?: number }): Promise<void>;
  count(): Promise<number>;
  allTextContents(): Promise<string[]>;
  hover(): Promise<void>;
}

export interface Page {
  goto(url: string): Promise<BrowserResponse | null>;
  evaluate<T>(fn: () => T): Promise<T>;
  locator(selector: string): Locator;
  waitForSelector(selector: string, options?: { timeout?: number }): Promise<unknown>;
  on(event: "pageerror", listener: (error: Error) => void): void;
  on(event: "console", listener: (message: { type(): string; text(): string }) => void): void;
  on(event: "response", listener: (response: BrowserResponse & { url(): string }) => void): void;
  content(): Promise<string>;
  screenshot(options: { path: string; type: "png" }): Promise<unknown>;
}

export interface BrowserContext {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

export interface Browser {
  newContext(options?: {
    httpCredentials?: { username: string; password: string };
    viewport?: { width: number; height: number };
  }): Promise<BrowserContext>;
  close(): Promise<void>;
}

interface Playwright {
  chromium: { launch(options: { executablePath: string; args?: string[] }): Promise<Browser> };
}

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Chromium launched headless, or why it cannot be. */
export async function launchChromium(): Promise<{ browser: Browser } | { why: string }> {
  const { existsSync } = await import("node:fs");
  if (!existsSync(CHROMIUM)) return { why: `no Chromium at ${CHROMIUM} (Debian: apt-get install chromium; or set CHROMIUM_PATH)` };
  // A specifier the type checker does not resolve: the package is optional.
  const name: string = "playwright-core";
  let playwright: Playwright;
  try {
    playwright = (await import(name)) as Playwright;
  } catch (error) {
    return { why: `playwright-core is not installed (${error instanceof Error ? error.message.split("\n")[0] : String(error)})` };
  }
  // --no-sandbox: the test runs as root in a container, where Chromium's own sandbox cannot start.
  const browser = await playwright.chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  return { browser };
}
