/** `idgate certs generate`: a CA and a serving certificate for development and bootstrap. */
import { Command } from 'commander';
import { createCA, issueCertificate, serviceHosts } from '../certs/generate.ts';
import { writeCertFiles } from '../certs/files.ts';
import { option, parseList, parsePositiveInt } from './options.ts';

interface GenerateFlags {
  out: string;
  service: string;
  namespace: string;
  hosts: string[];
  days: number;
}

export function certsCommand(): Command {
  const certs = new Command('certs').description('serving certificates for the webhook');
  certs
    .command('generate')
    .description('write ca.crt, tls.crt and tls.key (mode 0600) for the webhook Service into --out')
    .addOption(option('--out <dir>', 'directory to write into').makeOptionMandatory())
    .addOption(option('--service <name>', 'webhook Service name').default('idgate-webhook'))
    .addOption(option('--namespace <ns>', 'webhook Service namespace').default('idgate-system'))
    .addOption(option('--hosts <h,h>', 'extra DNS names or IP addresses').argParser(parseList).default([]))
    .addOption(option('--days <n>', 'validity of the serving certificate').argParser(parsePositiveInt).default(365))
    .action(async (flags: GenerateFlags) => {
      const ca = createCA({ commonName: `${flags.service}-ca`, days: Math.max(flags.days, 3650) });
      const hosts = serviceHosts(flags.service, flags.namespace, flags.hosts);
      const leaf = issueCertificate(ca, { commonName: `${flags.service}.${flags.namespace}.svc`, hosts, days: flags.days, usage: 'server' });
      await writeCertFiles(flags.out, { ca: ca.cert, cert: leaf.cert, key: leaf.key });
      process.stdout.write(`wrote ${flags.out}/ca.crt, tls.crt, tls.key for ${hosts.join(', ')}\n`);
    });
  return certs;
}
