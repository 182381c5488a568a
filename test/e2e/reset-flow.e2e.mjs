// End-to-end: the whole password-reset flow over HTTP against `wrangler dev`
// (U10-7.7, U10-9.1, U10-7.5, U10-8): register, ask for a reset, read the code
// from the development outbox, set a new password with it, log in with the
// new password, and see the old password and the used code refused.
import { usernameFor } from "./client11.mjs";
import { assert, startWranglerDev } from "./harness.mjs";
import { basic, DEV_VARS, runIfMain } from "./support/recovery.mjs";

export default async function run({ log = console.log } = {}) {
  const server = await startWranglerDev({ vars: DEV_VARS, log });
  try {
    const base = server.baseUrl;
    const email = `e2e.${Date.now()}@example.com`;
    const username = usernameFor(email);
    const oldPassword = "the old password";
    const newPassword = "the new password";

    const put = await fetch(`${base}/user/1.0/${username}`, { method: "PUT", body: JSON.stringify({ email, password: oldPassword }) });
    assert(put.status === 200, `register: ${put.status} ${await put.text()}`);

    const ask = await fetch(`${base}/user/1.0/${username}/password_reset`);
    assert(ask.status === 200 && (await ask.text()) === "success", `password_reset: ${ask.status}`);

    const box = await fetch(`${base}/__dev__/outbox?to=${encodeURIComponent(email)}`);
    const [mail] = await box.json();
    assert(mail && mail.subject === "Resetting your Services password", "a reset e-mail in the dev outbox");
    const linkLine = mail.body.split("\n")[2];
    assert(linkLine.startsWith("    http"), `third line is the link: ${JSON.stringify(linkLine)}`);
    const link = new URL(linkLine.trim());
    assert(link.origin === base, `link points at this server: ${link.origin}`);
    assert(link.searchParams.get("username") === username, "link names the account");
    const code = link.searchParams.get("key");
    assert(/^[A-Z0-9]{4}(-[A-Z0-9]{4}){3}$/.test(code ?? ""), `code format: ${code}`);
    log(`reset code received for ${username}`);

    const set = await fetch(`${base}/user/1.0/${username}/password`, {
      method: "POST",
      body: newPassword,
      headers: { "X-Weave-Password-Reset": code },
    });
    assert(set.status === 200 && (await set.text()) === "success", `set password: ${set.status}`);

    const withNew = await fetch(`${base}/1.1/${username}/info/collections`, { headers: { Authorization: basic(username, newPassword) } });
    assert(withNew.status === 200, `login with the new password: ${withNew.status}`);
    const withOld = await fetch(`${base}/1.1/${username}/info/collections`, { headers: { Authorization: basic(username, oldPassword) } });
    assert(withOld.status === 401, `old password refused: ${withOld.status}`);

    const reuse = await fetch(`${base}/user/1.0/${username}/password`, {
      method: "POST",
      body: "yet another password",
      headers: { "X-Weave-Password-Reset": code },
    });
    assert(reuse.status === 400 && (await reuse.text()) === "10", `used code refused: ${reuse.status}`);
    log("reset flow: ok");
  } finally {
    server.stop();
  }
}

runIfMain(import.meta.url, run);
