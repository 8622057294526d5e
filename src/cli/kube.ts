/**
 * The Kubernetes side of the CLI, imported only by the subcommands and options that talk to a
 * cluster. @kubernetes/client-node is large: importing it costs the process tens of MB and
 * hundreds of milliseconds at start-up (see BENCHMARKS.md), which `idgate proxy` (in every
 * Pod), `idgate check` and a webhook running on a bindings file must not pay.
 */
export async function loadKube() {
  const [config, identity, certs, audit] = await Promise.all([
    import('../kube/config.ts'),
    import('../kube/identity-source.ts'),
    import('../kube/certs-client.ts'),
    import('../kube/audit-client.ts'),
  ]);
  return { ...config, ...identity, ...certs, ...audit };
}

export type Kube = Awaited<ReturnType<typeof loadKube>>;
