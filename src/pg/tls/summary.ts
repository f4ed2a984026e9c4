/**
 * What is known of a connection's TLS, declared once: the decryptor reports it
 * (TlsConnection.info), the pipeline hands it to the session layer, and the session record
 * carries it as `tls` (src/session/schema.ts). Fields the decryptor did not see are null.
 */
import { z } from 'zod';

export const tlsSummarySchema = z.object({
  /** Negotiated version ("TLS 1.3", "TLS 1.2", ...), null before the ServerHello. */
  version: z.string().nullable(),
  /** IANA cipher suite name (or 0xNNNN), null before the ServerHello. */
  cipher: z.string().nullable(),
  sni: z.string().nullable(),
  /** The protocol the server chose (TLS 1.3: only visible once decrypted), else null. */
  alpn: z.string().nullable(),
  /** ALPN protocols the client offered (PostgreSQL 17+ direct TLS offers "postgresql"). */
  alpnOffered: z.array(z.string()).optional(),
  /** Server certificate subject: in clear in TLS 1.2, from the decrypted handshake in 1.3. */
  certSubject: z.string().nullable().optional(),
  /** Payload bytes of protected records each way (raw stream bytes after an unrecoverable gap). */
  encryptedBytes: z.object({ frontend: z.number().int(), backend: z.number().int() }).optional(),
  /** At least one protected record was decrypted. */
  decrypted: z.boolean(),
  /** Why (part of) the session is not decrypted (no key, wrong key, lost bytes), distinct notes joined by "; ". */
  note: z.string().nullable().optional(),
});

export type TlsSummary = z.infer<typeof tlsSummarySchema>;
