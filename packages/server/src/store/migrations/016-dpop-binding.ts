import type { Kysely, Migration } from 'kysely';

/**
 * DPoP (RFC 9449): the key a refresh token family is bound to (`refresh_tokens.dpop_jkt`, RFC 9449 §5: public and
 * spa clients), the key an authorization code is bound to by the `dpop_jkt` authorization request parameter
 * (`authorization_codes.dpop_jkt`, RFC 9449 §10), both the RFC 7638 SHA-256 thumbprint (base64url) or null; and
 * the replay cache of proof `jti`s (`dpop_proof_jtis`, RFC 9449 §11.1), shared by every node through the
 * database. The per-application requirement (`dpopBoundAccessTokens`) lives in the application's JSON definition,
 * as the other Tessera extensions of an application do, so it needs no column.
 */
export const dpopBindingMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('refresh_tokens').addColumn('dpop_jkt', 'text').execute();
    await db.schema.alterTable('authorization_codes').addColumn('dpop_jkt', 'text').execute();
    await db.schema
      .createTable('dpop_proof_jtis')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
  },
};
