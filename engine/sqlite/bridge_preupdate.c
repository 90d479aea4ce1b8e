//go:build sqlite_preupdate_hook

#include <string.h>
#include "bridge.h"
#include "_cgo_export.h"

void *sqlite3_preupdate_hook(sqlite3 *,
	void (*)(void *, sqlite3 *, int, const char *, const char *, sqlite3_int64, sqlite3_int64), void *);
int sqlite3_preupdate_old(sqlite3 *, int, sqlite3_value **);
int sqlite3_preupdate_new(sqlite3 *, int, sqlite3_value **);
int sqlite3_preupdate_count(sqlite3 *);
int sqlite3_preupdate_depth(sqlite3 *);
int sqlite3_value_type(sqlite3_value *);
sqlite3_int64 sqlite3_value_int64(sqlite3_value *);
double sqlite3_value_double(sqlite3_value *);
const unsigned char *sqlite3_value_text(sqlite3_value *);
const void *sqlite3_value_blob(sqlite3_value *);
int sqlite3_value_bytes(sqlite3_value *);

// A batch is handed to Go when it holds this many rows or bytes: one
// crossing into Go per batch instead of per row.
#define LB_BATCH_ROWS 1024
#define LB_BATCH_BYTES (1 << 20)

static int lb_grow(void **p, int *cap, int need, int size) {
	if (need <= *cap) {
		return 1;
	}
	int n = *cap ? *cap : 64;
	while (n < need) {
		n *= 2;
	}
	void *q = realloc(*p, (size_t)n * size);
	if (!q) {
		return 0;
	}
	*p = q;
	*cap = n;
	return 1;
}

// lb_copy appends n bytes to the arena and returns their offset, or -1.
static int lb_copy(lb_conn *c, const void *p, int n) {
	if (!lb_grow((void **)&c->bytes, &c->capbytes, c->nbytes + n, 1)) {
		return -1;
	}
	int off = c->nbytes;
	if (n) {
		memcpy(c->bytes + off, p, n);
	}
	c->nbytes += n;
	return off;
}

static int lb_fill(lb_conn *c, sqlite3 *db, int isnew, int n) {
	lb_val *vals = c->vals + c->nvals;
	for (int i = 0; i < n; i++) {
		sqlite3_value *v = 0;
		lb_val *o = &vals[i];
		int rc = isnew ? sqlite3_preupdate_new(db, i, &v) : sqlite3_preupdate_old(db, i, &v);
		if (rc != LB_SQLITE_OK || !v) {
			o->type = -1; // VIRTUAL generated columns have no stored value
			continue;
		}
		o->type = sqlite3_value_type(v);
		switch (o->type) {
		case LB_SQLITE_INTEGER:
			o->i = sqlite3_value_int64(v);
			break;
		case LB_SQLITE_FLOAT:
			o->f = sqlite3_value_double(v);
			break;
		case LB_SQLITE_TEXT:
		case LB_SQLITE_BLOB: {
			// In a UTF-8 database the raw bytes of TEXT are its text;
			// sqlite3_value_text would first append a terminator.
			const void *p = (o->type == LB_SQLITE_BLOB || c->utf8) ? sqlite3_value_blob(v) : (const void *)sqlite3_value_text(v);
			o->n = sqlite3_value_bytes(v);
			o->i = lb_copy(c, p, o->n);
			if (o->i < 0) {
				return 0;
			}
			break;
		}
		}
	}
	c->nvals += n;
	return 1;
}

static void lb_oom(lb_conn *c, sqlite3 *db) {
	c->failed = 1;
	lbPreupdateOOM(c->h);
	sqlite3_interrupt(db);
}

// lb_preupdate runs inside sqlite3_step for every row change. It copies
// the old and new values into the batch; Go must not run SQL on this
// connection while it handles a batch.
static void lb_preupdate(void *arg, sqlite3 *db, int op, const char *zdb, const char *ztab,
	sqlite3_int64 k1, sqlite3_int64 k2) {
	lb_conn *c = (lb_conn *)arg;
	(void)k1;
	(void)k2;
	if (!c->active || c->failed) {
		return;
	}
	int n = sqlite3_preupdate_count(db);
	if (c->nrows >= LB_BATCH_ROWS || c->nbytes >= LB_BATCH_BYTES) {
		lbPreupdateBatch(c->h, 1);
		if (c->failed) {
			return;
		}
	}
	if (!lb_grow((void **)&c->rows, &c->caprows, c->nrows + 1, sizeof(lb_row)) ||
		!lb_grow((void **)&c->vals, &c->capvals, c->nvals + 2 * n, sizeof(lb_val))) {
		lb_oom(c, db);
		return;
	}
	lb_row *r = &c->rows[c->nrows];
	r->op = op;
	r->depth = sqlite3_preupdate_depth(db);
	r->ncol = n;
	r->old = -1;
	r->nw = -1;
	if (zdb != c->lastdb || ztab != c->lasttab) {
		// Copied: a dropped table's name is freed before Go sees it.
		int a = lb_copy(c, zdb, (int)strlen(zdb) + 1);
		int b = lb_copy(c, ztab, (int)strlen(ztab) + 1);
		if (a < 0 || b < 0) {
			lb_oom(c, db);
			return;
		}
		c->lastdb = zdb;
		c->lasttab = ztab;
		c->lastname = a;
	}
	r->name = c->lastname;
	if (op != LB_SQLITE_INSERT) {
		r->old = c->nvals;
		if (!lb_fill(c, db, 0, n)) {
			lb_oom(c, db);
			return;
		}
	}
	if (op != LB_SQLITE_DELETE) {
		r->nw = c->nvals;
		if (!lb_fill(c, db, 1, n)) {
			lb_oom(c, db);
			return;
		}
	}
	c->nrows++;
}

int lb_install_preupdate(lb_conn *c) {
	sqlite3_preupdate_hook(c->db, lb_preupdate, c);
	return LB_SQLITE_OK;
}

void lb_uninstall_preupdate(lb_conn *c) {
	sqlite3_preupdate_hook(c->db, 0, 0);
}
