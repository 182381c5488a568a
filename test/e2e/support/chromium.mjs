// Headless Chromium for the browser tests, from npm: @sparticuz/chromium ships a
// Brotli-compressed chrome-headless-shell build inside its tarball, plus the
// few libraries it needs beyond glibc (NSS, NSPR, expat: al2023.tar.br) and
// fonts. Nothing is downloaded and no Debian browser package is needed. The
// files are unpacked once into node_modules/.cache/<package>-<version>/ (a
// folder of our own, so another version's /tmp/chromium is never picked up).
// CHROMIUM_PATH still selects another browser.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Unpacks the bundled browser if needed. Returns { executablePath, env, args }
 * for playwright-core's launch options: `env` points the dynamic loader at the
 * bundled libraries and fontconfig at the bundled fonts.
 */
export async function npmChromium() {
  if (process.env.CHROMIUM_PATH) return { executablePath: process.env.CHROMIUM_PATH, env: process.env, args: [] };
  const pkgDir = dirname(dirname(fileURLToPath(import.meta.resolve("@sparticuz/chromium")))); // <pkg>/build/index.js
  const { version } = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
  const cache = join(pkgDir, "..", "..", ".cache", `sparticuz-chromium-${version}`);
  mkdirSync(cache, { recursive: true });
  // The package unpacks into os.tmpdir(): point that at our cache while it runs.
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = cache;
  try {
    const { default: Chromium, inflate } = await import("@sparticuz/chromium");
    const executablePath = await Chromium.executablePath(join(pkgDir, "bin"));
    const libs = await inflate(join(pkgDir, "bin", "al2023.tar.br"));
    if (!executablePath.startsWith(cache) || !existsSync(executablePath)) throw new Error(`@sparticuz/chromium unpacked to ${executablePath}, not ${cache}`);
    // The package's fonts.conf names /tmp/fonts (where it would have unpacked them); ours names the cache,
    // so text renders whether or not some earlier run left fonts in /tmp.
    const fontsDir = join(cache, "fonts");
    const fontsConf = join(cache, "fontconfig");
    mkdirSync(fontsConf, { recursive: true });
    writeFileSync(
      join(fontsConf, "fonts.conf"),
      `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n  <dir>${fontsDir}</dir>\n  <cachedir>${join(cache, "fonts-cache")}</cachedir>\n</fontconfig>\n`,
    );
    const env = {
      ...process.env,
      LD_LIBRARY_PATH: [join(libs, "lib"), process.env.LD_LIBRARY_PATH].filter(Boolean).join(":"),
      FONTCONFIG_PATH: fontsConf,
    };
    return { executablePath, env, args: ["--no-zygote", "--single-process"] };
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
}
