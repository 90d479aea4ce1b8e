// bridge.h declares the part of the SQLite C API this package calls
// directly, and the package's own small C helpers.
//
// The SQLite library itself is the amalgamation compiled into
// github.com/mattn/go-sqlite3; its symbols are global, so these
// declarations link against it. They are written out here because the
// driver's header is not on this package's include path.

#ifndef LIFEBELT_SQLITE_BRIDGE_H
#define LIFEBELT_SQLITE_BRIDGE_H

#include <stdint.h>
#include <stdlib.h>

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
typedef struct sqlite3_value sqlite3_value;
typedef struct sqlite3_context sqlite3_context;
typedef long long sqlite3_int64;
typedef unsigned long long sqlite3_uint64;

#define LB_SQLITE_OK 0
#define LB_SQLITE_ROW 100
#define LB_SQLITE_DONE 101
#define LB_SQLITE_INTEGER 1
#define LB_SQLITE_FLOAT 2
#define LB_SQLITE_TEXT 3
#define LB_SQLITE_BLOB 4
#define LB_SQLITE_NULL 5
#define LB_SQLITE_DELETE 9
#define LB_SQLITE_INSERT 18
#define LB_SQLITE_UPDATE 23

int sqlite3_prepare_v3(sqlite3 *, const char *, int, unsigned int, sqlite3_stmt **, const char **);
int sqlite3_step(sqlite3_stmt *);
int sqlite3_keyword_check(const char *, int);
int sqlite3_reset(sqlite3_stmt *);
int sqlite3_finalize(sqlite3_stmt *);
int sqlite3_clear_bindings(sqlite3_stmt *);
int sqlite3_stmt_readonly(sqlite3_stmt *);
int sqlite3_stmt_isexplain(sqlite3_stmt *);
int sqlite3_column_count(sqlite3_stmt *);
const char *sqlite3_column_name(sqlite3_stmt *, int);
int sqlite3_column_type(sqlite3_stmt *, int);
sqlite3_int64 sqlite3_column_int64(sqlite3_stmt *, int);
double sqlite3_column_double(sqlite3_stmt *, int);
const unsigned char *sqlite3_column_text(sqlite3_stmt *, int);
const void *sqlite3_column_blob(sqlite3_stmt *, int);
int sqlite3_column_bytes(sqlite3_stmt *, int);
int sqlite3_bind_null(sqlite3_stmt *, int);
int sqlite3_bind_int64(sqlite3_stmt *, int, sqlite3_int64);
int sqlite3_bind_double(sqlite3_stmt *, int, double);
int sqlite3_bind_text64(sqlite3_stmt *, int, const char *, sqlite3_uint64, void (*)(void *), unsigned char);
int sqlite3_bind_blob64(sqlite3_stmt *, int, const void *, sqlite3_uint64, void (*)(void *));
const char *sqlite3_errmsg(sqlite3 *);
int sqlite3_extended_errcode(sqlite3 *);
void sqlite3_interrupt(sqlite3 *);
sqlite3_int64 sqlite3_changes64(sqlite3 *);
int sqlite3_get_autocommit(sqlite3 *);
int sqlite3_set_authorizer(sqlite3 *, int (*)(void *, int, const char *, const char *, const char *, const char *), void *);

// lb_val is one column value as SQLite reports it. p points into SQLite's
// memory and is valid only until the next call on the statement or until
// the pre-update callback returns; Go copies it at once.
typedef struct lb_val {
	sqlite3_int64 i;
	double f;
	const void *p;
	int n;
	int type; // SQLITE_INTEGER..SQLITE_NULL, or -1 when SQLite had no value
} lb_val;

// lb_row is one row change buffered by the pre-update hook. Its values
// are vals[old .. old+ncol) and vals[nw .. nw+ncol) (-1 when absent); the
// bytes of TEXT and BLOB values and the "db\0table" name live in the
// connection's byte arena, at the offset kept in lb_val.i.
int lb_bind_vals(sqlite3_stmt *s, int n, const lb_val *vals, const char *arena);

typedef struct lb_row {
	int op, depth, ncol;
	int name;
	int old, nw;
} lb_row;

// lb_conn is the C side of one pinned connection: the authorizer and the
// pre-update hook are installed once and gated by flags, so statements the
// package runs for itself (and undo) cost one early return each.
typedef struct lb_conn {
	sqlite3 *db;
	uintptr_t h;  // cgo.Handle of the Go connection state
	int collect;  // authorizer forwards events to Go while set
	int active;   // pre-update hook buffers rows while set
	int failed;   // set by Go to stop buffering after an error
	int utf8;     // the database encoding is UTF-8: read TEXT raw
	// The batch of buffered row changes, handed to Go when full and
	// after each sqlite3_step.
	lb_row *rows;
	int nrows, caprows;
	lb_val *vals;
	int nvals, capvals;
	char *bytes;
	int nbytes, capbytes;
	const char *lastdb, *lasttab; // name of the last row, at lastname
	int lastname;
} lb_conn;

lb_conn *lb_conn_new(sqlite3 *db, uintptr_t h);
void lb_conn_free(lb_conn *c);
int lb_register_handle_function(void);
int lb_prepare(lb_conn *c, int collect, const char *sql, int n, sqlite3_stmt **stmt, int *tail);
int lb_step(sqlite3_stmt *s, int ncol, lb_val *vals);
int lb_bind_text(sqlite3_stmt *s, int i, const char *p, int n);
int lb_bind_blob(sqlite3_stmt *s, int i, const void *p, int n);
sqlite3 *lb_db_from_handle(sqlite3_int64 h);

// Defined only with the sqlite_preupdate_hook build tag.
int lb_install_preupdate(lb_conn *c);
void lb_uninstall_preupdate(lb_conn *c);

#endif
