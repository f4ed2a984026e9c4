/**
 * The decoders' internal failure signal. It never leaves dissectors/values: the public entry
 * points (decodeValue, tryDecodeValue) catch it, and any RangeError from a Buffer read, and fall
 * back to the raw bytes. Throwing keeps the valid-input path free of result objects.
 */
export class MalformedValue extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'MalformedValue';
  }
}

export function malformed(reason: string): never {
  throw new MalformedValue(reason);
}

/** Binary values have exact sizes: anything else is malformed, not something to pad or cut. */
export function expectSize(bytes: Buffer, size: number, what: string): void {
  if (bytes.length !== size) malformed(`${what}: expected ${size} bytes, got ${bytes.length}`);
}
