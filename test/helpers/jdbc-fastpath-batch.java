// pgJDBC against a live server for test/drivers-pgjdbc-live.test.ts, in java's single-file mode:
//   java -cp /usr/share/java/postgresql.jar test/helpers/jdbc-fastpath-batch.java  (server in PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE)
// 1. Large objects through pgJDBC's fast-path API (FunctionCall messages, binary results):
//    lo_creat, lo_open, lowrite, lo_lseek, loread, lo_close.
// 2. executeBatch of BATCH inserts whose first one fails (23505): pgJDBC goes on sending the
//    batch's Bind/Execute after the ErrorResponse has come back, and the server skips them.
// Prints one JSON object: what the client saw.
import java.sql.*;
import org.postgresql.PGConnection;
import org.postgresql.largeobject.LargeObject;
import org.postgresql.largeobject.LargeObjectManager;

public class JdbcFastpathBatch {
  static final int BATCH = 3000;

  static String hex(byte[] b) {
    StringBuilder s = new StringBuilder();
    for (byte x : b) s.append(String.format("%02x", x));
    return s.toString();
  }

  public static void main(String[] args) throws Exception {
    String url = "jdbc:postgresql://" + System.getenv("PGHOST") + ":" + System.getenv("PGPORT") + "/" + System.getenv("PGDATABASE");
    try (Connection c = DriverManager.getConnection(url, System.getenv("PGUSER"), System.getenv("PGPASSWORD"))) {
      c.setAutoCommit(false);
      LargeObjectManager lom = c.unwrap(PGConnection.class).getLargeObjectAPI();
      long oid = lom.createLO(LargeObjectManager.READWRITE);
      LargeObject lo = lom.open(oid, LargeObjectManager.READWRITE);
      // Text-like bytes: asked in binary, they must not be reported as text because they read as text.
      byte[] data = "fast path bytes".getBytes(java.nio.charset.StandardCharsets.UTF_8);
      lo.write(data);
      lo.seek(0);
      byte[] back = lo.read(data.length);
      lo.close();
      c.commit();

      c.setAutoCommit(true);
      try (Statement s = c.createStatement()) {
        s.execute("CREATE TABLE skip_items (id int PRIMARY KEY, name text)");
        s.execute("INSERT INTO skip_items VALUES (1, 'first')");
      }
      int failedAt = -1;
      try (PreparedStatement p = c.prepareStatement("INSERT INTO skip_items VALUES (?, ?)")) {
        for (int i = 1; i <= BATCH; i++) {
          p.setInt(1, i);
          p.setString(2, "name " + i);
          p.addBatch();
        }
        try {
          p.executeBatch();
        } catch (BatchUpdateException e) {
          failedAt = 0;
          SQLException n = e.getNextException();
          System.err.println(n != null ? n.getSQLState() : e.getSQLState());
        }
      }
      System.out.println("{\"oid\":" + oid + ",\"written\":\"" + hex(data) + "\",\"read\":\"" + hex(back) + "\",\"batch\":" + BATCH + ",\"failedAt\":" + failedAt + "}");
    }
  }
}
