-- Lifebelt demo database: a small order system to practise guarded changes on.
PRAGMA foreign_keys = ON;
CREATE TABLE customers (
  id      INTEGER PRIMARY KEY,
  name    TEXT NOT NULL,
  email   TEXT UNIQUE,
  country TEXT NOT NULL DEFAULT 'NL',
  created TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE TABLE products (
  sku    TEXT PRIMARY KEY,
  title  TEXT NOT NULL,
  price  REAL NOT NULL CHECK (price >= 0),
  active INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;
CREATE TABLE orders (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  placed      TEXT NOT NULL,
  status      TEXT NOT NULL DEFAULT 'open'
);
CREATE TABLE order_lines (
  order_id INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
  sku      TEXT NOT NULL REFERENCES products(sku),
  qty      INTEGER NOT NULL,
  PRIMARY KEY (order_id, sku)
);
CREATE TABLE audit_log (
  at     TEXT NOT NULL DEFAULT (datetime('now')),
  what   TEXT NOT NULL
);
CREATE INDEX orders_by_customer ON orders (customer_id);
CREATE VIEW open_orders AS
  SELECT o.id, c.name, o.placed FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.status = 'open';
CREATE TRIGGER orders_audit AFTER UPDATE OF status ON orders
BEGIN
  INSERT INTO audit_log (what) VALUES ('order ' || NEW.id || ': ' || OLD.status || ' -> ' || NEW.status);
END;
INSERT INTO customers (id, name, email, country) VALUES
  (1, 'Acme Tools', 'ops@acme.example', 'NL'),
  (2, 'Bolt & Nut BV', 'info@boltnut.example', 'BE'),
  (3, 'Café Ünïcode', NULL, 'DE'),
  (4, 'Dormant Ltd', 'old@dormant.example', 'GB');
INSERT INTO products (sku, title, price) VALUES
  ('HAM-01', 'Claw hammer', 19.95), ('SCR-10', 'Screws, box of 100', 4.5),
  ('DRL-20', 'Cordless drill', 89.0), ('TAP-05', 'Tape measure 5m', 7.25);
INSERT INTO orders (customer_id, placed, status) VALUES
  (1, '2026-10-01', 'shipped'), (1, '2026-11-02', 'open'), (2, '2026-11-10', 'open'),
  (3, '2026-11-12', 'open'), (4, '2024-01-15', 'cancelled');
INSERT INTO order_lines VALUES
  (1, 'HAM-01', 2), (1, 'SCR-10', 5), (2, 'DRL-20', 1), (3, 'TAP-05', 3),
  (3, 'SCR-10', 10), (4, 'HAM-01', 1), (5, 'DRL-20', 2);
