//go:build !sqlite_preupdate_hook

package sqlite

import "errors"

// Without the build tag the SQLite library is compiled without its
// pre-update hook, so no change could be imaged: refuse to open rather
// than run unguarded.
func installPreupdate(c *cconn) error {
	return errors.New("sqlite: this program was built without the sqlite_preupdate_hook build tag, so it cannot image the rows SQLite changes; rebuild with -tags sqlite_preupdate_hook")
}

func uninstallPreupdate(c *cconn) {}
