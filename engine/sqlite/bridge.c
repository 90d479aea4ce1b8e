#include <string.h>
#include "bridge.h"
#include "_cgo_export.h"

typedef struct sqlite3_api_routines sqlite3_api_routines;
int sqlite3_auto_extension(void (*)(void));
int sqlite3_create_function_v2(sqlite3 *, const char *, int, int, void *,
	void (*)(sqlite3_context *, int, sqlite3_value **),
	void (*)(sqlite3_context *, int, sqlite3_value **),
	void (*)(sqlite3_context *), void (*)(void *));
sqlite3 *sqlite3_context_db_handle(sqlite3_context *);
void sqlite3_result_int64(sqlite3_context *, sqlite3_int64);

#define LB_SQLITE_UTF8 1
#define LB_SQLITE_DIRECTONLY 0x000080000

// lifebelt_connection_handle() returns the sqlite3* of the connection it
// runs on. The Go driver keeps that pointer private; this is how the
// package learns it with nothing but public SQLite API. DIRECTONLY keeps
// it out of triggers and views.
static void lb_handle_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
	(void)argc;
	(void)argv;
	sqlite3_result_int64(ctx, (sqlite3_int64)(intptr_t)sqlite3_context_db_handle(ctx));
}

static int lb_extension_entry(sqlite3 *db, char **err, const sqlite3_api_routines *api) {
	(void)err;
	(void)api;
	return sqlite3_create_function_v2(db, "lifebelt_connection_handle", 0,
		LB_SQLITE_UTF8 | LB_SQLITE_DIRECTONLY, 0, lb_handle_func, 0, 0, 0);
}

int sqlite3_config(int, ...);
#define LB_SQLITE_CONFIG_MEMSTATUS 9

int lb_register_handle_function(void) {
	// Memory statistics make every SQLite allocation take a global mutex;
	// the pre-update hook allocates per row. Nothing in the program reads
	// the statistics. This only works before SQLite initializes, so it is
	// done first; if it fails, SQLite keeps its default.
	sqlite3_config(LB_SQLITE_CONFIG_MEMSTATUS, 0);
	return sqlite3_auto_extension((void (*)(void))lb_extension_entry);
}

sqlite3 *lb_db_from_handle(sqlite3_int64 h) {
	return (sqlite3 *)(intptr_t)h;
}

// The authorizer reports, at prepare time, every table a statement (and
// the triggers it fires) reads or writes, every DDL action and pragma.
static int lb_authorize(void *arg, int code, const char *a1, const char *a2, const char *a3, const char *a4) {
	lb_conn *c = (lb_conn *)arg;
	if (c->collect) {
		lbAuthorize(c->h, code, (char *)a1, (char *)a2, (char *)a3, (char *)a4);
	}
	return LB_SQLITE_OK;
}

lb_conn *lb_conn_new(sqlite3 *db, uintptr_t h) {
	lb_conn *c = calloc(1, sizeof(lb_conn));
	if (!c) {
		return 0;
	}
	c->db = db;
	c->h = h;
	if (sqlite3_set_authorizer(db, lb_authorize, c) != LB_SQLITE_OK) {
		free(c);
		return 0;
	}
	return c;
}

void lb_conn_free(lb_conn *c) {
	if (!c) {
		return;
	}
	free(c->rows);
	free(c->vals);
	free(c->bytes);
	free(c);
}

// lb_prepare prepares the first statement of sql, with the authorizer
// collecting when asked, and reports where the rest of the text starts.
int lb_prepare(lb_conn *c, int collect, const char *sql, int n, sqlite3_stmt **stmt, int *tail) {
	const char *rest = 0;
	int rc;
	c->collect = collect;
	rc = sqlite3_prepare_v3(c->db, sql, n, 0, stmt, &rest);
	c->collect = 0;
	*tail = rest ? (int)(rest - sql) : n;
	return rc;
}

// lb_step steps s and, on a row, reads its first ncol columns into vals
// in the same call, so a row costs one crossing from Go.
int lb_step(sqlite3_stmt *s, int ncol, lb_val *vals) {
	int rc = sqlite3_step(s);
	if (rc != LB_SQLITE_ROW) {
		return rc;
	}
	for (int i = 0; i < ncol; i++) {
		lb_val *v = &vals[i];
		v->type = sqlite3_column_type(s, i);
		switch (v->type) {
		case LB_SQLITE_INTEGER:
			v->i = sqlite3_column_int64(s, i);
			break;
		case LB_SQLITE_FLOAT:
			v->f = sqlite3_column_double(s, i);
			break;
		case LB_SQLITE_TEXT:
			v->p = sqlite3_column_text(s, i);
			v->n = sqlite3_column_bytes(s, i);
			break;
		case LB_SQLITE_BLOB:
			v->p = sqlite3_column_blob(s, i);
			v->n = sqlite3_column_bytes(s, i);
			break;
		}
	}
	return rc;
}

#define LB_SQLITE_TRANSIENT ((void (*)(void *)) - 1)

int lb_bind_text(sqlite3_stmt *s, int i, const char *p, int n) {
	return sqlite3_bind_text64(s, i, n ? p : "", (sqlite3_uint64)n, LB_SQLITE_TRANSIENT, LB_SQLITE_UTF8);
}

int lb_bind_blob(sqlite3_stmt *s, int i, const void *p, int n) {
	// A zero-length blob must stay a blob, not become NULL.
	return sqlite3_bind_blob64(s, i, n ? p : "", (sqlite3_uint64)n, LB_SQLITE_TRANSIENT);
}

// lb_bind_vals binds parameters 1..n from vals in one call. TEXT and BLOB
// bytes are at offset vals[i].i in arena, which SQLite copies.
int lb_bind_vals(sqlite3_stmt *s, int n, const lb_val *vals, const char *arena) {
	for (int i = 0; i < n; i++) {
		const lb_val *v = &vals[i];
		int rc;
		switch (v->type) {
		case LB_SQLITE_INTEGER:
			rc = sqlite3_bind_int64(s, i + 1, v->i);
			break;
		case LB_SQLITE_FLOAT:
			rc = sqlite3_bind_double(s, i + 1, v->f);
			break;
		case LB_SQLITE_TEXT:
			rc = lb_bind_text(s, i + 1, v->n ? arena + v->i : "", v->n);
			break;
		case LB_SQLITE_BLOB:
			rc = lb_bind_blob(s, i + 1, v->n ? arena + v->i : "", v->n);
			break;
		default:
			rc = sqlite3_bind_null(s, i + 1);
		}
		if (rc != LB_SQLITE_OK) {
			return rc;
		}
	}
	return LB_SQLITE_OK;
}
