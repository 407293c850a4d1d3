/** `tessera keys rotate`: new token signing keys (docs/cli.md). */
import { Option, type Command } from 'commander';
import { keyRetentionSeconds } from '../../config/config.js';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../../keys/algorithms.js';
import { databaseTarget, openStore } from '../../store/open-store.js';
import type { CliContext, GlobalOptions } from '../context.js';

/** Registers `keys rotate`. */
export function registerKeysCommands(program: Command, cli: CliContext): void {
  const { withCommon, config, print, run } = cli;
  const keys = program.command('keys').description('token signing keys');
  withCommon(
    keys
      .command('rotate')
      .description(
        'add new signing keys, published at once as next keys and signing after keyActivationDelaySeconds; previous keys stay published until their tokens expire',
      ),
  )
    .addOption(new Option('--alg <alg>', 'rotate only this algorithm').choices([...SIGNING_ALGORITHMS]))
    .option('--now', 'sign with the new keys at once (a compromised key); validators may refuse them briefly')
    .action(
      run(async (options: GlobalOptions & { alg?: SigningAlgorithm; now?: boolean }) => {
        const cfg = config(options);
        const { db, store } = await openStore(cfg);
        try {
          const { loadMasterKey } = await import('../../keys/master-key.js');
          const { rotateSigningKeys } = await import('../../keys/key-ring.js');
          const masterKey = loadMasterKey(cfg.masterKey, cfg.dataDir, databaseTarget(cfg).dialect);
          const rotated = await rotateSigningKeys(
            store,
            masterKey.key,
            options.alg === undefined ? SIGNING_ALGORITHMS : [options.alg],
            keyRetentionSeconds(cfg),
            Math.floor(Date.now() / 1000),
            options.now === true ? 0 : cfg.keyActivationDelaySeconds,
          );
          print(
            options,
            { rotated },
            rotated
              .map(
                (r) =>
                  `New ${r.alg} signing key: kid ${r.kid}, ` +
                  (options.now === true
                    ? 'signing now'
                    : `published now, signing from ${new Date(r.activatesAt * 1000).toISOString()}`),
              )
              .join('\n'),
          );
        } finally {
          await db.destroy();
        }
      }),
    );
}
