// pgJDBC's side of the driver samples: run by scripts/sample-drivers.ts in java's single-file mode
//   java -cp /usr/share/java/postgresql.jar scripts/SampleJdbc.java   (server in PGHOST/PGPORT/...)
// Prints {"connections": [...], "steps": [...]} in the shape of scripts/sample-manifest.ts: per
// step the SQL as pgJDBC sends it (? becomes $n), the statement it uses and what the driver
// reported (update counts, rows, SQLSTATE). pgJDBC speaks only the extended protocol. With
// prepareThreshold=1 every statement, a Statement's SQL and BEGIN / COMMIT included, is a named
// server-side statement from its first execution: S_1, S_2, ... from one counter that also names
// portals (C_n); its own SETs after login go through the unnamed statement.
// An answer that differs from what the scenario expects ends the program with an error.
import java.sql.*;
import java.util.*;

public class SampleJdbc {
  static final StringBuilder steps = new StringBuilder();
  static int stepCount = 0;

  static String q(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }

  static void expect(boolean ok, String what) {
    if (!ok) throw new IllegalStateException("SampleJdbc: " + what);
  }

  /** One step; fields is the JSON of everything after sql (without braces). */
  static void step(String sql, String fields) {
    if (stepCount++ > 0) steps.append(',');
    steps.append("{\"connection\":0,\"protocol\":\"extended\",\"sql\":").append(q(sql)).append(',').append(fields).append('}');
  }

  /** setInt: pgJDBC sends an int4 parameter in binary. */
  static String int4(int v) {
    return "{\"type\":\"int4\",\"format\":\"binary\",\"value\":\"" + String.format("%08x", v) + "\"}";
  }

  static String hex(String s) {
    StringBuilder b = new StringBuilder();
    for (byte x : s.getBytes(java.nio.charset.StandardCharsets.UTF_8)) b.append(String.format("%02x", x));
    return b.toString();
  }

  static String textParams(String... typeValue) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < typeValue.length; i += 2) {
      if (i > 0) b.append(',');
      b.append("{\"type\":").append(q(typeValue[i])).append(",\"format\":\"text\",\"value\":").append(q(typeValue[i + 1])).append('}');
    }
    return b.append(']').toString();
  }

  static String error(SQLException e) {
    String msg = e.getMessage();
    if (e instanceof org.postgresql.util.PSQLException && ((org.postgresql.util.PSQLException) e).getServerErrorMessage() != null) {
      org.postgresql.util.ServerErrorMessage m = ((org.postgresql.util.PSQLException) e).getServerErrorMessage();
      return "{\"sqlstate\":" + q(m.getSQLState()) + ",\"severity\":" + q(m.getSeverity()) + ",\"message\":" + q(m.getMessage()) + "}";
    }
    return "{\"sqlstate\":" + q(e.getSQLState()) + ",\"severity\":\"ERROR\",\"message\":" + q(msg) + "}";
  }

  /** Rows of a result set as text values, with its columns (text format: pgJDBC asks for text). */
  static String rows(ResultSet rs, int[] count) throws SQLException {
    ResultSetMetaData md = rs.getMetaData();
    StringBuilder v = new StringBuilder("[");
    int n = 0;
    while (rs.next()) {
      if (n++ > 0) v.append(',');
      v.append('[');
      for (int i = 1; i <= md.getColumnCount(); i++) {
        if (i > 1) v.append(',');
        v.append(q(rs.getString(i)));
      }
      v.append(']');
    }
    count[0] = n;
    return v.append(']').toString();
  }

  static String columns(ResultSetMetaData md, int... oids) throws SQLException {
    StringBuilder b = new StringBuilder("[");
    for (int i = 1; i <= md.getColumnCount(); i++) {
      if (i > 1) b.append(',');
      b.append("{\"name\":").append(q(md.getColumnName(i))).append(",\"typeOid\":").append(oids[i - 1]).append(",\"format\":\"text\"}");
    }
    return b.append(']').toString();
  }

  public static void main(String[] args) throws Exception {
    String env = "jdbc:postgresql://" + System.getenv("PGHOST") + ":" + System.getenv("PGPORT") + "/" + System.getenv("PGDATABASE");
    Properties p = new Properties();
    p.setProperty("user", System.getenv("PGUSER"));
    p.setProperty("password", System.getenv("PGPASSWORD"));
    p.setProperty("ApplicationName", "pgjdbc");
    p.setProperty("sslmode", "disable");
    p.setProperty("gssEncMode", "disable");
    p.setProperty("prepareThreshold", "1");
    try (Connection c = DriverManager.getConnection(env, p)) {
      // what pgJDBC sends after login, before the application's first statement
      step("SET extra_float_digits = 3", "\"statement\":\"\",\"parse\":true,\"params\":[],\"resultFormat\":\"text\",\"commands\":[\"SET\"],\"rows\":0");
      step("SET application_name = 'pgjdbc'", "\"statement\":\"\",\"parse\":true,\"params\":[],\"resultFormat\":\"text\",\"commands\":[\"SET\"],\"rows\":0");
      try (Statement st = c.createStatement()) {
        st.execute("CREATE TEMP TABLE jdbc_items (id int PRIMARY KEY, name text NOT NULL)");
        step("CREATE TEMP TABLE jdbc_items (id int PRIMARY KEY, name text NOT NULL)",
            "\"statement\":\"S_1\",\"parse\":true,\"params\":[],\"resultFormat\":\"text\",\"commands\":[\"CREATE TABLE\"],\"rows\":0");
      }
      // executeBatch: Parse/Describe/Sync of "S_2", then Bind/Describe/Execute per row and one Sync
      String ins = "INSERT INTO jdbc_items (id, name) VALUES ($1, $2)";
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO jdbc_items (id, name) VALUES (?, ?)")) {
        String[] names = {"one", "two", "three", "four"};
        for (int i = 1; i <= 4; i++) {
          ps.setInt(1, i);
          ps.setString(2, names[i - 1]);
          ps.addBatch();
        }
        int[] counts = ps.executeBatch();
        expect(counts.length == 4, "four update counts");
        for (int i = 1; i <= 4; i++) {
          step(ins, "\"statement\":\"S_2\",\"parse\":" + (i == 1) + ",\"params\":" + "[" + int4(i) + "," + textParams("text", names[i - 1]).substring(1)
              + ",\"resultFormat\":\"text\",\"commands\":[\"INSERT 0 1\"],\"rows\":0");
        }
      }
      // a PreparedStatement executed twice: Parse once
      String sel = "SELECT id, name FROM jdbc_items WHERE id = $1";
      try (PreparedStatement ps = c.prepareStatement("SELECT id, name FROM jdbc_items WHERE id = ?")) {
        for (int k = 0; k < 2; k++) {
          int id = k + 2;
          ps.setInt(1, id);
          try (ResultSet rs = ps.executeQuery()) {
            int[] n = {0};
            String cols = columns(rs.getMetaData(), 23, 25);
            String vals = rows(rs, n);
            expect(n[0] == 1, "one row");
            String params = ",\"params\":[" + int4(id) + "]";
            if (k == 0) {
              step(sel, "\"statement\":\"S_3\",\"parse\":true" + params + ",\"resultFormat\":\"text\",\"commands\":[\"SELECT 1\"],\"rows\":1,\"columns\":" + cols + ",\"values\":" + vals);
            } else {
              // Having seen the columns, pgJDBC asks for int4 in binary (its binary transfer of
              // known types) and text in text; no Describe, so no RowDescription comes back.
              String name = vals.substring(vals.indexOf(",\"") + 2, vals.lastIndexOf('"'));
              step(sel, "\"statement\":\"S_3\",\"parse\":false" + params + ",\"resultFormat\":\"binary\",\"commands\":[\"SELECT 1\"],\"rows\":1,"
                  + "\"binaryValues\":[[\"" + String.format("%08x", id) + "\",\"" + hex(name) + "\"]],"
                  + "\"note\":\"result formats: int4 binary, text text; the columns are those of the first execution's RowDescription\"");
            }
          }
        }
      }
      // errors at Parse: the server answers the Parse with ErrorResponse and skips the rest up to Sync
      String[][] bad = {{"SELECT * FROM no_such_table WHERE id = ?", "42P01"}, {"SELEC name FROM jdbc_items WHERE id = ?", "42601"}};
      int sn = 4;
      for (String[] b : bad) {
        try (PreparedStatement ps = c.prepareStatement(b[0])) {
          ps.setInt(1, 1);
          ps.executeQuery();
          expect(false, "no " + b[1]);
        } catch (SQLException e) {
          expect(b[1].equals(e.getSQLState()), "got " + e.getSQLState());
          step(b[0].replace("?", "$1"), "\"statement\":\"S_" + (sn++) + "\",\"parse\":true,\"params\":" + "[" + int4(1) + "]"
              + ",\"resultFormat\":\"text\",\"error\":" + error(e));
        }
      }
      // setFetchSize in a transaction: a named portal fetched three rows per Execute (PortalSuspended)
      c.setAutoCommit(false);
      try (PreparedStatement ps = c.prepareStatement("SELECT id, name FROM jdbc_items ORDER BY id")) {
        ps.setFetchSize(3);
        sn = 7;
        try (ResultSet rs = ps.executeQuery()) {
          int[] n = {0};
          String vals = rows(rs, n);
          expect(n[0] == 4, "four rows, got " + n[0]);
          step("BEGIN", "\"statement\":\"S_6\",\"parse\":true,\"params\":[],\"resultFormat\":\"text\",\"commands\":[\"BEGIN\"],\"rows\":0");
          step("SELECT id, name FROM jdbc_items ORDER BY id", "\"statement\":\"S_" + (sn++) + "\",\"parse\":true,\"params\":[],\"resultFormat\":\"text\","
              + "\"commands\":[],\"rows\":3,\"values\":" + vals.substring(0, vals.lastIndexOf(",[")) + "],\"note\":\"Execute with a limit of 3 rows: PortalSuspended\"");
          step("SELECT id, name FROM jdbc_items ORDER BY id", "\"statement\":\"S_" + (sn - 1) + "\",\"parse\":false,\"params\":[],\"resultFormat\":\"text\","
              + "\"commands\":[\"SELECT 1\"],\"rows\":1,\"values\":[" + vals.substring(vals.lastIndexOf(",[") + 1) + ",\"continues\":true,\"note\":\"the next Execute of the same portal\"");
        }
      }
      c.commit();
      step("COMMIT", "\"statement\":\"S_9\",\"parse\":true,\"params\":[],\"resultFormat\":\"text\",\"commands\":[\"COMMIT\"],\"rows\":0");
    }
    System.out.print("{\"connections\":[{\"client\":\"pgjdbc\",\"user\":" + q(System.getenv("PGUSER")) + ",\"database\":" + q(System.getenv("PGDATABASE"))
        + ",\"applicationName\":\"pgjdbc\",\"auth\":\"scram-sha-256\",\"clientPort\":null,\"loginError\":null}],\"steps\":[" + steps + "]}");
  }
}
