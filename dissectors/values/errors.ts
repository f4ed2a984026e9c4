/**
 * The decoders' internal failure signal. It never leaves dissectors/values: the public entry
 * points (decodeValue, tryDecodeValue) catch it, and any RangeError from a Buffer read, and fall
 * back to the raw bytes. Throwing keeps the valid-input path free of result objects.
 *
 * Deliberately not an Error: capturing a stack trace costs tens of microseconds, and a hostile
 * capture can be made of nothing but malformed values.
 */
export class MalformedValue {
  constructor(readonly message: string) {}
}

export function malformed(reason: string): never {
  throw new MalformedValue(reason);
}

/** Binary values have exact sizes: anything else is malformed, not something to pad or cut. */
export function expectSize(bytes: Buffer, size: number, what: string): void {
  if (bytes.length !== size) malformed(`${what}: expected ${size} bytes, got ${bytes.length}`);
}
