import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, Pod } from '../../src/admission/k8s.ts';
import { parseAllowedGroups, parsePort, resolvePorts, resolveProxyPort, resolveUpstreamPort } from '../../src/mutate/upstream.ts';

const pod = (annotations: Record<string, string> | undefined, containers: Container[]): Pod => ({
  metadata: annotations ? { annotations } : {},
  spec: { containers },
});

test('parsePort accepts 1-65535 decimal only', () => {
  const cases: Array<[string, number | undefined]> = [
    ['8080', 8080],
    [' 80 ', 80],
    ['1', 1],
    ['65535', 65535],
    ['0', undefined],
    ['65536', undefined],
    ['-1', undefined],
    ['08080', undefined],
    ['1e3', undefined],
    ['0x50', undefined],
    ['', undefined],
    ['80.0', undefined],
    ['http', undefined],
  ];
  for (const [input, want] of cases) assert.equal(parsePort(input), want, JSON.stringify(input));
});

test('resolveUpstreamPort', async (t) => {
  const cases: Array<{ name: string; pod: Pod; want: number | RegExp; container?: string }> = [
    {
      name: 'first containerPort of the first app container',
      pod: pod(undefined, [
        { name: 'app', ports: [{ containerPort: 8080 }, { containerPort: 9090 }] },
        { name: 'b', ports: [{ containerPort: 7000 }] },
      ]),
      want: 8080,
    },
    {
      name: 'skips the sidecar in containers (container mode reinvocation)',
      pod: pod(undefined, [
        { name: 'idgate-proxy', ports: [{ containerPort: 4180 }] },
        { name: 'app', ports: [{ containerPort: 8080 }] },
      ]),
      want: 8080,
    },
    {
      name: 'skips UDP ports',
      pod: pod(undefined, [
        {
          name: 'dns',
          ports: [
            { containerPort: 53, protocol: 'UDP' },
            { containerPort: 8053, protocol: 'TCP' },
          ],
        },
      ]),
      want: 8053,
    },
    {
      name: 'annotation number wins over containerPort',
      pod: pod({ 'idgate.dev/upstream-port': '9000' }, [{ name: 'app', ports: [{ containerPort: 8080 }] }]),
      want: 9000,
    },
    { name: 'annotation with no ports at all', pod: pod({ 'idgate.dev/upstream-port': '3000' }, [{ name: 'app' }]), want: 3000 },
    {
      name: 'annotation naming a port',
      pod: pod({ 'idgate.dev/upstream-port': 'http' }, [
        {
          name: 'app',
          ports: [
            { name: 'metrics', containerPort: 9100 },
            { name: 'http', containerPort: 8080 },
          ],
        },
      ]),
      want: 8080,
    },
    {
      name: 'annotation naming a port of a later app container',
      pod: pod({ 'idgate.dev/upstream-port': 'web' }, [{ name: 'a' }, { name: 'b', ports: [{ name: 'web', containerPort: 81 }] }]),
      want: 81,
    },
    {
      name: 'annotation out of range',
      pod: pod({ 'idgate.dev/upstream-port': '70000' }, [{ name: 'app', ports: [{ containerPort: 8080 }] }]),
      want: /idgate.dev\/upstream-port "70000" is neither/,
    },
    {
      name: 'annotation naming no port',
      pod: pod({ 'idgate.dev/upstream-port': 'grpc' }, [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }]),
      want: /"grpc"/,
    },
    { name: 'no ports and no annotation', pod: pod(undefined, [{ name: 'app' }]), want: /no upstream port: container "app" declares no TCP containerPort/ },
    { name: 'only UDP ports', pod: pod(undefined, [{ name: 'app', ports: [{ containerPort: 53, protocol: 'UDP' }] }]), want: /no upstream port/ },
    { name: 'no app container', pod: pod(undefined, [{ name: 'idgate-proxy', ports: [{ containerPort: 4180 }] }]), want: /no app container/ },
    { name: 'no spec', pod: { metadata: {} }, want: /no app container/ },
    // Coexistence: another injector's proxy placed first is never the upstream.
    {
      name: 'skips a mesh proxy placed first',
      pod: pod(undefined, [
        { name: 'linkerd-proxy', ports: [{ containerPort: 4143 }] },
        { name: 'app', ports: [{ containerPort: 8080 }] },
      ]),
      want: 8080,
      container: 'app',
    },
    {
      name: "kubectl's default-container names the app",
      pod: pod({ 'kubectl.kubernetes.io/default-container': 'web' }, [
        { name: 'mesh', ports: [{ containerPort: 15090 }] },
        { name: 'web', ports: [{ containerPort: 8080 }] },
      ]),
      want: 8080,
      container: 'web',
    },
    {
      name: 'default-container naming no app container is only a hint',
      pod: pod({ 'kubectl.kubernetes.io/default-container': 'gone' }, [{ name: 'app', ports: [{ containerPort: 8080 }] }]),
      want: 8080,
      container: 'app',
    },
    {
      name: 'the recorded upstream-container wins over position',
      pod: pod({ 'idgate.dev/upstream-container': 'app', 'kubectl.kubernetes.io/default-container': 'mesh' }, [
        { name: 'mesh', ports: [{ containerPort: 15090 }] },
        { name: 'app', ports: [{ containerPort: 8080 }] },
      ]),
      want: 8080,
      container: 'app',
    },
    {
      name: 'a named port is looked up in the recorded container only',
      pod: pod({ 'idgate.dev/upstream-container': 'app', 'idgate.dev/upstream-port': 'http' }, [
        { name: 'mesh', ports: [{ name: 'http', containerPort: 15001 }] },
        { name: 'app', ports: [{ name: 'http', containerPort: 8080 }] },
      ]),
      want: 8080,
      container: 'app',
    },
    {
      name: 'upstream-container naming no app container',
      pod: pod({ 'idgate.dev/upstream-container': 'gone' }, [{ name: 'app', ports: [{ containerPort: 8080 }] }]),
      want: /idgate.dev\/upstream-container "gone" names no app container/,
    },
    {
      name: 'upstream-container may not name a mesh proxy',
      pod: pod({ 'idgate.dev/upstream-container': 'istio-proxy' }, [{ name: 'istio-proxy', ports: [{ containerPort: 15090 }] }]),
      want: /names no app container/,
    },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const got = resolveUpstreamPort(c.pod);
      if (typeof c.want === 'number') {
        assert.equal(got.ok && got.value.port, c.want);
        if (c.container !== undefined) assert.equal(got.ok && got.value.container, c.container);
      } else {
        assert.equal(got.ok, false);
        assert.match(got.ok ? '' : got.reason, c.want);
      }
    });
  }
});

test('a control character in an annotation never reaches the reason unescaped', () => {
  const got = resolveUpstreamPort(pod({ 'idgate.dev/upstream-port': 'x\ny' }, [{ name: 'app' }]));
  assert.equal(got.ok, false);
  assert.doesNotMatch(got.ok ? '' : got.reason, /\n/);
});

test('resolveProxyPort: annotation, else the default; malformed is an error', () => {
  assert.deepEqual(resolveProxyPort(pod(undefined, []), 4180), { ok: true, value: 4180 });
  assert.deepEqual(resolveProxyPort(pod({ 'idgate.dev/proxy-port': '8443' }, []), 4180), { ok: true, value: 8443 });
  const bad = resolveProxyPort(pod({ 'idgate.dev/proxy-port': 'abc' }, []), 4180);
  assert.equal(bad.ok, false);
});

test('parseAllowedGroups trims, drops empties and duplicates', () => {
  assert.deepEqual(parseAllowedGroups(undefined), []);
  assert.deepEqual(parseAllowedGroups(''), []);
  assert.deepEqual(parseAllowedGroups(' a , b,,a, /org/team c ,'), ['a', 'b', '/org/team c']);
});

test('resolvePorts combines upstream, proxy port and allowed groups', () => {
  const ok = resolvePorts(pod({ 'idgate.dev/allowed-groups': 'x, y' }, [{ name: 'app', ports: [{ containerPort: 8080 }] }]), { port: 4180 });
  assert.deepEqual(ok, { ok: true, value: { upstreamPort: 8080, upstreamContainer: 'app', proxyPort: 4180, allowedGroups: ['x', 'y'] } });
  const numeric = resolvePorts(pod({ 'idgate.dev/upstream-port': '9000' }, [{ name: 'app' }]), { port: 4180 });
  assert.deepEqual(numeric, { ok: true, value: { upstreamPort: 9000, proxyPort: 4180, allowedGroups: [] } }, 'a numeric annotation names no container');
});

test('resolvePorts refuses a proxy port clash', () => {
  const same = resolvePorts(pod(undefined, [{ name: 'app', ports: [{ containerPort: 4180 }] }]), { port: 4180 });
  assert.equal(same.ok, false);
  assert.match(same.ok ? '' : same.reason, /proxy port 4180 is the upstream port/);
  const other = resolvePorts(pod(undefined, [{ name: 'app', ports: [{ containerPort: 8080 }, { containerPort: 4180 }] }]), { port: 4180 });
  assert.match(other.ok ? '' : other.reason, /already a port of container "app"/);
  const annotated = resolvePorts(pod({ 'idgate.dev/proxy-port': '8080' }, [{ name: 'app', ports: [{ containerPort: 8080 }] }]), { port: 4180 });
  assert.equal(annotated.ok, false);
});

test('resolvePorts: the proxy port clashes with any container, init and sidecar containers included', () => {
  const app: Container = { name: 'app', ports: [{ containerPort: 8080 }] };
  const cases: Array<{ name: string; spec: Pod['spec']; want: RegExp | undefined }> = [
    {
      name: 'a native sidecar already on 4180',
      spec: { initContainers: [{ name: 'mesh', restartPolicy: 'Always', ports: [{ containerPort: 4180 }] }], containers: [app] },
      want: /already a port of init container "mesh"/,
    },
    {
      name: 'a plain init container declaring 4180',
      spec: { initContainers: [{ name: 'setup', ports: [{ containerPort: 4180 }] }], containers: [app] },
      want: /init container "setup"/,
    },
    {
      name: 'a mesh proxy in containers',
      spec: { containers: [app, { name: 'istio-proxy', ports: [{ containerPort: 4180 }] }] },
      want: /container "istio-proxy"/,
    },
    {
      name: '4180/UDP is no clash',
      spec: { initContainers: [{ name: 'dns', ports: [{ containerPort: 4180, protocol: 'UDP' }] }], containers: [app] },
      want: undefined,
    },
    {
      name: "idgate's own sidecar is no clash (validation of an injected Pod)",
      spec: { initContainers: [{ name: 'idgate-proxy', ports: [{ containerPort: 4180 }] }], containers: [app] },
      want: undefined,
    },
  ];
  for (const c of cases) {
    const got = resolvePorts({ metadata: {}, spec: c.spec }, { port: 4180 });
    if (c.want === undefined) assert.equal(got.ok, true, c.name);
    else assert.match(got.ok ? '' : got.reason, c.want, c.name);
  }
});
