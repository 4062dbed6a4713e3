import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

/**
 * Drives the sink's ClickHouse interface with the official ClickHouse JDBC driver, as a DBeaver-like
 * tool would: connect, read the metadata, list the tables, query, bind a parameter, try a write.
 * Prints one tab-separated line per fact for tests/integration/test_sink_clients.py to check.
 * Usage: java -cp 'LIBS/*' LadleJdbc.java JDBC_URL USER PASSWORD
 */
public class LadleJdbc {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.setProperty("user", args[1]);
        props.setProperty("password", args[2]);
        try (Connection conn = DriverManager.getConnection(args[0], props)) {
            DatabaseMetaData md = conn.getMetaData();
            System.out.println("product\t" + md.getDatabaseProductName() + "\t" + md.getDatabaseProductVersion());
            try (ResultSet rs = md.getTables(null, conn.getSchema(), "%", null)) {
                while (rs.next()) {
                    System.out.println("table\t" + rs.getString("TABLE_SCHEM") + "\t" + rs.getString("TABLE_NAME"));
                }
            }
            try (ResultSet rs = md.getColumns(null, null, "llm_calls", "team")) {
                while (rs.next()) {
                    System.out.println("column\t" + rs.getString("TABLE_NAME") + "\t" + rs.getString("COLUMN_NAME")
                        + "\t" + rs.getString("TYPE_NAME"));
                }
            }
            try (Statement st = conn.createStatement();
                 ResultSet rs = st.executeQuery("SELECT count() FROM llm_calls")) {
                rs.next();
                System.out.println("count\t" + rs.getLong(1));
            }
            try (Statement st = conn.createStatement();
                 ResultSet rs = st.executeQuery(
                     "SELECT team, count() AS calls, sum(cost_usd) AS cost FROM llm_calls GROUP BY team ORDER BY team")) {
                while (rs.next()) {
                    System.out.println("team\t" + rs.getString("team") + "\t" + rs.getLong("calls") + "\t"
                        + rs.getBigDecimal("cost").toPlainString());
                }
            }
            try (PreparedStatement ps = conn.prepareStatement("SELECT count() FROM llm_calls WHERE team = ?")) {
                ps.setString(1, "search");
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    System.out.println("bound\t" + rs.getLong(1));
                }
            }
            try (Statement st = conn.createStatement()) {
                st.executeUpdate("INSERT INTO llm_calls (event_id) VALUES ('from-jdbc')");
                System.out.println("write\taccepted");
            } catch (SQLException e) {
                System.out.println("write\trefused\t" + e.getMessage().replace('\n', ' '));
            }
        }
    }
}
