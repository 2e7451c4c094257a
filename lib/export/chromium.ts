import { existsSync } from "node:fs";

/** Flags verified on Debian's chromium (docs/stack.md): no GPU, no sandbox, no background traffic. */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const CANDIDATES = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
  "/usr/bin/google-chrome-stable",
];

/**
 * Path of a Chromium binary: env CHROMIUM_PATH, else the usual system locations.
 * Throws an Error saying how to install one when none is found.
 */
export function findChromium(explicit?: string): string {
  const env = Deno.env.get("CHROMIUM_PATH");
  if (explicit ?? env) {
    const p = (explicit ?? env)!;
    if (!existsSync(p)) {
      throw new Error(
        `Chromium not found at ${p} (${explicit ? "executablePath" : "env CHROMIUM_PATH"}); ` +
          "point it to a chromium binary or install one: apt-get install -y chromium",
      );
    }
    return p;
  }
  for (const p of CANDIDATES) if (existsSync(p)) return p;
  throw new Error(
    "No Chromium found (looked at $CHROMIUM_PATH and " + CANDIDATES.join(", ") + "). " +
      "Static figure export (PNG/SVG) needs a headless Chromium: on Debian/Ubuntu run " +
      "`apt-get install -y --no-install-recommends chromium`, or set CHROMIUM_PATH to a " +
      "Chrome/Chromium binary. HTML export works without it.",
  );
}
