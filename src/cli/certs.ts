/** `idgate certs generate`: a CA and a serving certificate for development and bootstrap. */
import { Command, Option } from 'commander';
import { createCA, issueCertificate, serviceHosts } from '../certs/generate.ts';
import { writeCertFiles } from '../certs/files.ts';
import { parseList, parsePositiveInt } from './options.ts';

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
    .addOption(new Option('--out <dir>', 'directory to write into').env('IDGATE_OUT').makeOptionMandatory())
    .addOption(new Option('--service <name>', 'webhook Service name').env('IDGATE_SERVICE').default('idgate-webhook'))
    .addOption(new Option('--namespace <ns>', 'webhook Service namespace').env('IDGATE_NAMESPACE').default('idgate-system'))
    .addOption(new Option('--hosts <h,h>', 'extra DNS names or IP addresses').env('IDGATE_HOSTS').argParser(parseList).default([]))
    .addOption(new Option('--days <n>', 'validity of the serving certificate').env('IDGATE_DAYS').argParser(parsePositiveInt).default(365))
    .action(async (flags: GenerateFlags) => {
      const ca = createCA({ commonName: `${flags.service}-ca`, days: Math.max(flags.days, 3650) });
      const hosts = serviceHosts(flags.service, flags.namespace, flags.hosts);
      const leaf = issueCertificate(ca, { commonName: `${flags.service}.${flags.namespace}.svc`, hosts, days: flags.days, usage: 'server' });
      await writeCertFiles(flags.out, { ca: ca.cert, cert: leaf.cert, key: leaf.key });
      process.stdout.write(`wrote ${flags.out}/ca.crt, tls.crt, tls.key for ${hosts.join(', ')}\n`);
    });
  return certs;
}
