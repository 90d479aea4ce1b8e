// Command lifebelt keeps a DBA's ad-hoc changes safe and reviewable. With
// arguments it runs the headless command line; without, it opens the window
// on the target in LIFEBELT_TARGET, or on the bundled demo database.
package main

import (
	"fmt"
	"os"

	"lifebelt/cli"
	"lifebelt/engine"
	"lifebelt/gui"
)

func main() {
	engine.TuneGC()
	if len(os.Args) > 1 {
		os.Exit(cli.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	target, err := cli.DemoTarget()
	if err != nil {
		fmt.Fprintf(os.Stderr, "lifebelt: %v\n", err)
	}
	gui.Run(gui.Config{DefaultTarget: target, Open: cli.OpenForGUI, Version: cli.Version})
}
