package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TryDDL rolls its statements back when verify reports a problem, and
// keeps them when verify is content.
func TestTryDDLVerify(t *testing.T) {
	f := newApplyFixture(t, `CREATE TABLE @.t (id int PRIMARY KEY, v int)`)
	ctx := context.Background()
	set := []string{"ALTER TABLE " + quoteQualified(f.s, "t") + " ALTER v SET DEFAULT 7"}
	var saw string
	failed, err := f.x.TryDDL(ctx, set, func(ctx context.Context) (error, error) {
		saw = strings.Join(stringsOf(t, f, `SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = '`+quoteQualified(f.s, "t")+`'::regclass`), ",")
		return errors.New("not the recorded definition"), nil
	})
	if err != nil || failed == nil || !strings.Contains(failed.Error(), "not the recorded definition") {
		t.Fatalf("TryDDL with a failing verify: failed %v, err %v", failed, err)
	}
	if saw != "7" {
		t.Errorf("verify saw the default %q, want 7 (it runs after the statements)", saw)
	}
	if got := stringsOf(t, f, `SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = '`+quoteQualified(f.s, "t")+`'::regclass`); len(got) != 0 {
		t.Errorf("default after the rolled-back revert: %q, want none", got)
	}
	failed, err = f.x.TryDDL(ctx, set, func(context.Context) (error, error) { return nil, nil })
	if err != nil || failed != nil {
		t.Fatalf("TryDDL with a content verify: failed %v, err %v", failed, err)
	}
	if got := stringsOf(t, f, `SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = '`+quoteQualified(f.s, "t")+`'::regclass`); len(got) != 1 || got[0] != "7" {
		t.Errorf("default after the kept revert: %q, want 7", got)
	}
}

func stringsOf(t *testing.T, f *applyFixture, q string) []string {
	t.Helper()
	rows, err := f.tx.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// Internal triggers are reached through ALL, and only where all of them
// are to be in one state; user triggers by name, after ALL.
func TestTriggersDiff(t *testing.T) {
	fk := func(name, enabled string) trigSetting {
		return trigSetting{name: name, enabled: enabled, constraint: "fk", key: "fk " + name}
	}
	user := func(enabled string) trigSetting { return trigSetting{name: "u", enabled: enabled} }
	for _, c := range []struct {
		name     string
		from, to []trigSetting
		made     bool
		want     string
		ok       bool
	}{
		{"nothing", []trigSetting{fk("a", "O"), user("O")}, []trigSetting{fk("a", "O"), user("O")}, false, "", true},
		{"user only", []trigSetting{fk("a", "O"), user("O")}, []trigSetting{fk("a", "O"), user("A")}, false, `ENABLE ALWAYS TRIGGER "u"`, true},
		{"all off", []trigSetting{fk("a", "O"), fk("b", "O"), user("O")}, []trigSetting{fk("a", "D"), fk("b", "D"), user("D")}, false, "DISABLE TRIGGER ALL", true},
		{"all off, user replica", []trigSetting{fk("a", "O"), user("O")}, []trigSetting{fk("a", "D"), user("R")}, false, `DISABLE TRIGGER ALL; ENABLE REPLICA TRIGGER "u"`, true},
		{"made again while off", []trigSetting{fk("a", "D"), user("D")}, []trigSetting{fk("a", "D"), user("D")}, true, "DISABLE TRIGGER ALL", true},
		{"mixed internal", []trigSetting{fk("a", "O"), fk("b", "O")}, []trigSetting{fk("a", "D"), fk("b", "O")}, false, "", false},
		{"internal replica", []trigSetting{fk("a", "O")}, []trigSetting{fk("a", "R")}, false, "", false},
	} {
		made := map[string]bool{"fk": c.made}
		got, ok := triggersDiff(c.from, c.to, made)
		if ok != c.ok || strings.Join(got, "; ") != c.want {
			t.Errorf("%s: %q, %v; want %q, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}
