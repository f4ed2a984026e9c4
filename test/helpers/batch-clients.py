"""The clients of test/session-batch.test.ts: batches and rollbacks as the real drivers make them.

    /usr/bin/python3 test/helpers/batch-clients.py   (server in PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE)

Each scenario runs on its own connection with application_name = its name, and reports what the
client saw: wall-clock seconds around the batch (time.time(), the clock tcpdump stamps packets
with), the outcome (tags, SQLSTATE), and at the end which ids are in the table, so the test can
tell what was committed and what was rolled back. Prints one JSON object on stdout.
"""
import asyncio
import json
import os
import time

import asyncpg
import psycopg
import psycopg2
import psycopg2.extras

DSN = 'host=%s port=%s user=%s password=%s dbname=%s' % (
    os.environ['PGHOST'], os.environ['PGPORT'], os.environ['PGUSER'], os.environ['PGPASSWORD'], os.environ['PGDATABASE'])
out = {}


def seen(name, t0, t1, **kw):
    out[name] = dict(start=t0, end=t1, **kw)


def pg2(name):
    c = psycopg2.connect(DSN, application_name=name)
    c.autocommit = True
    return c


def pg3(name):
    return psycopg.connect(DSN, application_name=name, autocommit=True)


setup = pg2('setup')
setup.cursor().execute('DROP TABLE IF EXISTS bt; CREATE TABLE bt (id int PRIMARY KEY)')
setup.close()

# ---- batches: answers that arrive together ----

# psycopg 3 pipeline: three statements, one Sync, one sleeping 0.3 s.
with pg3('pg3-pipeline') as c:
    t0 = time.time()
    with c.pipeline():
        c.execute('SELECT 1')
        c.execute('SELECT pg_sleep(0.3)')
        c.execute('INSERT INTO bt VALUES (1)')
    seen('pg3-pipeline', t0, time.time())

# psycopg 3 executemany: Parse/Bind/Execute per row, one Sync (pipelined by libpq).
with pg3('pg3-executemany') as c:
    t0 = time.time()
    c.cursor().executemany('INSERT INTO bt (id) SELECT %s FROM pg_sleep(0.1)', [(2,), (3,), (4,)])
    seen('pg3-executemany', t0, time.time())

# psycopg 3 pipeline with a Sync after each statement: the answers come one flush each.
with pg3('pg3-syncs') as c:
    t0 = time.time()
    with c.pipeline() as p:
        c.execute('SELECT pg_sleep(0.2)')
        p.sync()
        c.execute('SELECT pg_sleep(0.3)')
        p.sync()
    seen('pg3-syncs', t0, time.time())

# psycopg2 execute_batch: one Query holding three INSERTs.
c = pg2('pg2-execute-batch')
t0 = time.time()
psycopg2.extras.execute_batch(c.cursor(), 'INSERT INTO bt (id) SELECT %s FROM pg_sleep(0.1)', [(5,), (6,), (7,)])
seen('pg2-execute-batch', t0, time.time())
c.close()

# A simple Query "a; b; c".
c = pg2('simple-multi')
t0 = time.time()
cur = c.cursor()
cur.execute('SELECT 1; SELECT pg_sleep(0.2); SELECT 3')
seen('simple-multi', t0, time.time(), last=cur.fetchall())
c.close()

# One statement a Query, each answered on its own.
c = pg2('simple-each')
cur = c.cursor()
t0 = time.time()
for s in (0.2, 0.1):
    cur.execute('SELECT pg_sleep(%s)' % s)
seen('simple-each', t0, time.time())
c.close()


# asyncpg executemany: a named statement, Bind/Execute per row, one Sync.
async def apg():
    c = await asyncpg.connect(host=os.environ['PGHOST'], port=int(os.environ['PGPORT']), user=os.environ['PGUSER'],
                              password=os.environ['PGPASSWORD'], database=os.environ['PGDATABASE'],
                              server_settings={'application_name': 'asyncpg-executemany'})
    t0 = time.time()
    await c.executemany('INSERT INTO bt (id) SELECT $1 FROM pg_sleep(0.1)', [(8,), (9,), (10,)])
    seen('asyncpg-executemany', t0, time.time())
    await c.close()

asyncio.run(apg())

# ---- rollbacks ----

# An error in a multi-statement Query undoes what ran before it (implicit transaction).
c = pg2('rb-simple-implicit')
try:
    c.cursor().execute('INSERT INTO bt VALUES (20); INSERT INTO bt VALUES (21); SELECT 1/0')
except psycopg2.Error as e:
    seen('rb-simple-implicit', 0, 0, sqlstate=e.pgcode)
c.close()

# A pipeline (one Sync) whose last statement fails: the implicit transaction is undone.
with pg3('rb-pipeline') as c:
    try:
        with c.pipeline():
            c.execute('INSERT INTO bt VALUES (30)')
            c.execute('INSERT INTO bt VALUES (31)')
            c.execute('SELECT 1/0')
    except psycopg.Error as e:
        seen('rb-pipeline', 0, 0, sqlstate=e.sqlstate)

# Savepoints: what ran after the savepoint is undone by ROLLBACK TO, the rest is committed.
c = pg2('rb-savepoint')
cur = c.cursor()
for sql in ('BEGIN', 'INSERT INTO bt VALUES (40)', 'SAVEPOINT sp', 'INSERT INTO bt VALUES (41)',
            'SAVEPOINT "Inner"', 'INSERT INTO bt VALUES (42)', 'RELEASE SAVEPOINT "Inner"',
            'ROLLBACK TO SAVEPOINT sp', 'INSERT INTO bt VALUES (43)', 'COMMIT'):
    cur.execute(sql)
seen('rb-savepoint', 0, 0)
c.close()

# An error in a block, then COMMIT (the server answers ROLLBACK): all of it undone.
c = pg2('rb-block-error')
cur = c.cursor()
cur.execute('BEGIN')
cur.execute('INSERT INTO bt VALUES (50)')
try:
    cur.execute('INSERT INTO bt VALUES (50)')
except psycopg2.Error as e:
    seen('rb-block-error', 0, 0, sqlstate=e.pgcode)
cur.execute('COMMIT')
out['rb-block-error']['commitTag'] = cur.statusmessage
c.close()

# ROLLBACK of a block (psycopg2 outside autocommit: BEGIN, then rollback()).
c = psycopg2.connect(DSN, application_name='rb-rollback')
cur = c.cursor()
cur.execute('INSERT INTO bt VALUES (60)')
cur.execute('INSERT INTO bt VALUES (61)')
c.rollback()
cur.execute('INSERT INTO bt VALUES (62)')
c.commit()
seen('rb-rollback', 0, 0)
c.close()

# A savepoint inside a pipeline, rolled back after an error, in one Sync.
with pg3('rb-pipeline-savepoint') as c:
    with c.transaction():
        c.execute('INSERT INTO bt VALUES (70)')
        try:
            with c.transaction():  # SAVEPOINT, ROLLBACK TO SAVEPOINT on error
                c.execute('INSERT INTO bt VALUES (71)')
                c.execute('INSERT INTO bt VALUES (70)')
        except psycopg.errors.UniqueViolation:
            pass
        c.execute('INSERT INTO bt VALUES (72)')
    seen('rb-pipeline-savepoint', 0, 0)

# The connection closed inside a transaction block: the server rolls it back.
c = psycopg2.connect(DSN, application_name='rb-close')
c.cursor().execute('INSERT INTO bt VALUES (80)')
c.close()
seen('rb-close', 0, 0)

c = pg2('check')
cur = c.cursor()
cur.execute('SELECT id FROM bt ORDER BY id')
out['ids'] = [r[0] for r in cur.fetchall()]
c.close()
print(json.dumps(out))
