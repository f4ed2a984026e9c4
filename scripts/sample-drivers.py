"""The Python drivers' side of the driver samples (scripts/sample-drivers.ts runs it with Debian's
/usr/bin/python3, which has python3-psycopg2, python3-psycopg, python3-asyncpg and
python3-sqlalchemy).

    /usr/bin/python3 scripts/sample-drivers.py SCENARIO   (server in PGHOST/PGPORT/PGUSER/...)

Prints one JSON object on stdout: {"connections": [...], "steps": [...]} in the shape of
scripts/sample-manifest.ts. Each step is what the driver put on the wire (SQL text as sent,
protocol, statement name) and what the driver reported back (command tags, rows, values,
SQLSTATE). Where the driver keeps the exact text it sent (psycopg2's cursor.query) that text is
recorded; elsewhere the scenario states the wire form and checks the driver's answer. An answer
that differs from what the scenario expects ends the program with an error: a manifest must not
record a surprise.
"""
import asyncio
import json
import os
import sys

SCENARIO = sys.argv[1]
HOST = os.environ['PGHOST']
PORT = int(os.environ['PGPORT'])
USER = os.environ['PGUSER']
PASSWORD = os.environ['PGPASSWORD']
DATABASE = os.environ['PGDATABASE']

connections = []
steps = []
# Parses of statements the driver described but never executed (asyncpg's introspection)
parsed_only = []


def add_connection(client):
    connections.append({
        'client': client, 'user': USER, 'database': DATABASE, 'applicationName': SCENARIO,
        'auth': 'scram-sha-256', 'clientPort': None, 'loginError': None,
    })
    return len(connections) - 1


def text_value(v):
    """The text the server sent for a value the driver turned into a Python object (only the types
    the scenarios select: int, str, NULL)."""
    if v is None:
        return None
    if isinstance(v, bool):
        raise ValueError('booleans are not listed')
    if isinstance(v, (int, str)):
        return str(v)
    raise ValueError('unlisted type %r' % type(v))


def listed(rows):
    try:
        return [[text_value(v) for v in row] for row in rows]
    except ValueError:
        return None


def expect(cond, what):
    if not cond:
        raise SystemExit('sample-drivers %s: %s' % (SCENARIO, what))


def error_of(e, sqlstate, severity, message):
    return {'sqlstate': sqlstate, 'severity': severity or 'ERROR', 'message': message}


# ---------------------------------------------------------------- psycopg2 (and SQLAlchemy on it)

def psycopg2_recording(index, expected_errors):
    """A psycopg2 connection whose cursors record each Query as psycopg2 sent it: cursor.query is the
    exact text after client-side parameter interpolation. psycopg2 also sends BEGIN before the first
    statement outside autocommit, and COMMIT / ROLLBACK from commit() / rollback() only inside a
    transaction: those are recorded as the Query messages they are."""
    import psycopg2
    import psycopg2.extensions as ext

    def record_plain(conn, sql, tag):
        steps.append({'connection': index, 'protocol': 'simple', 'sql': sql, 'commands': [tag], 'rows': 0})

    class Cursor(ext.cursor):
        # execute_batch sends several statements in one Query: the scenario says their tags
        batch_tags = None

        def execute(self, query, vars=None):
            conn = self.connection
            if not conn.autocommit and conn.info.transaction_status == ext.TRANSACTION_STATUS_IDLE:
                record_plain(conn, 'BEGIN', 'BEGIN')
            step = {'connection': index, 'protocol': 'simple'}
            try:
                super().execute(query, vars)
            except psycopg2.Error as e:
                step['sql'] = self.query.decode('utf8')
                expect(e.pgcode in expected_errors, 'unexpected %s %s from %s' % (e.pgcode, e.pgerror, step['sql']))
                step['error'] = error_of(e, e.pgcode, e.diag.severity, e.diag.message_primary)
                steps.append(step)
                raise
            step['sql'] = self.query.decode('utf8')
            tags = Cursor.batch_tags or [self.statusmessage]
            Cursor.batch_tags = None
            step['commands'] = tags
            if self.description is not None:
                rows = super().fetchall()
                if rows:
                    self.scroll(0, 'absolute')
                step['rows'] = len(rows)
                step['columns'] = [{'name': d.name, 'typeOid': d.type_code, 'format': 'text'} for d in self.description]
                values = listed(rows)
                if values is not None:
                    step['values'] = values
            else:
                step['rows'] = 0
            steps.append(step)

    class Connection(ext.connection):
        def commit(self):
            status = self.info.transaction_status
            super().commit()
            if status == ext.TRANSACTION_STATUS_INTRANS:
                record_plain(self, 'COMMIT', 'COMMIT')
            elif status == ext.TRANSACTION_STATUS_INERROR:
                record_plain(self, 'COMMIT', 'ROLLBACK')

        def rollback(self):
            status = self.info.transaction_status
            super().rollback()
            if status != ext.TRANSACTION_STATUS_IDLE:
                record_plain(self, 'ROLLBACK', 'ROLLBACK')

    def connect():
        return psycopg2.connect(host=HOST, port=PORT, user=USER, password=PASSWORD, dbname=DATABASE,
                                application_name=SCENARIO, sslmode='disable', gssencmode='disable',
                                connection_factory=Connection, cursor_factory=Cursor)

    return connect, Cursor


def run_psycopg2():
    import psycopg2
    from psycopg2.extras import execute_batch
    index = add_connection('psycopg2')
    connect, Cursor = psycopg2_recording(index, {'42P01', '42601', '23505'})
    conn = connect()
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute('CREATE TEMP TABLE drv_items (id int PRIMARY KEY, name text NOT NULL, qty int)')
    cur.execute('INSERT INTO drv_items (id, name, qty) VALUES (%s, %s, %s)', (1, 'apple', 3))
    Cursor.batch_tags = ['INSERT 0 1'] * 3
    execute_batch(cur, 'INSERT INTO drv_items (id, name, qty) VALUES (%s, %s, %s)',
                  [(2, 'pear', None), (3, "plum's", 5), (4, 'fig', 1)])
    cur.execute('SELECT id, name, qty FROM drv_items ORDER BY id')
    expect(len(cur.fetchall()) == 4, 'four rows')
    try:
        cur.execute('SELECT * FROM no_such_table WHERE id = %s', (1,))
        expect(False, 'no 42P01')
    except psycopg2.errors.UndefinedTable:
        pass
    # a transaction that fails and is rolled back, then one that commits
    conn.autocommit = False
    cur.execute('UPDATE drv_items SET qty = qty + %s WHERE id = %s', (10, 1))
    try:
        cur.execute('INSERT INTO drv_items (id, name) VALUES (%s, %s)', (2, 'duplicate'))
        expect(False, 'no 23505')
    except psycopg2.errors.UniqueViolation:
        pass
    conn.rollback()
    cur.execute('UPDATE drv_items SET qty = qty + %s WHERE id = %s', (1, 3))
    try:
        cur.execute('SELEC qty FROM drv_items')
        expect(False, 'no 42601')
    except psycopg2.errors.SyntaxError:
        pass
    conn.rollback()
    cur.execute('DELETE FROM drv_items WHERE id = %s', (4,))
    conn.commit()
    cur.execute('SELECT id, qty FROM drv_items WHERE qty IS NOT NULL ORDER BY id')
    expect([tuple(r) for r in cur.fetchall()] == [(1, 3), (3, 5)], 'rolled-back updates are gone')
    conn.commit()
    conn.close()


def run_sqlalchemy():
    from sqlalchemy import Column, Integer, String, ForeignKey, create_engine, select, text
    from sqlalchemy.exc import ProgrammingError
    from sqlalchemy.orm import Session, declarative_base, relationship
    index = add_connection('sqlalchemy')
    connect, _ = psycopg2_recording(index, {'42P01'})
    # one pooled connection, so every statement is on the one recorded connection
    engine = create_engine('postgresql+psycopg2://', creator=connect, pool_size=1, max_overflow=0,
                           use_native_hstore=False, future=True)
    Base = declarative_base()

    class Author(Base):
        __tablename__ = 'orm_author'
        id = Column(Integer, primary_key=True)
        name = Column(String(40), nullable=False)
        books = relationship('Book', back_populates='author', order_by='Book.id')

    class Book(Base):
        __tablename__ = 'orm_book'
        id = Column(Integer, primary_key=True)
        title = Column(String(80), nullable=False)
        author_id = Column(Integer, ForeignKey('orm_author.id'), nullable=False)
        author = relationship('Author', back_populates='books')

    Base.metadata.create_all(engine)
    with Session(engine) as s:
        a = Author(id=1, name='Ursula')
        b = Author(id=2, name='Stanislaw')
        s.add_all([a, b, Book(id=1, title='The Dispossessed', author=a), Book(id=2, title='Solaris', author=b),
                   Book(id=3, title='The Lathe of Heaven', author=a)])
        s.commit()
    with Session(engine) as s:
        authors = s.execute(select(Author).order_by(Author.id)).scalars().all()
        titles = [[bk.title for bk in au.books] for au in authors]  # lazy loads: one SELECT per author
        expect(titles == [['The Dispossessed', 'The Lathe of Heaven'], ['Solaris']], 'titles %r' % titles)
        authors[1].name = 'Stanislaw Lem'
        s.commit()
    with Session(engine) as s:
        try:
            s.execute(text('SELECT count(*) FROM no_such_table'))
            expect(False, 'no 42P01')
        except ProgrammingError:
            s.rollback()
        n = s.execute(text('SELECT count(*) AS n FROM orm_book')).scalar_one()
        expect(n == 3, 'three books')
    with engine.connect() as c:
        c.execute(text('DROP TABLE orm_book, orm_author'))
        c.commit()
    engine.dispose()


# ---------------------------------------------------------------- psycopg 3

def run_psycopg3():
    import psycopg
    index = add_connection('psycopg')
    conn = psycopg.connect(host=HOST, port=PORT, user=USER, password=PASSWORD, dbname=DATABASE,
                           application_name=SCENARIO, sslmode='disable', gssencmode='disable', autocommit=True)
    cur = conn.cursor()

    def step(sql, protocol='extended', **kw):
        s = {'connection': index, 'protocol': protocol, 'sql': sql}
        s.update(kw)
        steps.append(s)

    def result(cur):
        rows = cur.fetchall() if cur.description else []
        kw = {'commands': [cur.statusmessage], 'rows': len(rows)}
        if cur.description:
            kw['columns'] = [{'name': d.name, 'typeOid': d.type_code, 'format': 'text'} for d in cur.description]
            kw['values'] = listed(rows)
        return kw

    def param(t, v):
        return {'type': t, 'format': 'text', 'value': v}

    def int2(i):
        # psycopg 3 sends a Python int in binary, as the smallest integer type that holds it
        return {'type': 'int2', 'format': 'binary', 'value': '%04x' % i}

    cur.execute('CREATE TEMP TABLE pg3_items (id int PRIMARY KEY, name text NOT NULL)')
    step('CREATE TEMP TABLE pg3_items (id int PRIMARY KEY, name text NOT NULL)', 'simple', **result(cur))
    # executemany: psycopg 3.1 prepares the statement ("_pg3_0") and pipelines the executions
    # (Parse once, Bind/Describe/Execute per row, one Sync at the end)
    rows = [(1, 'one'), (2, 'two'), (3, 'three')]
    cur.executemany('INSERT INTO pg3_items (id, name) VALUES (%s, %s)', rows)
    for k, (i, name) in enumerate(rows):
        step('INSERT INTO pg3_items (id, name) VALUES ($1, $2)', statement='_pg3_0', parse=(k == 0),
             params=[int2(i), param('text', name)], resultFormat='text', commands=['INSERT 0 1'], rows=0)
    # prepare=True: a named statement ("_pg3_1"), Parse with a Sync of its own first, then
    # Bind/Describe/Execute/Sync
    sql = 'SELECT id, name FROM pg3_items WHERE id = $1'
    for k, i in enumerate((2, 3)):
        cur.execute('SELECT id, name FROM pg3_items WHERE id = %s', (i,), prepare=True)
        step(sql, statement='_pg3_1', parse=(k == 0), params=[int2(i)], resultFormat='text', **result(cur))
    # errors at Parse: Parse and Sync answered with ErrorResponse; psycopg 3 sends no Bind
    for bad, state in (('SELECT * FROM no_such_table WHERE id = %s', '42P01'), ('SELEC name FROM pg3_items WHERE id = %s', '42601')):
        try:
            cur.execute(bad, (1,), prepare=True)
            expect(False, 'no %s' % state)
        except psycopg.Error as e:
            expect(e.sqlstate == state, 'got %s' % e.sqlstate)
            step(bad.replace('%s', '$1'), statement='_pg3_%d' % (2 if state == '42P01' else 3), parse=True,
                 params=[], resultFormat='text', error=error_of(e, e.sqlstate, e.diag.severity, e.diag.message_primary))
    # pipeline mode: three statements, one of them slow, one Sync at the end of the block
    with conn.pipeline():
        c1 = conn.execute('SELECT count(*) AS n FROM pg3_items')
        c2 = conn.execute('SELECT pg_sleep(0.1)::text AS slept')
        c3 = conn.execute('UPDATE pg3_items SET name = %s WHERE id = %s', ('TWO', 2))
    step('SELECT count(*) AS n FROM pg3_items', statement='', parse=True, params=[], resultFormat='text', **result(c1))
    step('SELECT pg_sleep(0.1)::text AS slept', statement='', parse=True, params=[], resultFormat='text', **result(c2))
    step('UPDATE pg3_items SET name = $1 WHERE id = $2', statement='', parse=True,
         params=[param('text', 'TWO'), int2(2)], resultFormat='text', **result(c3))
    conn.close()


# ---------------------------------------------------------------- asyncpg

def binary_copy(rows):
    """The binary COPY stream asyncpg sends for (int4, text) records (PostgreSQL's COPY BINARY format)."""
    import struct
    out = bytearray(b'PGCOPY\n\xff\r\n\x00' + struct.pack('>ii', 0, 0))
    for i, name in rows:
        b = name.encode('utf8')
        out += struct.pack('>hii', 2, 4, i) + struct.pack('>i', len(b)) + b
    out += struct.pack('>h', -1)
    return bytes(out)


async def run_asyncpg_async():
    import asyncpg
    import hashlib
    index = add_connection('asyncpg')
    conn = await asyncpg.connect(host=HOST, port=PORT, user=USER, password=PASSWORD, database=DATABASE,
                                 server_settings={'application_name': SCENARIO}, ssl=False)

    def step(sql, protocol='extended', **kw):
        s = {'connection': index, 'protocol': protocol, 'sql': sql}
        s.update(kw)
        steps.append(s)

    def binparam(t, hexv):
        return {'type': t, 'format': 'binary', 'value': hexv}

    tag = await conn.execute('CREATE TEMP TABLE apg_items (id int4 PRIMARY KEY, name text NOT NULL)')
    step('CREATE TEMP TABLE apg_items (id int4 PRIMARY KEY, name text NOT NULL)', 'simple', commands=[tag], rows=0)
    # executemany: one named statement (Parse, Describe statement, Flush), then Bind/Execute per
    # row and one Sync
    rows = [(1, 'one'), (2, 'two'), (3, 'three')]
    await conn.executemany('INSERT INTO apg_items (id, name) VALUES ($1, $2)', rows)
    for k, (i, name) in enumerate(rows):
        step('INSERT INTO apg_items (id, name) VALUES ($1, $2)', statement='__asyncpg_stmt_1__', parse=(k == 0),
             params=[binparam('int4', '%08x' % i), binparam('text', name.encode().hex())], resultFormat='binary',
             commands=['INSERT 0 1'], rows=0)
    # binary COPY: copy_records_to_table prepares an introspection SELECT, then COPY FROM STDIN (FORMAT binary)
    records = [(4, 'four'), (5, 'five')]
    tag = await conn.copy_records_to_table('apg_items', records=records, columns=['id', 'name'])
    expect(tag == 'COPY 2', tag)
    parsed_only.append('SELECT "id", "name" FROM "apg_items" LIMIT 1')
    data = binary_copy(records)
    step('COPY "apg_items"("id", "name") FROM STDIN (FORMAT binary)', 'simple', commands=['COPY 2'], rows=0,
         copy={'direction': 'in', 'format': 'binary', 'rows': 2, 'bytes': len(data), 'md5': hashlib.md5(data).hexdigest()})
    # prepare(): Parse, Describe statement and Flush, then Bind/Execute/Sync per execution
    stmt = await conn.prepare('SELECT id, name FROM apg_items WHERE id = $1')
    for k, i in enumerate((2, 5)):
        r = await stmt.fetch(i)
        expect(len(r) == 1, 'one row')
        step('SELECT id, name FROM apg_items WHERE id = $1', statement='__asyncpg_stmt_3__', parse=(k == 0),
             params=[binparam('int4', '%08x' % i)], resultFormat='binary', commands=['SELECT 1'], rows=1,
             columns=[{'name': 'id', 'typeOid': 23, 'format': 'binary'}, {'name': 'name', 'typeOid': 25, 'format': 'binary'}],
             binaryValues=[['%08x' % i, r[0]['name'].encode().hex()]])
    # errors at Parse: Parse/Describe/Flush answered with ErrorResponse, then asyncpg sends Sync
    for bad, state in (('SELECT * FROM no_such_table WHERE id = $1', '42P01'), ('SELEC name FROM apg_items', '42601')):
        try:
            await conn.prepare(bad)
            expect(False, 'no %s' % state)
        except asyncpg.PostgresError as e:
            expect(e.sqlstate == state, 'got %s' % e.sqlstate)
            step(bad, statement='__asyncpg_stmt_%d__' % (4 if state == '42P01' else 5), parse=True, params=[], error=error_of(e, e.sqlstate, e.severity, e.message))
    await conn.close()


def run_asyncpg():
    asyncio.run(run_asyncpg_async())


{'psycopg2': run_psycopg2, 'sqlalchemy': run_sqlalchemy, 'psycopg3': run_psycopg3, 'asyncpg': run_asyncpg}[SCENARIO]()
json.dump({'connections': connections, 'steps': steps, 'parsedOnly': parsed_only}, sys.stdout)
