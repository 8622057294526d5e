/** `idgate proxy`: the OIDC-verifying auth sidecar (docs/design.md#sidecar-proxy). */
import type { AddressInfo } from 'node:net';
import { Command, InvalidArgumentError } from 'commander';
import type { LevelWithSilent } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { buildProxyConfig, PROXY_DEFAULTS, ProxyConfigError } from '../proxy/config.ts';
import { createProxy } from '../proxy/server.ts';
import { drainable } from '../server/drain.ts';
import { IN_POD_CA_FILE, IN_POD_TOKEN_FILE } from '../proxy/kubernetes-issuer.ts';
import { UsageError } from './errors.ts';
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

/** The `proxy` subcommand, registered in program.ts (loaded only when it runs). */
export function proxyCommand(): Command {
  return (
    new Command('proxy')
      .description('reverse proxy that admits only requests bearing a valid OIDC token of an allowed group')
      .addOption(option('--upstream <url>', 'the app to forward to, e.g. http://127.0.0.1:8080').makeOptionMandatory())
      .addOption(option('--issuer <url,url>', "trusted OIDC issuer(s), exactly as in the tokens' iss").argParser(parseList).default([]))
      .addOption(
        option('--kubernetes-issuer <url>', "the cluster's ServiceAccount issuer, trusted too; its keys are fetched with the Pod's ServiceAccount credentials"),
      )
      .addOption(option('--kubernetes-ca <file>', 'CA of the API server, for --kubernetes-issuer').default(IN_POD_CA_FILE))
      .addOption(option('--kubernetes-token-file <file>', 'ServiceAccount token sent to --kubernetes-issuer only').default(IN_POD_TOKEN_FILE))
      .addOption(option('--audience <aud>', 'required token audience (comma-separated: any of them)').argParser(parseList).makeOptionMandatory())
      .addOption(option('--allowed-groups <g,g>', 'groups allowed through (any one suffices; default: every verified caller)').argParser(parseList).default([]))
      .addOption(option('--groups-claim <path>', 'claim path of the groups: groups, realm_access.roles, cognito:groups').default(PROXY_DEFAULTS.groupsClaim))
      .addOption(
        option('--listen <host:port>', 'address to listen on').argParser(parseListen).default(parseListen(PROXY_DEFAULTS.listen), PROXY_DEFAULTS.listen),
      )
      .addOption(option('--skip-paths <p,p>', 'exact paths forwarded without a token (probes)').argParser(parseList).default([]))
      .addOption(
        option('--upstream-timeout <duration>', 'time the upstream has to send response headers')
          .argParser(parseDuration)
          .default(PROXY_DEFAULTS.upstreamTimeoutMs, '30s'),
      )
      .addOption(
        option('--pass-authorization [bool]', "pass the caller's Authorization header to the upstream (off: the app cannot replay callers' tokens)")
          .argParser(parseBool)
          .preset(true)
          .default(false),
      )
      .addOption(
        option('--clock-skew <duration>', 'tolerance for exp and nbf')
          .argParser(parseDuration)
          .default(PROXY_DEFAULTS.clockToleranceSec * 1000, '30s'),
      )
      .addOption(
        option('--token-cache-size <n>', 'verified tokens remembered until they expire')
          .argParser(parsePositiveInt)
          .default(PROXY_DEFAULTS.tokenCacheMaxEntries),
      )
      // 20 s: inside Kubernetes' default 30 s terminationGracePeriodSeconds, so draining ends before SIGKILL.
      .addOption(option('--shutdown-grace <duration>', 'how long in-flight requests may take after SIGTERM').argParser(parseDuration).default(20_000, '20s'))
      .addOption(option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
      .action(async (flags: ProxyFlags) => {
        let config;
        try {
          config = buildProxyConfig({
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
        } catch (err) {
          if (err instanceof ProxyConfigError) throw new UsageError(err.message);
          throw err;
        }
        const logger = createLogger(flags.logLevel, 'idgate-proxy');
        const registry = new Registry();
        collectDefaultMetrics({ register: registry });
        const server = createProxy({ config, logger, registry });
        const { drain } = drainable(server, 'connection', logger);
        await new Promise<void>((resolve, reject) => {
          server.once('error', (err: NodeJS.ErrnoException) => {
            reject(
              err.code === 'EADDRINUSE' || err.code === 'EADDRNOTAVAIL' || err.code === 'EACCES'
                ? new UsageError(`--listen: cannot listen on ${flags.listen.host}:${flags.listen.port} (${err.code})`)
                : err,
            );
          });
          server.listen(flags.listen.port, flags.listen.host, resolve);
        });
        const bound = server.address() as AddressInfo;
        logger.info(
          {
            listen: { host: bound.address, port: bound.port },
            upstream: config.upstream.origin,
            issuers: config.issuers,
            audiences: config.audiences,
            allowedGroups: config.allowedGroups,
            skipPaths: config.skipPaths,
          },
          'proxy listening',
        );

        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) return;
          stopping = true;
          logger.info({ signal, graceMs: flags.shutdownGrace }, 'shutting down: no new connections, finishing in-flight requests');
          // The webhook's drain: idle keep-alive connections are closed only once their client
          // has stopped using them, not at once (which resets a request sent meanwhile); past the
          // grace period what is left is cut, as the kubelet's SIGKILL would do less politely.
          void drain(flags.shutdownGrace).then(() => {
            logger.info('stopped');
            logger.flush();
            process.exit(0);
          });
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      })
  );
}
