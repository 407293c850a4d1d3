import type { Kysely, Migration } from 'kysely';

/**
 * The resume target of an interaction step: which suspended request the interaction continues once the user has
 * answered (`authorize` for an authorization request; the admin consent endpoint and step-up add their own). Steps
 * stored before this migration all belonged to authorization requests.
 */
export const interactionResumeMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('interaction_steps')
      .addColumn('resume_target', 'text', (c) => c.notNull().defaultTo('authorize'))
      .execute();
  },
};
