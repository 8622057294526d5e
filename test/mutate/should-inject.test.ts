import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, Pod } from '../../src/admission/k8s.ts';
import { shouldInject } from '../../src/mutate/should-inject.ts';
import { testBaseline } from '../support/baseline.ts';

const app = { name: 'app', image: 'app:1', ports: [{ containerPort: 8080 }] };
const pod = (
  over: {
    annotations?: Record<string, string>;
    hostNetwork?: boolean;
    containers?: Container[];
    initContainers?: Container[];
    spec?: Record<string, unknown>;
  } = {},
): Pod => ({
  metadata: { name: 'p', ...(over.annotations ? { annotations: over.annotations } : {}) },
  spec: {
    containers: over.containers ?? [app],
    ...(over.initContainers ? { initContainers: over.initContainers } : {}),
    ...(over.hostNetwork !== undefined ? { hostNetwork: over.hostNetwork } : {}),
    ...over.spec,
  },
});
const sidecar = { name: 'idgate-proxy', image: 'registry.example.com/idgate:0.1.0', restartPolicy: 'Always' };

interface Case {
  name: string;
  pod: Pod;
  namespace?: string;
  allowOptOut?: boolean;
  want: { inject: boolean; identity: boolean; present?: boolean; reason: RegExp };
}

const cases: Case[] = [
  {
    name: 'plain pod is injected',
    pod: pod(),
    want: { inject: true, identity: true, reason: /injected idgate-proxy \(native\) on port 4180 forwarding to 127.0.0.1:8080$/ },
  },
  {
    name: 'exempt namespace is untouched',
    pod: pod(),
    namespace: 'kube-system',
    want: { inject: false, identity: false, reason: /namespace kube-system is exempt/ },
  },
  {
    name: 'exempt namespace wins over everything',
    pod: pod({ hostNetwork: true }),
    namespace: 'idgate-system',
    want: { inject: false, identity: false, reason: /exempt/ },
  },
  {
    name: 'mirror pod is untouched',
    pod: pod({ annotations: { 'kubernetes.io/config.mirror': 'abc' } }),
    want: { inject: false, identity: false, reason: /mirror pod/ },
  },
  {
    name: 'sidecar in initContainers: present, not injected again',
    pod: pod({ initContainers: [sidecar] }),
    want: { inject: false, identity: true, present: true, reason: /already present/ },
  },
  {
    name: 'sidecar in containers: present too',
    pod: pod({ containers: [app, { name: 'idgate-proxy' }] }),
    want: { inject: false, identity: true, present: true, reason: /already present/ },
  },
  {
    name: 'opt-out honoured when allowed',
    pod: pod({ annotations: { 'idgate.dev/inject': 'false' } }),
    want: { inject: false, identity: true, reason: /opted out/ },
  },
  {
    name: 'opt-out is case-insensitive',
    pod: pod({ annotations: { 'idgate.dev/inject': ' False ' } }),
    want: { inject: false, identity: true, reason: /opted out/ },
  },
  {
    name: 'opt-out ignored when not allowed, and the reason says so',
    pod: pod({ annotations: { 'idgate.dev/inject': 'false' } }),
    allowOptOut: false,
    want: { inject: true, identity: true, reason: /^injected .*; annotation idgate.dev\/inject: "false" ignored: the baseline does not allow opt-out/ },
  },
  {
    name: 'inject "true" is not an opt-out',
    pod: pod({ annotations: { 'idgate.dev/inject': 'true' } }),
    want: { inject: true, identity: true, reason: /^injected/ },
  },
  {
    name: 'hostNetwork pod is not injected but gets identity',
    pod: pod({ hostNetwork: true }),
    want: { inject: false, identity: true, reason: /hostNetwork/ },
  },
  { name: 'hostNetwork: false is injected', pod: pod({ hostNetwork: false }), want: { inject: true, identity: true, reason: /^injected/ } },
  {
    name: 'no ports, no annotation: not injected, identity applied',
    pod: pod({ containers: [{ name: 'app' }] }),
    want: { inject: false, identity: true, reason: /no upstream port/ },
  },
  {
    name: 'no ports with upstream annotation is injected',
    pod: pod({ containers: [{ name: 'app' }], annotations: { 'idgate.dev/upstream-port': '3000' } }),
    want: { inject: true, identity: true, reason: /127.0.0.1:3000/ },
  },
  {
    name: 'bad proxy-port annotation is not injected',
    pod: pod({ annotations: { 'idgate.dev/proxy-port': '0' } }),
    want: { inject: false, identity: true, reason: /idgate.dev\/proxy-port "0"/ },
  },
  {
    name: 'opt-out ignored and no port: both in the reason',
    pod: pod({ containers: [{ name: 'app' }], annotations: { 'idgate.dev/inject': 'false' } }),
    allowOptOut: false,
    want: { inject: false, identity: true, reason: /no upstream port.*ignored/ },
  },
  {
    name: 'Windows pod (spec.os.name) gets identity, no sidecar',
    pod: pod({ spec: { os: { name: 'windows' } } }),
    want: {
      inject: false,
      identity: true,
      reason: /idgate-proxy is Linux-only and this Pod runs on Windows \(spec.os.name\); run the workload on Linux, or opt it out/,
    },
  },
  {
    name: 'Windows by nodeSelector kubernetes.io/os',
    pod: pod({ spec: { nodeSelector: { 'kubernetes.io/os': 'windows' } } }),
    want: { inject: false, identity: true, reason: /Windows \(spec.nodeSelector\[kubernetes.io\/os\]\)/ },
  },
  {
    name: 'spec.os.name linux wins over a nodeSelector',
    pod: pod({ spec: { os: { name: 'linux' }, nodeSelector: { 'kubernetes.io/os': 'windows' } } }),
    want: { inject: true, identity: true, reason: /^injected/ },
  },
  {
    name: 'Windows without opt-out allowed says so',
    pod: pod({ spec: { os: { name: 'windows' } } }),
    allowOptOut: false,
    want: { inject: false, identity: true, reason: /Windows.*does not allow opting out/ },
  },
  {
    name: 'a native sidecar already on 4180 in initContainers: not injected',
    pod: pod({ initContainers: [{ name: 'mesh', restartPolicy: 'Always', ports: [{ containerPort: 4180 }] }] }),
    want: { inject: false, identity: true, reason: /proxy port 4180 is already a port of init container "mesh"/ },
  },
];

for (const c of cases) {
  test(`shouldInject: ${c.name}`, () => {
    const baseline = testBaseline({ sidecar: { allowOptOut: c.allowOptOut ?? true } });
    const got = shouldInject(c.pod, { baseline, namespace: c.namespace ?? 'payments' });
    assert.equal(got.inject, c.want.inject, got.reason);
    assert.equal(got.identity, c.want.identity);
    assert.equal(got.present, c.want.present ?? false);
    assert.match(got.reason, c.want.reason);
    assert.equal(got.ports !== undefined, c.want.inject, 'ports are set exactly when injecting');
  });
}

test('shouldInject passes the resolved ports and groups along', () => {
  const got = shouldInject(pod({ annotations: { 'idgate.dev/allowed-groups': 'a,b', 'idgate.dev/proxy-port': '9000' } }), {
    baseline: testBaseline(),
    namespace: 'payments',
  });
  assert.deepEqual(got.ports, { upstreamPort: 8080, upstreamContainer: 'app', proxyPort: 9000, allowedGroups: ['a', 'b'] });
});
