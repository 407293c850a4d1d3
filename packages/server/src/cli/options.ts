/** Parsers of repeatable and structured command-line option values (commander `argParser`s). */
import { InvalidArgumentError } from 'commander';
import { CliError } from './context.js';

/** A repeatable option: every value, in order. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** A repeatable `KEY=VALUE` option (`--pre-authorize APPID=SCOPE`, `--required-scope RESOURCE=SCOPE`). */
export function keyValue(usage: string) {
  return (value: string, previous: { key: string; value: string }[]) => {
    const eq = value.indexOf('=');
    if (eq <= 0 || eq === value.length - 1) throw new InvalidArgumentError(`use ${usage}`);
    return [...previous, { key: value.slice(0, eq), value: value.slice(eq + 1) }];
  };
}

/** Groups `KEY=VALUE` pairs by key, keeping first-seen order. */
export function grouped(
  pairs: readonly { key: string; value: string }[],
): { key: string; values: string[] }[] {
  const groups: { key: string; values: string[] }[] = [];
  for (const { key, value } of pairs) {
    const group = groups.find((g) => g.key === key);
    if (group === undefined) groups.push({ key, values: [value] });
    else if (!group.values.includes(value)) group.values.push(value);
  }
  return groups;
}

/** A repeatable `--redirect-uri PLATFORM=URL` (`web`, `spa` or `public`). */
export function parseRedirectUri(value: string, previous: string[]): string[] {
  if (!/^(web|spa|public)=.+/.test(value))
    throw new InvalidArgumentError('use web=URL, spa=URL or public=URL');
  return [...previous, value];
}

/**
 * A positive whole number given for `flag`.
 *
 * @throws CliError otherwise.
 */
export function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new CliError(`${flag} must be a positive whole number.`);
  return n;
}
