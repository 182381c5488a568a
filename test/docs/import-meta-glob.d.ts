// Vite's import.meta.glob, used by rule-ids.test.ts (Vite rewrites the call at transform time).
interface ImportMeta {
  glob(patterns: string | string[], options: { query?: string; import?: string; eager: true }): Record<string, unknown>;
}
