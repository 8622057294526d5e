/**
 * The Kubernetes side of `idgate audit`, imported only when it runs (the webhook loads its own in
 * src/webhook/process.ts). @kubernetes/client-node is large: importing it costs the process tens
 * of MB and hundreds of milliseconds at start-up (see BENCHMARKS.md), which `idgate proxy` (in
 * every Pod) and `idgate check` must not pay.
 */
export async function loadKube() {
  const [config, audit] = await Promise.all([import('../kube/config.ts'), import('../kube/audit-client.ts')]);
  return { ...config, ...audit };
}

export type Kube = Awaited<ReturnType<typeof loadKube>>;
