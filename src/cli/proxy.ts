/**
 * `idgate proxy`: the OIDC-verifying auth sidecar (docs/design.md#sidecar-proxy). Flags become a
 * {@link ProxyProcessConfig}; src/server/proxy.ts runs it.
 */
import { Command, InvalidArgumentError, type Option } from 'commander';
import type { LevelWithSilent } from 'pino';
import { buildProxyConfig, PROXY_DEFAULTS } from '../proxy/config.ts';
import { IN_POD_CA_FILE, IN_POD_TOKEN_FILE } from '../proxy/kubernetes-issuer.ts';
import type { ProxyProcessConfig } from '../server/proxy.ts';
import { runUntilSignal } from './lifecycle.ts';
import { LOG_LEVELS, createLogger } from './logger.ts';
import { option, parseDuration, parseList, parseListen, parsePositiveInt } from './options.ts';

interface ProxyFlags {
  upstream: string;
  issuer: string[];
  audience: string[];
  allowedGroups: string[];
  groupsClaim: string;
  listen: { host: string; port: number };
  skipPaths: string[];
  upstreamTimeout: number;
  passAuthorization: boolean;
  clockSkew: number;
  tokenCacheSize: number;
  shutdownGrace: number;
  logLevel: LevelWithSilent;
  kubernetesIssuer?: string;
  kubernetesCa: string;
  kubernetesTokenFile: string;
}

/** `true`/`false` (also 1/0, yes/no), so `IDGATE_PASS_AUTHORIZATION=false` means false. */
export function parseBool(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes'].includes(v)) return true;
  if (['false', '0', 'no', ''].includes(v)) return false;
  throw new InvalidArgumentError(`expected true or false, got "${value}"`);
}

/** The proxy's flags, in --help's order. */
function proxyOptions(): Option[] {
  return [
    option('--upstream <url>', 'the app to forward to, e.g. http://127.0.0.1:8080').makeOptionMandatory(),
    option('--issuer <url,url>', "trusted OIDC issuer(s), exactly as in the tokens' iss").argParser(parseList).default([]),
    option('--kubernetes-issuer <url>', "the cluster's ServiceAccount issuer, trusted too; its keys are fetched with the Pod's ServiceAccount credentials"),
    option('--kubernetes-ca <file>', 'CA of the API server, for --kubernetes-issuer').default(IN_POD_CA_FILE),
    option('--kubernetes-token-file <file>', 'ServiceAccount token sent to --kubernetes-issuer only').default(IN_POD_TOKEN_FILE),
    option('--audience <aud>', 'required token audience (comma-separated: any of them)').argParser(parseList).makeOptionMandatory(),
    option('--allowed-groups <g,g>', 'groups allowed through (any one suffices; default: every verified caller)').argParser(parseList).default([]),
    option('--groups-claim <path>', 'claim path of the groups: groups, realm_access.roles, cognito:groups').default(PROXY_DEFAULTS.groupsClaim),
    option('--listen <host:port>', 'address to listen on').argParser(parseListen).default(parseListen(PROXY_DEFAULTS.listen), PROXY_DEFAULTS.listen),
    option('--skip-paths <p,p>', 'exact paths forwarded without a token (probes)').argParser(parseList).default([]),
    option('--upstream-timeout <duration>', 'time the upstream has to send response headers')
      .argParser(parseDuration)
      .default(PROXY_DEFAULTS.upstreamTimeoutMs, '30s'),
    option('--pass-authorization [bool]', "pass the caller's Authorization header to the upstream (off: the app cannot replay callers' tokens)")
      .argParser(parseBool)
      .preset(true)
      .default(false),
    option('--clock-skew <duration>', 'tolerance for exp and nbf')
      .argParser(parseDuration)
      .default(PROXY_DEFAULTS.clockToleranceSec * 1000, '30s'),
    option('--token-cache-size <n>', 'verified tokens remembered until they expire').argParser(parsePositiveInt).default(PROXY_DEFAULTS.tokenCacheMaxEntries),
    // 20 s: inside Kubernetes' default 30 s terminationGracePeriodSeconds, so draining ends before SIGKILL.
    option('--shutdown-grace <duration>', 'how long in-flight requests may take after SIGTERM').argParser(parseDuration).default(20_000, '20s'),
    option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'),
  ];
}

/** The validated, frozen configuration the flags describe; a ProxyConfigError names the flag. */
function proxyConfig(flags: ProxyFlags): ProxyProcessConfig {
  const proxy = buildProxyConfig({
    upstream: flags.upstream,
    issuers: flags.issuer,
    ...(flags.kubernetesIssuer
      ? { kubernetesIssuer: flags.kubernetesIssuer, kubernetesCaFile: flags.kubernetesCa, kubernetesTokenFile: flags.kubernetesTokenFile }
      : {}),
    audiences: flags.audience,
    allowedGroups: flags.allowedGroups,
    groupsClaim: flags.groupsClaim,
    skipPaths: flags.skipPaths,
    upstreamTimeoutMs: flags.upstreamTimeout,
    passAuthorization: flags.passAuthorization,
    clockToleranceSec: flags.clockSkew / 1000,
    tokenCacheMaxEntries: flags.tokenCacheSize,
  });
  return Object.freeze({ proxy, listen: Object.freeze({ ...flags.listen }), shutdownGraceMs: flags.shutdownGrace });
}

/** The `proxy` subcommand, registered in program.ts (loaded only when it runs). */
export function proxyCommand(): Command {
  const cmd = new Command('proxy').description('reverse proxy that admits only requests bearing a valid OIDC token of an allowed group');
  for (const o of proxyOptions()) cmd.addOption(o);
  return cmd.action(async (flags: ProxyFlags) => {
    const config = proxyConfig(flags);
    const { start } = await import('../server/proxy.ts');
    await runUntilSignal(config, createLogger(flags.logLevel, 'idgate-proxy'), start, 'shutting down: no new connections, finishing in-flight requests');
  });
}
