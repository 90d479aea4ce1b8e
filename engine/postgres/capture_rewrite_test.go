package postgres

import (
	"context"
	"strings"
	"testing"

	"lifebelt/engine"
)

// TestRewriteGolden records the statements capture sends for each DML
// shape in testdata/capture_rewrite.golden (go test -update rewrites it),
// so that a change to the rewriting shows up in review.
func TestRewriteGolden(t *testing.T) {
	c, schema := capSession(t)
	capSetup(t, c, `CREATE TABLE `+T+` (id int PRIMARY KEY, v text, n int);
		CREATE TABLE kid (id int PRIMARY KEY, pid int REFERENCES `+T+` ON DELETE CASCADE ON UPDATE CASCADE);
		CREATE TABLE nul (id int PRIMARY KEY, pid int REFERENCES `+T+` ON DELETE SET NULL);
		CREATE TABLE src (id int, v text);
		INSERT INTO `+T+` VALUES (1, 'a', 1), (2, 'b', 2); INSERT INTO kid VALUES (1, 1); INSERT INTO nul VALUES (1, 2);
		INSERT INTO src VALUES (1, 'x');`)
	var b strings.Builder
	ctx := context.Background()
	for _, q := range []string{
		`DELETE FROM ` + T + ` AS t USING src WHERE t.id = src.id AND src.v = 'x'`,
		`WITH s AS (SELECT * FROM src) UPDATE ONLY ` + T + ` SET v = s.v, id = ` + T + `.id + 10 FROM s WHERE ` + T + `.id = s.id`,
		`UPDATE ` + T + ` AS t SET n = n + 1 WHERE t.v = 'b' OR t.id < 0 RETURNING t.id`,
		`INSERT INTO ` + T + ` (id, v) VALUES (3, 'c') RETURNING id`,
		`INSERT INTO ` + T + ` AS t (id, v, n) VALUES (3, 'c', DEFAULT), (4, 'd', 4) ON CONFLICT (id) DO UPDATE SET n = t.n + excluded.n`,
		`INSERT INTO lb_x (id) SELECT 1 ON CONFLICT DO NOTHING`,
	} {
		tx, err := c.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("-- " + q + "\n")
		tx.(*pgTx).trace = func(sql string) {
			switch {
			case strings.HasPrefix(sql, "PREPARE lifebelt_counters_"):
				return // once per session
			case strings.HasPrefix(sql, "EXECUTE lifebelt_counters_"):
				sql = "-- change counters"
			}
			b.WriteString(sql + ";\n")
		}
		sts, err := c.Split(q)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, sts[0], &recSink{}, engine.ExecOptions{}); err != nil {
			b.WriteString("-- error: " + err.Error() + "\n")
		}
		b.WriteString("\n")
		tx.Rollback(ctx)
	}
	compareGolden(t, "capture_rewrite.golden", strings.ReplaceAll(b.String(), quoteIdent(schema), "@schema"))
}
