/** frontend = client to server, backend = server to client (the PostgreSQL documentation's words). */
export type Direction = 'frontend' | 'backend';
