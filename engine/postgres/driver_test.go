package postgres

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"lifebelt/engine"
)

// capDSN is the test server, from LIFEBELT_TEST_POSTGRES.
func capDSN() string {
	if s := os.Getenv("LIFEBELT_TEST_POSTGRES"); s != "" {
		return s
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// capOpen opens a session on the test server, skipping (or failing under
// CI=true) when it is unreachable.
func capOpen(t testing.TB, dsn string) *conn {
	t.Helper()
	tg, err := engine.ParseTarget(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Driver{}.Open(ctx, tg)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL test server unreachable: %v", err)
		}
		t.Skipf("PostgreSQL test server unreachable (set LIFEBELT_TEST_POSTGRES): %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*conn)
}

// capSchemaName is an adversarial schema name: quotes, a semicolon,
// spaces, unicode and a random suffix.
func capSchemaName() string {
	b := make([]byte, 4)
	rand.Read(b)
	return `lb "cap"; é ` + hex.EncodeToString(b)
}

// capSession opens a session whose search_path is a fresh schema, dropped
// when the test ends.
func capSession(t testing.TB) (*conn, string) {
	t.Helper()
	c := capOpen(t, capDSN())
	schema := capSchemaName()
	ctx := context.Background()
	if _, err := c.pg.Exec(ctx, "CREATE SCHEMA "+quoteIdent(schema)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropSchema(t, schema) })
	if _, err := c.pg.Exec(ctx, "SELECT set_config('search_path', $1, false)", quoteIdent(schema)); err != nil {
		t.Fatal(err)
	}
	return c, schema
}

// dropSchema drops a test schema. A schema with thousands of tables takes
// more locks than one transaction may hold: its tables are then dropped
// 200 at a time first.
func dropSchema(t testing.TB, schema string) {
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, capDSN())
	if err != nil {
		t.Errorf("dropping test schema %s: %v", schema, err)
		return
	}
	defer admin.Close(ctx)
	// A session a test left inside a transaction fails the drop instead of
	// hanging it.
	if _, err := admin.Exec(ctx, "SET lock_timeout = '30s'"); err != nil {
		t.Errorf("dropping test schema %s: %v", schema, err)
		return
	}
	drop := "DROP SCHEMA " + quoteIdent(schema) + " CASCADE"
	var pgErr *pgconn.PgError
	if _, err := admin.Exec(ctx, drop); err == nil {
		return
	} else if !errors.As(err, &pgErr) || pgErr.Code != "53200" {
		t.Errorf("dropping test schema %s: %v", schema, err)
		return
	}
	for round := 0; round < 1000; round++ { // bounded: a relation that cannot be dropped ends it
		rows, err := admin.Query(ctx, `SELECT c.relname FROM pg_catalog.pg_class c
			WHERE c.relnamespace = pg_catalog.to_regnamespace($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') LIMIT 200`, quoteIdent(schema))
		if err != nil {
			t.Errorf("dropping test schema %s: %v", schema, err)
			return
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(names) == 0 {
			break
		}
		q := make([]string, len(names))
		for i, n := range names {
			q[i] = quoteQualified(schema, n)
		}
		if _, err := admin.Exec(ctx, "DROP TABLE IF EXISTS "+strings.Join(q, ", ")+" CASCADE"); err != nil {
			// Views and others: one at a time.
			for _, n := range q {
				admin.Exec(ctx, "DROP TABLE IF EXISTS "+n+" CASCADE")
				admin.Exec(ctx, "DROP VIEW IF EXISTS "+n+" CASCADE")
				admin.Exec(ctx, "DROP MATERIALIZED VIEW IF EXISTS "+n+" CASCADE")
				admin.Exec(ctx, "DROP FOREIGN TABLE IF EXISTS "+n+" CASCADE")
			}
		}
	}
	if _, err := admin.Exec(ctx, drop); err != nil {
		t.Errorf("dropping test schema %s: %v", schema, err)
	}
}

func TestOpenSessionSettings(t *testing.T) {
	c := capOpen(t, capDSN())
	for k, want := range map[string]string{"DateStyle": "ISO, MDY", "IntervalStyle": "postgres", "extra_float_digits": "3",
		"bytea_output": "hex", "client_encoding": "UTF8", "TimeZone": "UTC", "application_name": "lifebelt"} {
		var got string
		if err := c.pg.QueryRow(context.Background(), "SELECT current_setting($1)", k).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestOpenTLSSettings(t *testing.T) {
	capOpen(t, capDSN()) // skips when there is no server
	withParam := func(param string) string {
		base := capDSN()
		if i := strings.Index(base, "?"); i >= 0 {
			base = base[:i]
		}
		return base + "?" + param
	}
	tlsInUse := func(c *conn) bool {
		var ssl bool
		if err := c.pg.QueryRow(context.Background(), "SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)").Scan(&ssl); err != nil {
			t.Fatal(err)
		}
		return ssl
	}

	// An unknown sslmode is rejected before connecting, in one sentence.
	tg, _ := engine.ParseTarget(withParam("sslmode=sometimes"))
	tg.Password = "s3cret-pw"
	_, err := Driver{}.Open(context.Background(), tg)
	if err == nil || !strings.Contains(err.Error(), "sslmode is invalid") || strings.Contains(err.Error(), "s3cret-pw") || strings.Contains(err.Error(), "\n") {
		t.Errorf("invalid sslmode: got %v", err)
	}

	// sslmode=disable is honoured: no TLS.
	if c := capOpen(t, withParam("sslmode=disable")); tlsInUse(c) {
		t.Error("sslmode=disable connected with TLS")
	}

	// sslmode=require either gets TLS or fails; it never silently
	// downgrades to a plain connection.
	var ssl string
	plain, err := pgx.Connect(context.Background(), withParam("sslmode=disable"))
	if err != nil {
		t.Fatal(err)
	}
	plain.QueryRow(context.Background(), "SHOW ssl").Scan(&ssl)
	plain.Close(context.Background())
	tg, _ = engine.ParseTarget(withParam("sslmode=require"))
	c, err := Driver{}.Open(context.Background(), tg)
	switch {
	case ssl == "on" && err != nil:
		t.Errorf("sslmode=require against a TLS server: %v", err)
	case ssl == "on":
		if !tlsInUse(c.(*conn)) {
			t.Error("sslmode=require connected without TLS")
		}
		c.Close()
	case err == nil:
		c.Close()
		t.Error("sslmode=require connected to a server without TLS")
	case !strings.Contains(err.Error(), "cannot connect") || !strings.Contains(err.Error(), "TLS"):
		t.Errorf("sslmode=require against a server without TLS: unclear error %v", err)
	}

	// verify-full with a root certificate that did not sign the server's
	// certificate must fail: the TLS settings are really checked.
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, testRootCA(t), 0o600); err != nil {
		t.Fatal(err)
	}
	tg, _ = engine.ParseTarget(withParam("sslmode=verify-full&sslrootcert=" + ca))
	if c, err := (Driver{}).Open(context.Background(), tg); err == nil {
		c.Close()
		t.Error("sslmode=verify-full accepted a server certificate not signed by sslrootcert")
	} else if !strings.HasPrefix(err.Error(), "postgres: cannot connect to ") || strings.Contains(err.Error(), "\n") {
		t.Errorf("verify-full failure is not one clear sentence: %q", err)
	}
}

// testRootCA is a freshly made self-signed CA that signed nothing the
// server uses.
func testRootCA(t *testing.T) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "lifebelt test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestOpenBadPassword(t *testing.T) {
	capOpen(t, capDSN())
	tg, _ := engine.ParseTarget(capDSN())
	tg.URL.Host = "127.0.0.1:1" // nothing listens there
	tg.Password = "pw-that-must-not-leak"
	_, err := Driver{}.Open(context.Background(), tg)
	if err == nil {
		t.Fatal("connected to a closed port")
	}
	if strings.Contains(err.Error(), "pw-that-must-not-leak") || !strings.HasPrefix(err.Error(), "postgres: cannot connect to ") || strings.Contains(err.Error(), "\n") {
		t.Errorf("connection error: %q", err)
	}
}

func TestIdentity(t *testing.T) {
	c := capOpen(t, capDSN())
	id, err := c.Identity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if id.Dialect != "postgres" || id.ServerVersion == "" || id.Database == "" || id.Extra["server_version_num"] == "" || id.Extra["user"] == "" {
		t.Errorf("incomplete identity %+v", id)
	}
	parts := strings.Split(id.ID, "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		t.Errorf("ID %q is not <system>/<db oid>", id.ID)
	}
	again, err := capOpen(t, capDSN()).Identity(context.Background())
	if err != nil || again.ID != id.ID {
		t.Errorf("ID not stable across sessions: %q vs %q (%v)", id.ID, again.ID, err)
	}
}

func TestTxIDAndStatus(t *testing.T) {
	c := capOpen(t, capDSN())
	ctx := context.Background()
	ids := map[string]string{}
	for _, commit := range []bool{true, false} {
		tx, err := c.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		id, err := tx.(engine.TxIDer).TxID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if commit {
			err, ids[id] = tx.Commit(ctx), "committed"
		} else {
			err, ids[id] = tx.Rollback(ctx), "aborted"
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for id, want := range ids {
		got, err := c.TxStatus(ctx, id)
		if err != nil || got != want {
			t.Errorf("TxStatus(%s) = %q, %v; want %q", id, got, err, want)
		}
	}
	if got, err := c.TxStatus(ctx, "not a number"); err == nil {
		t.Errorf("TxStatus of garbage = %q, want an error", got)
	}
}

func TestSerializationErrorSentence(t *testing.T) {
	c := &conn{target: "x"}
	err := c.wrap("updating", &pgconn.PgError{Code: "40001"})
	if !errors.Is(err, ErrConcurrentChange) || err.Error() != "another session changed the same rows while this batch ran; nothing was changed — run it again" {
		t.Errorf("got %v", err)
	}
}
