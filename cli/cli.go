// Package cli is Lifebelt's headless command line: exec, undo, journal.
// It drives the same engine APIs as the GUI.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/zalando/go-keyring"
	"golang.org/x/term"

	"lifebelt/engine"
)

// Exit codes.
const (
	ExitOK        = 0 // done
	ExitFailed    = 1 // failed; nothing changed
	ExitUsage     = 2 // usage error
	ExitConflicts = 3 // undo left conflicts
)

// Version is the application version recorded in journals.
var Version = "0.1.0"

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// exitError carries a specific exit code.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

// env is what a command may touch.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

const topUsage = `usage:
  lifebelt exec --target URL [--journal FILE] [--reason TEXT] [--confirm DBNAME] [--max-rows N] [--allow-unguarded] (-c SQL | -f FILE)
  lifebelt undo FILE [--entry N]... [--force] [--dry-run] [--script OUT.sql]
  lifebelt journal list [DIR]
  lifebelt journal show FILE [--entry N]
  lifebelt journal verify FILE
  lifebelt journal export FILE --format sql|json [-o OUT]
` + safetyUsage + `
Targets: sqlite:PATH, sqlite:///abs/path, postgres://user@host:port/db?sslmode=...
Passwords: LIFEBELT_PASSWORD, the OS keyring (service "lifebelt"), or a prompt; never a file.
Run without arguments to open the window.`

// Run runs one command and returns its exit code.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	err := dispatch(ctx, e, args)
	return report(stderr, err)
}

func dispatch(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "exec":
		return runExec(ctx, e, rest)
	case "undo":
		return runUndo(ctx, e, rest)
	case "journal":
		return runJournal(ctx, e, rest)
	case "help", "-h", "--help":
		fmt.Fprintln(e.stdout, topUsage)
		return nil
	}
	if h, ok := extraCommands[cmd]; ok {
		return h(ctx, e, rest)
	}
	return usagef("unknown command %q", cmd)
}

// extraCommands lets other files add commands (preflight, snapshot, ...).
var extraCommands = map[string]func(context.Context, *env, []string) error{}

func report(stderr io.Writer, err error) int {
	if err == nil {
		return ExitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "lifebelt: %s\n%s\n", sentence(ue.msg), topUsage)
		return ExitUsage
	}
	var xe exitError
	if errors.As(err, &xe) {
		fmt.Fprintf(stderr, "lifebelt: %s\n", sentence(xe.msg))
		return xe.code
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stderr, topUsage)
		return ExitOK
	}
	msg := err.Error()
	if errors.Is(err, context.Canceled) {
		msg = strings.Replace(msg, context.Canceled.Error(), "interrupted", 1)
	}
	msg = strings.Replace(msg, "allow unguarded execution to run it anyway", "pass --allow-unguarded to run it anyway (journaled as unguarded)", 1)
	fmt.Fprintf(stderr, "lifebelt: %s\n", sentence(msg))
	return ExitFailed
}

func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "?") {
		s += "."
	}
	return s
}

// newFlags makes a flag set whose errors are usage errors.
func newFlags(name string, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses flags interspersed with positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// multi is a repeatable flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, strings.Split(v, ",")...); return nil }

// keyringService is the OS keyring service Lifebelt stores passwords under,
// keyed by the redacted target URL.
const keyringService = "lifebelt"

// withPassword completes a target's password from LIFEBELT_PASSWORD or the
// OS keyring when the URL carries none. A missing keyring (headless
// machines) is not an error: the server may not need a password, and
// openSession asks on a terminal when it does.
func withPassword(t engine.Target) engine.Target {
	if t.Dialect != "postgres" || t.Password != "" {
		return t
	}
	if p := os.Getenv("LIFEBELT_PASSWORD"); p != "" {
		t.Password = p
		return t
	}
	if p, err := keyring.Get(keyringService, t.String()); err == nil {
		t.Password = p
	}
	return t
}

// openSession opens a session, prompting for a password on a terminal when
// the server asks for one.
func openSession(ctx context.Context, e *env, t engine.Target, opt engine.Options) (*engine.Session, error) {
	t = withPassword(t)
	opt.AppVersion = Version
	s, err := engine.Open(ctx, t, opt)
	if err == nil || t.Password != "" || !needsPassword(err) {
		return s, err
	}
	f, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, fmt.Errorf("%v (set LIFEBELT_PASSWORD or run on a terminal to be asked)", err)
	}
	fmt.Fprintf(e.stderr, "Password for %s: ", t.String())
	pw, perr := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(e.stderr)
	if perr != nil {
		return nil, err
	}
	t.Password = string(pw)
	return engine.Open(ctx, t, opt)
}

func needsPassword(err error) bool {
	m := strings.ToLower(err.Error())
	return strings.Contains(m, "password") || strings.Contains(m, "28p01")
}
