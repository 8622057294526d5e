/** `idgate label-for-group GROUP`: the label key a NetworkPolicy selects for a group. */
import { Command } from 'commander';
import { groupLabelKey } from '../identity/labels.ts';

export function labelForGroupCommand(): Command {
  return new Command('label-for-group')
    .description('print the label key idgate puts on pods whose ServiceAccount is bound to GROUP')
    .argument('<group>', 'the group name as the issuer writes it in the groups claim')
    .action((group: string) => {
      process.stdout.write(`${groupLabelKey(group)}\n`);
    });
}
