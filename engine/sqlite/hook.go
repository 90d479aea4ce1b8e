//go:build sqlite_preupdate_hook

package sqlite

/*
#include "bridge.h"
*/
import "C"

// installPreupdate registers the pre-update hook on the connection. It
// stays installed for the session, gated by lb_conn.active: SQLite decides
// at prepare time whether DELETE without WHERE may use its truncate
// shortcut (which reports no rows), and it does not when a hook is set.
func installPreupdate(c *cconn) error {
	C.lb_install_preupdate(c.p)
	return nil
}

func uninstallPreupdate(c *cconn) {
	C.lb_uninstall_preupdate(c.p)
}
