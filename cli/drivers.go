package cli

// The dialects built into the command line and the window.
import (
	_ "lifebelt/engine/postgres"
	_ "lifebelt/engine/sqlite"
)
