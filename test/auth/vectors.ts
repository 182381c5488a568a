/** Shared fixtures from HAWK-8 and TS10-12. */
export const MASTER = "an-example-master-secret";
export const METRICS = "an-example-metrics-secret";
export const TOKEN =
  "eyJub2RlIjoiaHR0cHM6Ly9zeW5jLmV4YW1wbGUubmV0IiwiZnhhX2tpZCI6IjE3MDAwMDAwMDAxMjMtMUhvOEc3TDI0S2xjZ2ZQaXA3YkYxQSIsImZ4YV91aWQiOiI2YTFkNGMwZjJlOGI0N2EzOWM1ZDdlMWYwYTJiM2M0ZCIsImhhc2hlZF9kZXZpY2VfaWQiOiJhNzI0OGI5Nzg1NTEwYWRjZTdiNzc0MjE1ODM0N2Y0YiIsImhhc2hlZF9meGFfdWlkIjoiNmRmYjI0YjU1YjU4NzA1NjM1ZDY5YjgyZjA2ZDA0YTQiLCJleHBpcmVzIjoxNzAwMDAzNjAwLCJ1aWQiOjQyLCJ0b2tlbnNlcnZlcl9vcmlnaW4iOiJydXN0Iiwic2FsdCI6IjVlM2E5YyJ9EaAigDNbRKp6lp7PZkeuXAWGthEQBwAULXMSEUZ-NL8=";
export const KEY = "dMRbZknYSXLFPivy5ad9vhDRMsA9-MqdpadO5x2rZbM=";

export function hawkHeader(a: { id: string; ts: string | number; nonce: string; mac: string; hash?: string; ext?: string }): string {
  let h = `Hawk id="${a.id}", ts="${a.ts}", nonce="${a.nonce}", mac="${a.mac}"`;
  if (a.hash !== undefined) h += `, hash="${a.hash}"`;
  if (a.ext !== undefined) h += `, ext="${a.ext}"`;
  return h;
}
