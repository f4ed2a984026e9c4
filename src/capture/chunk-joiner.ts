/**
 * Joins stream chunks only when a reader can use them. Readers keep the unread tail of their
 * buffer and need N more bytes to finish a record; concatenating on every chunk would copy the
 * growing tail again and again (quadratic when a big record arrives in small pipe reads). Here
 * chunks wait in a list until together they complete the record, then are joined once.
 */
export class ChunkJoiner {
  private parts: Buffer[] = [];
  /** Bytes waiting in the list. */
  total = 0;

  add(chunk: Buffer): void {
    this.parts.push(chunk);
    this.total += chunk.length;
  }

  /** `head` followed by every waiting chunk, as one buffer; empties the list. */
  take(head: Buffer | null): Buffer {
    const parts = this.parts;
    let out: Buffer;
    if (head === null || head.length === 0) {
      out = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.total);
    } else {
      parts.unshift(head);
      out = Buffer.concat(parts, this.total + head.length);
    }
    this.parts = [];
    this.total = 0;
    return out;
  }
}
