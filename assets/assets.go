// Package assets holds the files bundled into the binary: the icon and the
// demo database script.
package assets

import (
	_ "embed"
)

// Icon is the application icon (PNG).
//
//go:embed icon.png
var Icon []byte

// DemoSQL builds the demo database the window opens when no target is
// configured.
//
//go:embed demo.sql
var DemoSQL string
