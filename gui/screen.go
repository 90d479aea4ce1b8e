package gui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"lifebelt/engine"
	"lifebelt/journal"
)

// Screen is the session window: target, SQL editor, review-before-commit
// and the session journal with undo.
type Screen struct {
	win fyne.Window
	cfg Config

	Target   *widget.Entry
	Connect  *widget.Button
	Status   *widget.Label
	SQL      *widget.Entry
	Run      *widget.Button
	Commit   *widget.Button
	Rollback *widget.Button
	UndoOne  *widget.Button
	UndoAll  *widget.Button
	Output   *widget.Label
	Entries  *widget.List

	session  *engine.Session
	pending  *engine.Pending
	entries  []journal.Entry
	selected int64

	// async runs work off the UI goroutine and then done on it; tests
	// replace it with a synchronous version.
	async func(work func(), done func())
}

// NewScreen builds the screen's widgets.
func NewScreen(w fyne.Window, cfg Config) *Screen {
	s := &Screen{win: w, cfg: cfg, selected: -1}
	s.async = func(work func(), done func()) {
		go func() {
			work()
			fyne.Do(done)
		}()
	}
	s.Target = widget.NewEntry()
	s.Target.SetPlaceHolder("sqlite:/path/to/file.db  or  postgres://user@host:5432/db?sslmode=require")
	s.Connect = widget.NewButtonWithIcon("Connect", theme.LoginIcon(), s.connect)
	s.Status = widget.NewLabel("Not connected.")
	// A long journal path must not widen the window past the screen.
	s.Status.Truncation = fyne.TextTruncateEllipsis
	s.SQL = widget.NewMultiLineEntry()
	s.SQL.SetPlaceHolder("SQL to run as one guarded transaction; review the impact before committing.")
	s.SQL.TextStyle = fyne.TextStyle{Monospace: true}
	s.Run = widget.NewButtonWithIcon("Run and review", theme.MediaPlayIcon(), func() { s.execute("") })
	s.Commit = widget.NewButtonWithIcon("Commit", theme.ConfirmIcon(), s.commit)
	s.Commit.Importance = widget.HighImportance
	s.Rollback = widget.NewButtonWithIcon("Roll back", theme.CancelIcon(), s.rollback)
	s.UndoOne = widget.NewButtonWithIcon("Undo selected entry", theme.ContentUndoIcon(), func() { s.undo(false) })
	s.UndoAll = widget.NewButtonWithIcon("Undo whole session", theme.HistoryIcon(), func() { s.undo(true) })
	s.UndoAll.Importance = widget.DangerImportance
	s.Output = widget.NewLabel("")
	s.Output.Wrapping = fyne.TextWrapWord
	s.Output.TextStyle = fyne.TextStyle{Monospace: true}
	s.Entries = widget.NewList(
		func() int { return len(s.entries) },
		func() fyne.CanvasObject { return widget.NewLabel("") },
		func(i widget.ListItemID, o fyne.CanvasObject) {
			e := s.entries[i]
			o.(*widget.Label).SetText(entryLine(e))
		})
	s.Entries.OnSelected = func(i widget.ListItemID) {
		if i < len(s.entries) {
			s.selected = s.entries[i].Seq
			s.showEntry(s.entries[i])
		}
		s.refreshButtons()
	}
	s.refreshButtons()
	return s
}

// Content lays the widgets out.
func (s *Screen) Content() fyne.CanvasObject {
	top := container.NewBorder(nil, nil, widget.NewLabel("Target"), s.Connect, s.Target)
	actions := container.NewHBox(s.Run, s.Commit, s.Rollback)
	editor := container.NewBorder(nil, actions, nil, nil, s.SQL)
	right := container.NewVSplit(editor, container.NewScroll(s.Output))
	right.SetOffset(0.45)
	journalPane := container.NewBorder(widget.NewLabelWithStyle("Session journal", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		container.NewVBox(s.UndoOne, s.UndoAll), nil, nil, s.Entries)
	split := container.NewHSplit(journalPane, right)
	split.SetOffset(0.34)
	return container.NewBorder(container.NewVBox(top, s.Status), nil, nil, nil, split)
}

func entryLine(e journal.Entry) string {
	text := strings.Join(strings.Fields(e.SQL), " ")
	if e.Kind == "outcome" {
		text = fmt.Sprintf("%s %v", e.Status, e.Refs)
	}
	if len(text) > 60 {
		text = text[:57] + "..."
	}
	return fmt.Sprintf("%d  %s  [%s]  %s", e.Seq, e.At.Local().Format("15:04:05"), e.State, text)
}

func (s *Screen) refreshButtons() {
	connected := s.session != nil
	reviewing := s.pending != nil
	setEnabled(s.Run, connected && !reviewing)
	setEnabled(s.Commit, reviewing)
	setEnabled(s.Rollback, reviewing)
	setEnabled(s.UndoOne, connected && !reviewing && s.selected > 0)
	setEnabled(s.UndoAll, connected && !reviewing && s.undoable())
}

// undoable reports whether undoing the whole session would take
// something back (the engine's own choice of entries).
func (s *Screen) undoable() bool {
	if s.session == nil {
		return false
	}
	ok, err := s.session.HasUndoable()
	return ok || err != nil // on an error, let the undo say what is wrong
}

func setEnabled(b *widget.Button, on bool) {
	if on {
		b.Enable()
	} else {
		b.Disable()
	}
}

func (s *Screen) say(format string, args ...any) { s.Output.SetText(fmt.Sprintf(format, args...)) }

// fail shows an error as one sentence in a dialog.
func (s *Screen) fail(err error) {
	s.say("Error: %v", err)
	dialog.ShowError(err, s.win)
}

// Close rolls back a batch under review and closes the session.
func (s *Screen) Close() {
	if s.session != nil {
		s.session.Close()
		s.session = nil
	}
}

func (s *Screen) connect() {
	target := strings.TrimSpace(s.Target.Text)
	if target == "" {
		s.fail(errors.New("enter a target URL first"))
		return
	}
	if s.pending != nil {
		s.fail(errors.New("commit or roll back the batch under review before connecting elsewhere"))
		return
	}
	s.Status.SetText("Connecting…")
	var sess *engine.Session
	var err error
	s.async(func() {
		sess, err = s.cfg.Open(context.Background(), target, s.askPassword)
	}, func() {
		if err != nil {
			s.Status.SetText("Not connected.")
			s.fail(err)
			return
		}
		s.Close()
		s.session = sess
		id := sess.Identity()
		s.Status.SetText(fmt.Sprintf("Connected to %s %s, database %s — journal %s", id.Dialect, id.ServerVersion, id.Database, sess.JournalPath()))
		s.win.SetTitle("Lifebelt — " + sess.Target().String())
		s.reloadJournal()
		s.refreshButtons()
	})
}

// askPassword asks for the server's password; it runs on a background
// goroutine and waits for the dialog. The password is used for this
// connection only and never stored.
func (s *Screen) askPassword() (string, bool) {
	type answer struct {
		pw string
		ok bool
	}
	ch := make(chan answer, 1)
	fyne.Do(func() { s.showPasswordDialog(func(pw string, ok bool) { ch <- answer{pw, ok} }) })
	a := <-ch
	return a.pw, a.ok
}

// showPasswordDialog shows the password dialog (on the UI goroutine) and
// hands the answer to reply.
func (s *Screen) showPasswordDialog(reply func(pw string, ok bool)) {
	pw := widget.NewPasswordEntry()
	dialog.ShowForm("Password for "+strings.TrimSpace(s.Target.Text), "Connect", "Cancel",
		[]*widget.FormItem{widget.NewFormItem("Password", pw)},
		func(ok bool) { reply(pw.Text, ok) }, s.win)
}

func (s *Screen) reloadJournal() {
	if s.session == nil {
		return
	}
	es, err := s.session.Journal().Entries()
	if err != nil {
		s.fail(err)
		return
	}
	s.entries = es
	s.Entries.Refresh()
}

// execute runs the editor's batch and shows its impact for review.
func (s *Screen) execute(confirm string) {
	if s.session == nil {
		return
	}
	text := s.SQL.Text
	var p *engine.Pending
	var err error
	s.Run.Disable()
	s.async(func() {
		p, err = s.session.Execute(context.Background(), text, engine.ExecuteOptions{Confirm: confirm})
	}, func() {
		defer s.refreshButtons()
		s.reloadJournal()
		var ce *engine.ConfirmationError
		if errors.As(err, &ce) {
			s.askConfirmation(ce)
			return
		}
		if err != nil {
			s.fail(err)
			return
		}
		s.pending = p
		s.say("%s\nReview the impact, then Commit or Roll back. The before-images are already in the journal.", describe(p))
	})
}

// askConfirmation asks for the database name before a destructive batch.
func (s *Screen) askConfirmation(ce *engine.ConfirmationError) {
	name := widget.NewEntry()
	name.SetPlaceHolder(ce.Database)
	var destroys strings.Builder
	for _, d := range ce.Destroys {
		destroys.WriteString("• " + d + "\n")
	}
	msg := widget.NewLabel(fmt.Sprintf("Statement %d is destructive: %s on %s.\n%sType the database name %q to run it.",
		ce.Statement.Index+1, ce.What, targetList(ce.Statement), destroys.String(), ce.Database))
	msg.Wrapping = fyne.TextWrapWord
	d := dialog.NewForm("Confirm destructive statement", "Run it", "Cancel",
		[]*widget.FormItem{widget.NewFormItem("", msg), widget.NewFormItem("Database name", name)},
		func(ok bool) {
			if !ok {
				s.say("Cancelled; nothing ran.")
				return
			}
			if name.Text != ce.Database {
				s.fail(fmt.Errorf("the name typed does not match %q; nothing ran", ce.Database))
				return
			}
			s.execute(name.Text)
		}, s.win)
	d.Resize(fyne.NewSize(520, 240))
	d.Show()
}

func targetList(st engine.Statement) string {
	var out []string
	for _, t := range st.Targets {
		out = append(out, t.String())
	}
	return strings.Join(out, ", ")
}

func describe(p *engine.Pending) string {
	var b strings.Builder
	for _, r := range p.Statements {
		fmt.Fprintf(&b, "[%d] %s %s: %d row(s), %d image(s) in %s\n", r.Statement.Index+1, r.Statement.Verb, targetList(r.Statement), r.RowsAffected, r.Images, r.Duration.Round(time.Millisecond/10))
		for _, w := range r.Warnings {
			fmt.Fprintf(&b, "    warning: %s\n", w)
		}
		if r.Statement.Kind == engine.KindRead {
			fmt.Fprintf(&b, "    %s\n", strings.Join(r.Columns, " | "))
			for i, row := range r.Rows {
				if i == 50 {
					fmt.Fprintf(&b, "    …\n")
					break
				}
				fmt.Fprintf(&b, "    %s\n", engine.FormatRow(row))
			}
		}
	}
	for _, t := range p.Impact {
		fmt.Fprintf(&b, "%s: %d inserted, %d updated, %d deleted", t.Table, t.Inserted, t.Updated, t.Deleted)
		if t.Rewritten > 0 {
			fmt.Fprintf(&b, ", %d rewritten by ALTER (imaged)", t.Rewritten)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (s *Screen) commit()   { s.finish(true) }
func (s *Screen) rollback() { s.finish(false) }

func (s *Screen) finish(commit bool) {
	p := s.pending
	if p == nil {
		return
	}
	var err error
	s.async(func() {
		if commit {
			err = p.Commit(context.Background())
		} else {
			err = p.Rollback(context.Background())
		}
	}, func() {
		s.pending = nil
		s.reloadJournal()
		s.refreshButtons()
		if err != nil {
			s.fail(err)
			return
		}
		if commit {
			s.say("Committed batch %d: %d row(s) changed. Undo is one click away in the journal.", p.Batch, p.RowsChanged())
		} else {
			s.say("Rolled back batch %d; nothing changed.", p.Batch)
		}
	})
}

func (s *Screen) undo(all bool) {
	if s.session == nil {
		return
	}
	opt := engine.UndoOptions{}
	what := "the whole session"
	if !all {
		opt.Entries = []int64{s.selected}
		what = fmt.Sprintf("entry %d", s.selected)
	}
	dialog.ShowConfirm("Undo "+what, "Undo "+what+" from the journal? Rows others changed since are listed as conflicts and left alone. If rows would be left referring to rows the undo removes, nothing is undone.", func(ok bool) {
		if !ok {
			return
		}
		var rep *engine.UndoReport
		var err error
		s.async(func() {
			rep, err = s.session.Undo(context.Background(), opt)
		}, func() {
			s.reloadJournal()
			s.refreshButtons()
			var refs *engine.ReferenceError
			if errors.As(err, &refs) {
				dialog.ShowError(errors.New("undo refused, nothing was changed: rows would be left referring to rows that do not exist; they are listed below"), s.win)
				s.say("%s", refusalText(refs))
				return
			}
			if err != nil {
				s.fail(err)
				return
			}
			s.say("%s", undoText(rep))
		})
	}, s.win)
}

// refusalText lists the rows that made undo refuse, one per line.
func refusalText(e *engine.ReferenceError) string {
	var b strings.Builder
	b.WriteString("Undo refused, nothing was changed. Undo the entries that added these rows first, or change them:\n")
	for _, d := range e.Dangling {
		fmt.Fprintf(&b, "refers to nothing: %s\n", d)
	}
	return b.String()
}

func undoText(r *engine.UndoReport) string {
	var b strings.Builder
	if len(r.Entries) == 0 && r.Complete() {
		b.WriteString("Nothing to undo: no committed entry with changes Lifebelt can undo.\n")
	} else {
		fmt.Fprintf(&b, "Undid entries %v: %d row(s) written (journal entry %d).\n", r.Entries, r.Rows, r.Seq)
	}
	if len(r.Partial) > 0 {
		fmt.Fprintf(&b, "Partly undone: entries %v. The conflicts below stay in place; undo again once they are resolved.\n", r.Partial)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	for _, sk := range r.Skipped {
		fmt.Fprintf(&b, "not undone: %s\n", sk)
	}
	for _, c := range r.Conflicts {
		fmt.Fprintf(&b, "conflict: %s\n", c)
	}
	return b.String()
}

func (s *Screen) showEntry(e journal.Entry) {
	var b strings.Builder
	fmt.Fprintf(&b, "Entry %d — %s, %s, batch %d, %d row(s), %d image(s)\n%s\n", e.Seq, e.Kind, e.State, e.Batch, e.Rows, e.ImageCount, e.SQL)
	if e.Error != "" {
		fmt.Fprintf(&b, "error: %s\n", e.Error)
	}
	if s.session != nil {
		j := s.session.Journal()
		if objs, err := j.Objects(e.Seq); err == nil {
			for _, o := range objs {
				b.WriteString("\n" + objectText(o))
			}
		}
		tables := map[int64]journal.Table{}
		if ts, err := j.Tables(e.Seq); err == nil {
			for _, t := range ts {
				tables[t.ID] = t
			}
		}
		n := 0
		j.Images(e.Seq, func(im journal.Image) error {
			if n == 100 {
				b.WriteString("…\n")
				return errors.New("enough")
			}
			n++
			fmt.Fprintf(&b, "%c %s %s\n", im.Op, tables[im.Table].QualifiedName(), diffLine(tables[im.Table], im))
			return nil
		})
	}
	s.Output.SetText(b.String())
}

// objectText shows an object a DDL entry affected: its definitions and,
// for an ALTER, whether and how undo reverts it.
func objectText(o journal.Object) string {
	var b strings.Builder
	name := o.Name
	if o.Schema != "" {
		name = o.Schema + "." + o.Name
	}
	fmt.Fprintf(&b, "%s %s %s\n", strings.ToUpper(o.Action), o.Kind, name)
	for _, d := range []struct {
		label string
		def   *journal.Definition
	}{{"before", o.Before}, {"after", o.After}} {
		if d.def != nil && d.def.Text != "" {
			fmt.Fprintf(&b, "  definition %s:\n    %s\n", d.label, strings.ReplaceAll(strings.TrimSpace(d.def.Text), "\n", "\n    "))
		}
	}
	if o.Action == journal.ActionAlter {
		if o.After != nil && o.After.Revert != nil {
			fmt.Fprintf(&b, "  undo reverts it, while the table has the definition after, with:\n    %s\n", strings.Join(o.After.Revert.Steps(), "\n    "))
		} else {
			b.WriteString("  undo does not revert it automatically\n")
		}
	}
	return b.String()
}

// diffLine shows an image as column changes.
func diffLine(t journal.Table, im journal.Image) string {
	var parts []string
	for i, c := range t.Columns {
		switch {
		case im.Before != nil && im.After != nil:
			if !im.Before[i].Equal(im.After[i]) {
				parts = append(parts, fmt.Sprintf("%s: %s → %s", c.Name, im.Before[i], im.After[i]))
			}
		case im.Before != nil:
			parts = append(parts, fmt.Sprintf("%s=%s", c.Name, im.Before[i]))
		case im.After != nil:
			parts = append(parts, fmt.Sprintf("%s=%s", c.Name, im.After[i]))
		}
	}
	return strings.Join(parts, ", ")
}
