// The one Node API src/log.ts uses (workerd provides it with nodejs_compat).
// The project has no @types/node; if it ever adds it, delete this file.
declare module "node:async_hooks" {
  export class AsyncLocalStorage<T> {
    getStore(): T | undefined;
    run<R>(store: T, callback: () => R): R;
  }
}
