/**
 * Built-in type OIDs, as PostgreSQL's catalog (pg_type.dat) fixes them: name, element type of
 * an array type, array type of an element type. Built-in OIDs are stable across releases, so a
 * sniffer can name a column's type without asking the server.
 *
 * The table holds the base, pseudo, range and multirange types of pg_catalog and their array
 * types, as PostgreSQL 18 lists them (`SELECT oid, typname, typelem, typarray FROM pg_type`,
 * OIDs below 16384; the catalogs' own row types are left out). test/values-server.test.ts
 * checks it against a running server.
 */

/** [oid, typname, element OID (array types only, else 0), array type OID (0 when none)] */
type Entry = readonly [number, string, number, number];

const ENTRIES: readonly Entry[] = [
  [16, 'bool', 0, 1000], [17, 'bytea', 0, 1001], [18, 'char', 0, 1002], [19, 'name', 0, 1003],
  [20, 'int8', 0, 1016], [21, 'int2', 0, 1005], [22, 'int2vector', 21, 1006], [23, 'int4', 0, 1007],
  [24, 'regproc', 0, 1008], [25, 'text', 0, 1009], [26, 'oid', 0, 1028], [27, 'tid', 0, 1010],
  [28, 'xid', 0, 1011], [29, 'cid', 0, 1012], [30, 'oidvector', 26, 1013],
  [32, 'pg_ddl_command', 0, 0], [114, 'json', 0, 199], [142, 'xml', 0, 143], [143, '_xml', 142, 0],
  [194, 'pg_node_tree', 0, 0], [199, '_json', 114, 0], [269, 'table_am_handler', 0, 0],
  [271, '_xid8', 5069, 0], [325, 'index_am_handler', 0, 0], [600, 'point', 0, 1017],
  [601, 'lseg', 0, 1018], [602, 'path', 0, 1019], [603, 'box', 0, 1020], [604, 'polygon', 0, 1027],
  [628, 'line', 0, 629], [629, '_line', 628, 0], [650, 'cidr', 0, 651], [651, '_cidr', 650, 0],
  [700, 'float4', 0, 1021], [701, 'float8', 0, 1022], [705, 'unknown', 0, 0],
  [718, 'circle', 0, 719], [719, '_circle', 718, 0], [774, 'macaddr8', 0, 775],
  [775, '_macaddr8', 774, 0], [790, 'money', 0, 791], [791, '_money', 790, 0],
  [829, 'macaddr', 0, 1040], [869, 'inet', 0, 1041], [1000, '_bool', 16, 0], [1001, '_bytea', 17, 0],
  [1002, '_char', 18, 0], [1003, '_name', 19, 0], [1005, '_int2', 21, 0],
  [1006, '_int2vector', 22, 0], [1007, '_int4', 23, 0], [1008, '_regproc', 24, 0],
  [1009, '_text', 25, 0], [1010, '_tid', 27, 0], [1011, '_xid', 28, 0], [1012, '_cid', 29, 0],
  [1013, '_oidvector', 30, 0], [1014, '_bpchar', 1042, 0], [1015, '_varchar', 1043, 0],
  [1016, '_int8', 20, 0], [1017, '_point', 600, 0], [1018, '_lseg', 601, 0], [1019, '_path', 602, 0],
  [1020, '_box', 603, 0], [1021, '_float4', 700, 0], [1022, '_float8', 701, 0],
  [1027, '_polygon', 604, 0], [1028, '_oid', 26, 0], [1033, 'aclitem', 0, 1034],
  [1034, '_aclitem', 1033, 0], [1040, '_macaddr', 829, 0], [1041, '_inet', 869, 0],
  [1042, 'bpchar', 0, 1014], [1043, 'varchar', 0, 1015], [1082, 'date', 0, 1182],
  [1083, 'time', 0, 1183], [1114, 'timestamp', 0, 1115], [1115, '_timestamp', 1114, 0],
  [1182, '_date', 1082, 0], [1183, '_time', 1083, 0], [1184, 'timestamptz', 0, 1185],
  [1185, '_timestamptz', 1184, 0], [1186, 'interval', 0, 1187], [1187, '_interval', 1186, 0],
  [1231, '_numeric', 1700, 0], [1263, '_cstring', 2275, 0], [1266, 'timetz', 0, 1270],
  [1270, '_timetz', 1266, 0], [1560, 'bit', 0, 1561], [1561, '_bit', 1560, 0],
  [1562, 'varbit', 0, 1563], [1563, '_varbit', 1562, 0], [1700, 'numeric', 0, 1231],
  [1790, 'refcursor', 0, 2201], [2201, '_refcursor', 1790, 0], [2202, 'regprocedure', 0, 2207],
  [2203, 'regoper', 0, 2208], [2204, 'regoperator', 0, 2209], [2205, 'regclass', 0, 2210],
  [2206, 'regtype', 0, 2211], [2207, '_regprocedure', 2202, 0], [2208, '_regoper', 2203, 0],
  [2209, '_regoperator', 2204, 0], [2210, '_regclass', 2205, 0], [2211, '_regtype', 2206, 0],
  [2249, 'record', 0, 2287], [2275, 'cstring', 0, 1263], [2276, 'any', 0, 0],
  [2277, 'anyarray', 0, 0], [2278, 'void', 0, 0], [2279, 'trigger', 0, 0],
  [2280, 'language_handler', 0, 0], [2281, 'internal', 0, 0], [2283, 'anyelement', 0, 0],
  [2287, '_record', 0, 0], [2776, 'anynonarray', 0, 0], [2949, '_txid_snapshot', 2970, 0],
  [2950, 'uuid', 0, 2951], [2951, '_uuid', 2950, 0], [2970, 'txid_snapshot', 0, 2949],
  [3115, 'fdw_handler', 0, 0], [3220, 'pg_lsn', 0, 3221], [3221, '_pg_lsn', 3220, 0],
  [3310, 'tsm_handler', 0, 0], [3361, 'pg_ndistinct', 0, 0], [3402, 'pg_dependencies', 0, 0],
  [3500, 'anyenum', 0, 0], [3614, 'tsvector', 0, 3643], [3615, 'tsquery', 0, 3645],
  [3642, 'gtsvector', 0, 3644], [3643, '_tsvector', 3614, 0], [3644, '_gtsvector', 3642, 0],
  [3645, '_tsquery', 3615, 0], [3734, 'regconfig', 0, 3735], [3735, '_regconfig', 3734, 0],
  [3769, 'regdictionary', 0, 3770], [3770, '_regdictionary', 3769, 0], [3802, 'jsonb', 0, 3807],
  [3807, '_jsonb', 3802, 0], [3831, 'anyrange', 0, 0], [3838, 'event_trigger', 0, 0],
  [3904, 'int4range', 0, 3905], [3905, '_int4range', 3904, 0], [3906, 'numrange', 0, 3907],
  [3907, '_numrange', 3906, 0], [3908, 'tsrange', 0, 3909], [3909, '_tsrange', 3908, 0],
  [3910, 'tstzrange', 0, 3911], [3911, '_tstzrange', 3910, 0], [3912, 'daterange', 0, 3913],
  [3913, '_daterange', 3912, 0], [3926, 'int8range', 0, 3927], [3927, '_int8range', 3926, 0],
  [4072, 'jsonpath', 0, 4073], [4073, '_jsonpath', 4072, 0], [4089, 'regnamespace', 0, 4090],
  [4090, '_regnamespace', 4089, 0], [4096, 'regrole', 0, 4097], [4097, '_regrole', 4096, 0],
  [4191, 'regcollation', 0, 4192], [4192, '_regcollation', 4191, 0],
  [4451, 'int4multirange', 0, 6150], [4532, 'nummultirange', 0, 6151],
  [4533, 'tsmultirange', 0, 6152], [4534, 'tstzmultirange', 0, 6153],
  [4535, 'datemultirange', 0, 6155], [4536, 'int8multirange', 0, 6157],
  [4537, 'anymultirange', 0, 0], [4538, 'anycompatiblemultirange', 0, 0],
  [4600, 'pg_brin_bloom_summary', 0, 0], [4601, 'pg_brin_minmax_multi_summary', 0, 0],
  [5017, 'pg_mcv_list', 0, 0], [5038, 'pg_snapshot', 0, 5039], [5039, '_pg_snapshot', 5038, 0],
  [5069, 'xid8', 0, 271], [5077, 'anycompatible', 0, 0], [5078, 'anycompatiblearray', 0, 0],
  [5079, 'anycompatiblenonarray', 0, 0], [5080, 'anycompatiblerange', 0, 0],
  [6150, '_int4multirange', 4451, 0], [6151, '_nummultirange', 4532, 0],
  [6152, '_tsmultirange', 4533, 0], [6153, '_tstzmultirange', 4534, 0],
  [6155, '_datemultirange', 4535, 0], [6157, '_int8multirange', 4536, 0],
];

interface TypeInfo { name: string; elem: number; array: number }

const BY_OID = new Map<number, TypeInfo>();
const BY_NAME = new Map<string, number>();
for (const [oid, name, elem, array] of ENTRIES) {
  BY_OID.set(oid, { name, elem, array });
  BY_NAME.set(name, oid);
}

/** Built-in type name for an OID (int4, text, _int4 ...), or null when the OID is not built in. */
export function typeName(oid: number): string | null {
  return BY_OID.get(oid)?.name ?? null;
}

/** Element type of a built-in array type (1007 -> 23), or 0 when `oid` is not an array type. */
export function elementOid(oid: number): number {
  return BY_OID.get(oid)?.elem ?? 0;
}

/** Array type of a built-in type (23 -> 1007), or 0 when it has none. */
export function arrayOid(oid: number): number {
  return BY_OID.get(oid)?.array ?? 0;
}

/** OID of a built-in type by its name (int4 -> 23, _text -> 1009), or 0. */
export function typeOid(name: string): number {
  return BY_NAME.get(name) ?? 0;
}

/** Every built-in type in the table, for tests and for tools that list them. */
export function builtinTypes(): ReadonlyArray<{ oid: number; name: string; elem: number; array: number }> {
  return ENTRIES.map(([oid, name, elem, array]) => ({ oid, name, elem, array }));
}

/** The OIDs the decoders switch on. */
export const OID = {
  bool: 16, bytea: 17, char: 18, name: 19, int8: 20, int2: 21, int2vector: 22, int4: 23,
  regproc: 24, text: 25, oid: 26, tid: 27, xid: 28, cid: 29, oidvector: 30, json: 114, xml: 142,
  point: 600, cidr: 650, float4: 700, float8: 701, unknown: 705, macaddr8: 774, macaddr: 829,
  inet: 869, bpchar: 1042, varchar: 1043, date: 1082, time: 1083, timestamp: 1114,
  timestamptz: 1184, interval: 1186, timetz: 1266, bit: 1560, varbit: 1562, numeric: 1700,
  refcursor: 1790, regprocedure: 2202, regoper: 2203, regoperator: 2204, regclass: 2205,
  regtype: 2206, cstring: 2275, uuid: 2950, pg_lsn: 3220, regconfig: 3734, regdictionary: 3769,
  jsonb: 3802, jsonpath: 4072, regnamespace: 4089, regrole: 4096, regcollation: 4191, xid8: 5069,
} as const;
