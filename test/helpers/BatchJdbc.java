// The pgJDBC client of test/session-batch.test.ts (java -cp /usr/share/java/postgresql.jar BatchJdbc.java):
// executeBatch of three INSERTs that each sleep 0.1 s (one Sync), and an autocommit executeBatch whose
// third row fails (duplicate key), which undoes the first two. Prints what the client saw as JSON.
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.util.Properties;

public class BatchJdbc {
  public static void main(String[] args) throws Exception {
    String url = "jdbc:postgresql://" + System.getenv("PGHOST") + ":" + System.getenv("PGPORT") + "/" + System.getenv("PGDATABASE");
    Properties p = new Properties();
    p.setProperty("user", System.getenv("PGUSER"));
    p.setProperty("password", System.getenv("PGPASSWORD"));
    p.setProperty("ApplicationName", "jdbc-batch");
    p.setProperty("sslmode", "disable");
    StringBuilder out = new StringBuilder("{");
    try (Connection c = DriverManager.getConnection(url, p)) {
      c.setAutoCommit(true);
      long t0 = System.currentTimeMillis();
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO bt (id) SELECT ? FROM pg_sleep(0.1)")) {
        for (int id = 90; id <= 92; id++) { ps.setInt(1, id); ps.addBatch(); }
        ps.executeBatch();
      }
      long t1 = System.currentTimeMillis();
      out.append("\"jdbc-batch\":{\"start\":").append(t0 / 1000.0).append(",\"end\":").append(t1 / 1000.0).append("}");
      String state = null;
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO bt (id) VALUES (?)")) {
        for (int id : new int[] { 93, 94, 90 }) { ps.setInt(1, id); ps.addBatch(); }
        ps.executeBatch();
      } catch (BatchUpdateException e) {
        state = e.getNextException() != null ? e.getNextException().getSQLState() : e.getSQLState();
      }
      out.append(",\"jdbc-batch-error\":{\"sqlstate\":\"").append(state).append("\"}");
    }
    System.out.println(out.append("}"));
  }
}
