/**
 * @module captcha
 * Cloudflare Turnstile in place of the reference's reCAPTCHA v1
 * (user-1.0 §7.9, §10). The check is behind {@link CaptchaVerifier}; the
 * production verifier calls Turnstile's siteverify. Turnstile's published
 * test secret keys are answered locally, without network, so development
 * and CI work offline:
 *   1x0000000000000000000000000000000AA  always passes (any non-empty token)
 *   2x0000000000000000000000000000000AA  always fails
 *   3x0000000000000000000000000000000AA  fails ("token already spent")
 * (matching test site keys: 1x00000000000000000000AA passes, 2x00000000000000000000AB fails).
 *
 * Where the token comes from: `captcha-response` (JSON key of PUT user,
 * query parameter of GET/DELETE password_reset, as the reference's
 * reCAPTCHA fields), or `cf-turnstile-response` (the widget's own form field,
 * used by the HTML pages). `captcha-challenge` has no Turnstile equivalent
 * and is ignored.
 */
import type { Config } from "../config";

export interface CaptchaVerifier {
  /** True when Turnstile accepts `token` for this secret key. */
  verify(token: string, remoteIp: string | null): Promise<boolean>;
}

export const SITEVERIFY_URL = "https://challenges.cloudflare.com/turnstile/v0/siteverify";
export const TURNSTILE_SCRIPT = "https://challenges.cloudflare.com/turnstile/v0/api.js";
export const TURNSTILE_ORIGIN = "https://challenges.cloudflare.com";

/** Turnstile tokens are at most 2048 characters. */
const MAX_TOKEN = 2048;

const TEST_SECRETS: Record<string, boolean> = {
  "1x0000000000000000000000000000000AA": true,
  "2x0000000000000000000000000000000AA": false,
  "3x0000000000000000000000000000000AA": false,
};

export function turnstileVerifier(secretKey: string, fetcher: typeof fetch = fetch): CaptchaVerifier {
  return {
    async verify(token, remoteIp) {
      if (token === "" || token.length > MAX_TOKEN) return false;
      const offline = TEST_SECRETS[secretKey];
      if (offline !== undefined) return offline;
      const form = new FormData();
      form.set("secret", secretKey);
      form.set("response", token);
      if (remoteIp) form.set("remoteip", remoteIp);
      try {
        const res = await fetcher(SITEVERIFY_URL, { method: "POST", body: form });
        if (!res.ok) {
          console.error(`turnstile siteverify answered HTTP ${res.status}`);
          return false;
        }
        const body = (await res.json()) as { success?: unknown };
        return body.success === true;
      } catch (err) {
        console.error("turnstile siteverify failed:", err instanceof Error ? err.message : err);
        return false;
      }
    },
  };
}

/**
 * The captcha rule (user-1.0 §7.9): passes when no captcha is configured or
 * when the shared secret was presented (callers decide that); otherwise the
 * token must be present and verified.
 */
export async function captchaPasses(config: Config, token: string | null | undefined, req: Request): Promise<boolean> {
  const captcha = config.recovery.captcha;
  if (captcha === null) return true;
  if (typeof token !== "string" || token === "") return false;
  return turnstileVerifier(captcha.secretKey).verify(token, req.headers.get("CF-Connecting-IP"));
}
