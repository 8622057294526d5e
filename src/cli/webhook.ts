/** `idgate webhook`: the admission server. */
import { join } from 'node:path';
import { Command, Option } from 'commander';
import type { LevelWithSilent } from 'pino';
import { ConfigError, startWebhook } from '../webhook/start.ts';
import { createKubeIdentitySource } from '../kube/identity-source.ts';
import { KubeConfigError, loadKubeConfig } from '../kube/config.ts';
import { UsageError } from './errors.ts';
import { LOG_LEVELS, createLogger } from './logger.ts';
import { parseListen, parsePositiveInt } from './options.ts';

interface WebhookFlags {
  config?: string;
  listen: { host: string; port: number };
  tlsDir?: string;
  tlsCert?: string;
  tlsKey?: string;
  clientCa?: string;
  kubeconfig?: string;
  bindingsFile?: string;
  logLevel: LevelWithSilent;
  shutdownGrace: number;
}

const opt = (flags: string, description: string, env: string) => new Option(flags, description).env(env);

export function webhookCommand(): Command {
  return new Command('webhook')
    .description('serve the mutating and validating admission webhooks over HTTPS')
    .addOption(opt('--config <file>', 'IdentityBaseline file (hot-reloaded)', 'IDGATE_CONFIG'))
    .addOption(opt('--listen <host:port>', 'address to listen on', 'IDGATE_LISTEN').argParser(parseListen).default({ host: '0.0.0.0', port: 8443 }, '0.0.0.0:8443'))
    .addOption(opt('--tls-dir <dir>', 'directory holding tls.crt and tls.key', 'IDGATE_TLS_DIR').conflicts(['tlsCert', 'tlsKey']))
    .addOption(opt('--tls-cert <file>', 'serving certificate (PEM)', 'IDGATE_TLS_CERT'))
    .addOption(opt('--tls-key <file>', 'serving key (PEM)', 'IDGATE_TLS_KEY'))
    .addOption(opt('--client-ca <file>', "require a client certificate signed by this CA (the API server's)", 'IDGATE_CLIENT_CA'))
    .addOption(opt('--kubeconfig <file>', 'kubeconfig (default: in-cluster)', 'IDGATE_KUBECONFIG'))
    .addOption(opt('--bindings-file <file>', 'OIDCGroupBindings from a YAML file instead of the cluster', 'IDGATE_BINDINGS_FILE'))
    .addOption(opt('--log-level <level>', 'log level', 'IDGATE_LOG_LEVEL').choices(LOG_LEVELS).default('info'))
    .addOption(opt('--shutdown-grace <ms>', 'how long in-flight requests may take after SIGTERM', 'IDGATE_SHUTDOWN_GRACE').argParser(parsePositiveInt).default(20_000))
    .action(async (flags: WebhookFlags) => {
      const tlsCert = flags.tlsCert ?? (flags.tlsDir ? join(flags.tlsDir, 'tls.crt') : undefined);
      const tlsKey = flags.tlsKey ?? (flags.tlsDir ? join(flags.tlsDir, 'tls.key') : undefined);
      if (!tlsCert || !tlsKey) throw new UsageError('--tls-dir or both --tls-cert and --tls-key are required');
      if (!flags.config) throw new UsageError('--config FILE (the IdentityBaseline) is required');
      const logger = createLogger(flags.logLevel);
      const kubeconfig = flags.kubeconfig;
      let webhook;
      try {
        webhook = await startWebhook({
          listen: flags.listen,
          configFile: flags.config,
          ...(flags.bindingsFile
            ? { bindingsFile: flags.bindingsFile }
            : { kubeIdentity: () => createKubeIdentitySource({ kubeConfig: loadKubeConfig(kubeconfig), logger }) }),
          tlsCert,
          tlsKey,
          ...(flags.clientCa ? { clientCaFile: flags.clientCa } : {}),
          logger,
        });
      } catch (err) {
        if (err instanceof ConfigError) throw new UsageError(err.message);
        if (err instanceof KubeConfigError) throw new UsageError(`--kubeconfig: ${err.message}`);
        throw err;
      }
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal, graceMs: flags.shutdownGrace }, 'shutting down: readiness off, finishing in-flight requests');
        await webhook.stop(flags.shutdownGrace);
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      };
      process.once('SIGTERM', () => void stop('SIGTERM'));
      process.once('SIGINT', () => void stop('SIGINT'));
    });
}
