package gui

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"lifebelt/assets"
	"lifebelt/engine"
)

// Config is what main hands the window.
type Config struct {
	// DefaultTarget is shown at start and connected to at once: the
	// bundled demo database when nothing else is configured.
	DefaultTarget string
	// Open opens a session (main supplies password handling).
	Open OpenFunc
	// Version is shown in the title and recorded in journals.
	Version string
}

// OpenFunc opens a session on a target URL, asking for a password with
// ask when the server needs one.
type OpenFunc func(ctx context.Context, target string, ask func() (string, bool)) (*engine.Session, error)

// Run opens the main window and blocks until it is closed.
func Run(cfg Config) {
	a := app.NewWithID("io.lifebelt.app")
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	w := a.NewWindow("Lifebelt")
	s := NewScreen(w, cfg)
	w.SetContent(s.Content())
	w.Resize(fyne.NewSize(1200, 760))
	w.SetOnClosed(s.Close)
	if cfg.DefaultTarget != "" {
		s.Target.SetText(cfg.DefaultTarget)
		s.connect()
	}
	w.ShowAndRun()
}
