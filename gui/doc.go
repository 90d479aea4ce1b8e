// Package gui is Lifebelt's window. It drives the engine and journal APIs
// only; database drivers are linked in by main and reached through the
// engine's registry, so this package never imports one.
package gui
