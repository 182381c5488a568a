/** A response read once: status, headers, body text and (when it parses) its JSON. Shared by the test clients. */
export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

export async function readReply(res: Response): Promise<Reply> {
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined; // not JSON
  }
  return { status: res.status, headers: res.headers, text, json };
}
