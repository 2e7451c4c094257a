/**
 * The Deno Jupyter kernel's display: raw MIME bundles shown (and updated in place) in the
 * notebook, their text/plain part printed elsewhere. No figure export here (mod.ts has that), so
 * a live training display loads no browser driver.
 */

export type MimeBundle = Record<string, unknown>;

interface JupyterNs {
  display(
    obj: unknown,
    opts?: { raw?: boolean; update?: boolean; display_id?: string },
  ): Promise<void>;
}

function jupyter(): JupyterNs | undefined {
  try {
    // The getter throws outside `deno jupyter`.
    const j = (Deno as unknown as { jupyter?: JupyterNs }).jupyter;
    return typeof j?.display === "function" ? j : undefined;
  } catch {
    return undefined;
  }
}

/** True when running inside the Deno Jupyter kernel. */
export function inKernel(): boolean {
  return jupyter() !== undefined;
}

/** Emits a raw MIME bundle in the kernel (awaited); prints its text/plain part elsewhere. */
export async function displayBundle(
  bundle: MimeBundle,
  opts: { displayId?: string; update?: boolean; metadata?: Record<string, unknown> } = {},
): Promise<void> {
  const j = jupyter();
  if (!j) {
    console.log(String(bundle["text/plain"] ?? Object.keys(bundle).join(", ")));
    return;
  }
  // Deno's display() takes image metadata inside the bundle under no key; keep it simple: data only.
  await j.display(bundle, {
    raw: true,
    ...(opts.displayId ? { display_id: opts.displayId } : {}),
    ...(opts.update ? { update: true } : {}),
  });
}
