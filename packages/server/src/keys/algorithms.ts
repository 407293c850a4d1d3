/** Token signing algorithms; RS256 is the default, ES256 a per-resource option. */
export type SigningAlgorithm = 'RS256' | 'ES256';
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['RS256', 'ES256'];
