// Package engine holds Lifebelt's dialect-neutral session logic: the
// statement model, the dialect contracts (Driver, Conn, Tx and the optional
// capabilities discovered by type assertion), row and object images, the
// guarded-execution protocol that journals before-images ahead of COMMIT,
// and undo planning.
//
// Dialects live in engine/sqlite and engine/postgres and register themselves
// with Register. The engine never imports a database driver or Fyne.
package engine
