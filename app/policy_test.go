package app

import (
	"errors"
	"strings"
	"testing"
)

func TestPassphrasePolicy(t *testing.T) {
	p := NewPolicy()
	cases := []struct {
		name, pass string
		ok         bool
		reason     string // a word the refusal must contain
	}{
		{"four random words", "violet tugboat harmonica spreadsheet", true, ""},
		{"unicode words", "Zürich Möwe Frühstück Glühbirne", true, ""},
		{"cjk passphrase", "青い象が月で踊る夜の図書館です", true, ""},
		{"128 characters", strings.Repeat("orchard bicycle lighthouse thimble ", 4)[:128], true, ""},
		{"too short", "Tr0ub4dor&3", false, "short"},
		{"11 chars even if random", "x9$Lq2!vZ#p", false, "short"},
		{"common password", "qwertyuiopasdfghjkl", false, "common"},
		{"common with spaces", "Correct Horse Battery Staple", false, "common"},
		{"common plus digits", "iloveyou12345678", false, "common"},
		{"contains user name", "maria loves sunny weekends", false, "name"},
		{"contains practice", "riverside mango umbrella", false, "name"},
		{"repeated", "aaaaaaaaaaaaaaaaaaaa", false, "guess"},
		{"keyboard walk", "1qaz2wsx3edc4rfv", false, ""},
		{"date and word", "september2024!!", false, ""},
		{"control char", "violet tugboat\tharmonica sheet", false, "control"},
		{"over the limit", strings.Repeat("abcdefgh ", 40), false, "long"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := p.Check(c.pass, "Maria Admin", "Riverside Family Practice")
			if c.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !c.ok {
				if !errors.Is(err, ErrPolicy) {
					t.Fatalf("accepted (err %v)", err)
				}
				if c.reason != "" && !strings.Contains(strings.ToLower(err.Error()), c.reason) {
					t.Fatalf("reason %q does not mention %q", err, c.reason)
				}
			}
		})
	}
}

func TestStrengthMeter(t *testing.T) {
	p := NewPolicy()
	weak := p.Measure("password", "Ana", "Clinic")
	strong := p.Measure("violet tugboat harmonica spreadsheet", "Ana", "Clinic")
	if weak.OK || weak.Reason == "" || weak.Score >= strong.Score || !strong.OK || strong.Score < MinStrengthScore {
		t.Fatalf("weak %+v strong %+v", weak, strong)
	}
}

// TestPolicyNamesThePracticeBeforeTheBlocklist: "Riverside2024!" at
// Riverside Family Practice is refused for holding the practice's name
// (what the person can act on), not as "one of the most common
// passwords".
func TestPolicyNamesThePracticeBeforeTheBlocklist(t *testing.T) {
	p := NewPolicy()
	err := p.Check("Riverside2024!", "Dana Whitfield", "Riverside Family Practice")
	if err == nil || !strings.Contains(err.Error(), `practice's name ("riverside")`) {
		t.Fatalf("Riverside2024!: %v", err)
	}
}
