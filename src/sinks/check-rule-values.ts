/** What a rule's value must be: shared by the rules file's schema and the command-line flags. */

/** What a SQLSTATE looks like, in a rules file and in --allow-sqlstate. */
export const SQLSTATE = /^[0-9A-Z]{5}$/;
export const SQLSTATE_MESSAGE = 'a SQLSTATE is five characters, e.g. 23505';

export function validRegex(s: string): boolean {
  try {
    new RegExp(s, 'i');
    return true;
  } catch {
    return false;
  }
}
