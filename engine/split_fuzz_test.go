package engine

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

var syntaxes = []Syntax{SyntaxSQLite, SyntaxPostgres, SyntaxTSQL}

// The seed corpora are committed under testdata/fuzz/FuzzSplit and
// testdata/fuzz/FuzzClassify; plain `go test` runs them. These few seeds
// keep the targets useful should the files go missing.
var fuzzSeeds = []string{
	"select 1; select 2",
	"select $$a;b$$; update t set x = ';' where id = 1",
	"create trigger tr after insert on t begin update u set a = case when 1 then 2 end; end; begin",
	"IF @x = 1 BEGIN UPDATE [t]]] SET a = N'x;y'; END; BEGIN TRAN",
	"with d as (delete from a returning *) select * from d",
}

// FuzzSplit checks, for every syntax, that SplitSQL never panics, that the
// statements it returns lie in order at their offsets without overlapping,
// and that joining them with "; " splits back into the same statements.
func FuzzSplit(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, syn := range syntaxes {
			sts, err := SplitSQL(text, syn)
			if err != nil {
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("%s: error %v is not a *SyntaxError", syn, err)
				}
				if se.Offset < 0 || se.Offset >= len(text) || se.Msg == "" {
					t.Fatalf("%s: error %#v does not point into the text", syn, se)
				}
				continue
			}
			end := 0
			for i, s := range sts {
				switch {
				case s.Index != i:
					t.Fatalf("%s: statement %d has Index %d", syn, i, s.Index)
				case s.Text == "" || strings.Trim(s.Text, " \t\n\r\f\v") != s.Text:
					t.Fatalf("%s: statement %d text %q is empty or untrimmed", syn, i, s.Text)
				case s.Offset < end:
					t.Fatalf("%s: statement %d at %d overlaps the previous one ending at %d", syn, i, s.Offset, end)
				case s.Offset+len(s.Text) > len(text) || text[s.Offset:s.Offset+len(s.Text)] != s.Text:
					t.Fatalf("%s: statement %d %q is not at offset %d", syn, i, s.Text, s.Offset)
				}
				end = s.Offset + len(s.Text)
			}
			joined := strings.Join(splitTexts(sts), "; ")
			again, err := SplitSQL(joined, syn)
			if err != nil {
				t.Fatalf("%s: re-splitting %q: %v", syn, joined, err)
			}
			if !reflect.DeepEqual(splitTexts(again), splitTexts(sts)) {
				t.Fatalf("%s: re-split of %q gives %q, want %q", syn, joined, splitTexts(again), splitTexts(sts))
			}
			for i := range sts {
				if !reflect.DeepEqual(classOfStmt(again[i]), classOfStmt(sts[i])) {
					t.Fatalf("%s: statement %q classified %+v, then %+v after re-splitting", syn, sts[i].Text, classOfStmt(sts[i]), classOfStmt(again[i]))
				}
			}
		}
	})
}

// FuzzClassify checks that classification never panics and that Kind,
// Verb and the other fields agree, for statements as written and wrapped
// in the constructs the classifier looks through.
func FuzzClassify(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, syn := range syntaxes {
			sts, err := SplitSQL(text, syn)
			if err != nil {
				continue
			}
			for _, s := range sts {
				check := func(s Statement) {
					if msg := classConsistent(s); msg != "" {
						t.Fatalf("%s %q: %s (%+v)", syn, s.Text, msg, classOfStmt(s))
					}
				}
				check(s)
				for _, wrap := range []string{"explain analyze %s", "with x as (%s) select 1", "(%s)"} {
					w, err := SplitSQL(strings.Replace(wrap, "%s", s.Text, 1), syn)
					if err == nil && len(w) == 1 {
						check(w[0])
					}
				}
			}
		}
	})
}

// FuzzSplitPostgresParser compares SyntaxPostgres with PostgreSQL's own
// parser on every input the parser accepts. Scripts with BEGIN ATOMIC are
// left out: SplitSQL tracks those bodies with psql's keyword heuristic,
// which the parser can outwit (SELECT 0 END; END takes END as a column
// label).
func FuzzSplitPostgresParser(f *testing.F) {
	for _, s := range pgScripts {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, script string) {
		if strings.ContainsRune(script, 0) || !utf8.ValidString(script) ||
			strings.Contains(strings.ToLower(script), "atomic") {
			return // pg_query takes UTF-8 C strings; see above for ATOMIC
		}
		if msg := diffPostgres(script); msg != "" {
			t.Fatal(msg)
		}
	})
}
