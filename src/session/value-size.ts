/**
 * Estimated heap bytes of decoded values (core/budget.ts charges them): kept rows and Bind
 * parameters. An estimate of V8's layout on 64-bit Node.js with pointer compression off: a
 * string 24 bytes and its characters (two bytes each when not Latin-1: counted as two), an
 * array or object 32 bytes and 8 per slot, a number in a slot 16 (a heap number). The walk is
 * iterative (values nest as deep as a capture says) and stops once `limit` is passed, so its
 * cost is bounded by what may still be kept.
 */
import type { PgValue, TypedValue } from '../../dissectors/types.js';

export function valueBytes(v: PgValue, limit = Number.MAX_SAFE_INTEGER): number {
  let total = 0;
  const stack: PgValue[] = [v];
  while (stack.length > 0 && total <= limit) {
    const x = stack.pop()!;
    if (x === null || typeof x === 'boolean') total += 8;
    else if (typeof x === 'number') total += 16;
    else if (typeof x === 'string') total += 24 + 2 * x.length;
    else if (Array.isArray(x)) {
      total += 32 + 8 * x.length;
      for (let i = 0; i < x.length; i++) stack.push(x[i]!);
    } else {
      for (const k in x) {
        total += 40 + 2 * k.length;
        stack.push(x[k]!);
      }
      total += 32;
    }
  }
  return total;
}

/** A row or parameter list: each value's bytes plus its slot (TypedValue wrappers counted as 48). */
export function valuesBytes(values: readonly TypedValue[], limit = Number.MAX_SAFE_INTEGER): number {
  let total = 32 + 8 * values.length;
  for (let i = 0; i < values.length && total <= limit; i++) total += 48 + valueBytes(values[i]!.value, limit - total);
  return total;
}
