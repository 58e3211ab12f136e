// Error helpers shared by workflows and the CLI. Pure.

/** The innermost cause's message: "activity task failed" says nothing, its cause does. */
export function rootMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e && e.cause) e = e.cause as typeof e;
  return e?.message ?? String(err);
}
