/**
 * @module bench/lib/guard
 * Runs a command and ties its life to the benchmark's: when our stdin closes
 * (the harness exited, even by SIGKILL), the whole process group, this guard
 * included, gets SIGTERM and then SIGKILL. bench/run.mjs starts `wrangler dev`
 * through it because wrangler dev does not exit when its parent dies.
 *
 * Usage: node bench/lib/guard.mjs <command> [args...]   (as a process-group leader)
 */
import { spawn } from "node:child_process";

const [cmd, ...args] = process.argv.slice(2);
const child = spawn(cmd, args, { stdio: ["ignore", "inherit", "inherit"] });
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
function down() {
  try {
    process.kill(-process.pid, "SIGTERM");
  } catch {}
  setTimeout(() => {
    try {
      process.kill(-process.pid, "SIGKILL");
    } catch {}
  }, 3000).unref();
}
process.stdin.on("end", down);
process.stdin.on("error", down);
process.stdin.resume();
process.on("SIGTERM", () => {
  // the group got SIGTERM: give the child a moment, then go
  setTimeout(() => process.exit(0), 3000).unref();
});
